// How often the sweep runs and how much it says: the jittered interval, the
// Events' token bucket, and the set of Pods already reported. Pure: time and
// randomness come in as arguments.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace irsa::sweep {

// `interval` scaled by a factor drawn from [1 - jitter, 1 + jitter] with
// `random01` in [0, 1): replicas started together drift apart instead of
// listing every Pod at the same moment.
std::chrono::milliseconds jittered(std::chrono::milliseconds interval, double jitter,
                                   double random01);

// The first sweep: after a delay drawn from [0, min(interval, cap)) so that
// a rollout of the webhook does not list every Pod at once, yet the first
// report comes soon.
std::chrono::milliseconds first_delay(std::chrono::milliseconds interval,
                                      std::chrono::milliseconds cap, double random01);

// At most `per_second` tokens a second on average, `burst` at once.
class TokenBucket {
 public:
  TokenBucket(double per_second, double burst, std::chrono::steady_clock::time_point now);
  // Takes one token when there is one.
  bool take(std::chrono::steady_clock::time_point now);
  // How long until take() can succeed (0 when it can now).
  std::chrono::steady_clock::duration wait(std::chrono::steady_clock::time_point now) const;

 private:
  void refill(std::chrono::steady_clock::time_point now);
  double per_second_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point updated_;
};

// The Pods (by UID) that got their Event and still miss their identity.
// A sweep marks each missed Pod it sees; at the end of a completed sweep the
// Pods not seen (gone, replaced, or fixed) are forgotten. Bounded: beyond
// `capacity` no Pod is added (and gets no Event) until some are forgotten.
class ReportedPods {
 public:
  explicit ReportedPods(std::size_t capacity) : capacity_(capacity) {}

  void begin_sweep() { ++generation_; }
  // Marks a missed Pod seen in this sweep; true when it was reported before.
  bool seen(std::string_view uid);
  // Records that the Pod got its Event; false when the set is full.
  bool add(std::string_view uid);
  bool full() const { return entries_.size() >= capacity_; }
  // Forgets every Pod not seen since begin_sweep(); returns how many.
  std::size_t end_sweep();
  std::size_t size() const { return entries_.size(); }

 private:
  std::size_t capacity_;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, std::uint64_t> entries_;
};

}  // namespace irsa::sweep
