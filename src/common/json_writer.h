// JSON strings for the response path, written straight into a string: what
// nlohmann's dump() writes, byte for byte, for valid UTF-8, at a fraction of
// its cost (runs are copied, and only what must be escaped is).
#pragma once

#include <string>
#include <string_view>

namespace irsa {

enum class InvalidUtf8 {
  kThrow,    // std::invalid_argument: what we write must mean what it meant
  kReplace,  // each invalid sequence becomes U+FFFD
};

// `text` as a JSON string: '"' and '\' escaped, control characters as \b,
// \f, \n, \r, \t or \u00XX, everything else (0x7F and UTF-8 too) as it is.
void append_json_string(std::string& out, std::string_view text,
                        InvalidUtf8 invalid = InvalidUtf8::kThrow);

}  // namespace irsa
