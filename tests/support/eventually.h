// Bounded polling for tests: no fixed sleeps, a bound in time and in count.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace irsa::test_support {

// Polls `done` every 5 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 100000; ++i) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace irsa::test_support
