// The sweep's pacing: interval jitter, the Events' token bucket, the
// reported Pods.
#include "sweep/pacing.h"

#include <algorithm>
#include <cmath>

namespace irsa::sweep {

std::chrono::milliseconds jittered(std::chrono::milliseconds interval, double jitter,
                                   double random01) {
  jitter = std::clamp(jitter, 0.0, 1.0);
  random01 = std::clamp(random01, 0.0, 1.0);
  const double factor = 1.0 - jitter + 2.0 * jitter * random01;
  return std::chrono::milliseconds(std::llround(static_cast<double>(interval.count()) * factor));
}

std::chrono::milliseconds first_delay(std::chrono::milliseconds interval,
                                      std::chrono::milliseconds cap, double random01) {
  random01 = std::clamp(random01, 0.0, 1.0);
  const auto bound = std::min(interval, cap);
  auto delay = std::chrono::milliseconds(
      static_cast<std::int64_t>(std::floor(static_cast<double>(bound.count()) * random01)));
  return std::min(delay,
                  std::max(bound - std::chrono::milliseconds(1), std::chrono::milliseconds(0)));
}

TokenBucket::TokenBucket(double per_second, double burst, std::chrono::steady_clock::time_point now)
    : per_second_(std::max(per_second, 1e-9)),
      burst_(std::max(burst, 1.0)),
      tokens_(burst_),
      updated_(now) {}

void TokenBucket::refill(std::chrono::steady_clock::time_point now) {
  if (now <= updated_) return;
  const double elapsed = std::chrono::duration<double>(now - updated_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
  updated_ = now;
}

bool TokenBucket::take(std::chrono::steady_clock::time_point now) {
  refill(now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

std::chrono::steady_clock::duration TokenBucket::wait(
    std::chrono::steady_clock::time_point now) const {
  double tokens = tokens_;
  if (now > updated_) {
    tokens = std::min(burst_,
                      tokens + std::chrono::duration<double>(now - updated_).count() * per_second_);
  }
  if (tokens >= 1.0) return std::chrono::steady_clock::duration::zero();
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>((1.0 - tokens) / per_second_));
}

bool ReportedPods::seen(std::string_view uid) {
  auto it = entries_.find(std::string(uid));
  if (it == entries_.end()) return false;
  it->second = generation_;
  return true;
}

bool ReportedPods::add(std::string_view uid) {
  if (auto it = entries_.find(std::string(uid)); it != entries_.end()) {
    it->second = generation_;
    return true;
  }
  if (full()) return false;
  entries_.emplace(std::string(uid), generation_);
  return true;
}

std::size_t ReportedPods::end_sweep() {
  std::size_t forgotten = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second != generation_) {
      it = entries_.erase(it);
      ++forgotten;
    } else {
      ++it;
    }
  }
  return forgotten;
}

}  // namespace irsa::sweep
