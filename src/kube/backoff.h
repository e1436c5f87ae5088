// Capped exponential backoff with jitter, for reconnecting to the API server
// without hammering it or spinning while it is down.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace irsa::kube {

struct BackoffOptions {
  std::chrono::milliseconds initial{800};  // client-go's reflector: 800 ms
  std::chrono::milliseconds max{30000};    // client-go's reflector: 30 s
  double factor = 2.0;
  // The delay is drawn uniformly from [d * (1 - jitter), d]; 0 disables it.
  double jitter = 0.5;
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options, std::uint64_t seed = std::random_device{}());

  // The delay before the next attempt after one more failure.
  std::chrono::milliseconds next();
  // After a success: the next failure waits `initial` again.
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  BackoffOptions options_;
  int failures_ = 0;
  std::mt19937_64 random_;
};

}  // namespace irsa::kube
