// UTC timestamps as RFC 3339 text ("2026-12-07T03:11:00Z", or with
// microseconds "2026-12-07T03:11:00.324289Z"): the log lines, certificate
// expiries in messages and the sweep's Events all write them this way.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

namespace irsa {

// Whole seconds since the epoch.
inline std::string utc_seconds(int64_t seconds) {
  const auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// With microseconds.
inline std::string utc_micros(std::chrono::system_clock::time_point at) {
  const auto since = at.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since - seconds);
  const auto time = static_cast<std::time_t>(seconds.count());
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[48];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  std::snprintf(text + length, sizeof text - length, ".%06lldZ",
                static_cast<long long>(micros.count()));
  return text;
}

}  // namespace irsa
