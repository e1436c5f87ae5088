// Backoff delays: initial * factor^failures, capped, then jittered downwards
// so that many webhooks restarting together do not reconnect in step.
#include "kube/backoff.h"

#include <algorithm>
#include <cmath>

namespace irsa::kube {

Backoff::Backoff(BackoffOptions options, std::uint64_t seed) : options_(options), random_(seed) {}

std::chrono::milliseconds Backoff::next() {
  const double initial = static_cast<double>(std::max<int64_t>(options_.initial.count(), 1));
  const double cap = static_cast<double>(std::max(options_.max.count(), options_.initial.count()));
  double delay = initial * std::pow(std::max(options_.factor, 1.0), std::min(failures_, 62));
  delay = std::min(delay, cap);
  failures_ = std::min(failures_ + 1, 1000);
  double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  if (jitter > 0) {
    std::uniform_real_distribution<double> spread(1.0 - jitter, 1.0);
    delay *= spread(random_);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(delay, 1.0)));
}

}  // namespace irsa::kube
