// JWT NumericDate (seconds since the Unix epoch, UTC) to and from RFC 3339
// text, without the process's time zone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace irsa::oidc {

// Parses RFC 3339 date-time: "2024-05-01T12:00:00Z", with optional
// fractional seconds (truncated) and a "+HH:MM"/"-HH:MM" offset; 't' and 'z'
// are accepted as in the RFC. Years 1970..9999.
Result<std::int64_t> parse_rfc3339(std::string_view text);

// "2024-05-01T12:00:00Z" for seconds since the epoch (clamped to 0..9999 years).
std::string format_rfc3339(std::int64_t seconds);

}  // namespace irsa::oidc
