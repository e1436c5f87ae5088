// Compact JSON text for the response path, written straight into a string.
// What nlohmann's dump() writes, byte for byte, for valid UTF-8, at a
// fraction of its cost: strings are copied in runs and escaped only where
// they must be (nlohmann decodes every byte), and nothing is built first.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace irsa {

enum class InvalidUtf8 {
  kThrow,    // std::invalid_argument: what we write must mean what it meant
  kReplace,  // each invalid sequence becomes U+FFFD
};

// `text` as a JSON string: '"' and '\' escaped, control characters as \b,
// \f, \n, \r, \t or \u00XX, everything else (0x7F and UTF-8 too) as it is.
void append_json_string(std::string& out, std::string_view text,
                        InvalidUtf8 invalid = InvalidUtf8::kThrow);

// `value` as compact JSON (object keys in nlohmann's order, which is sorted).
void append_json(std::string& out, const nlohmann::json& value,
                 InvalidUtf8 invalid = InvalidUtf8::kThrow);

}  // namespace irsa
