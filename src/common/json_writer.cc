// Compact JSON text, written straight into a string.
#include "common/json_writer.h"

#include <array>
#include <charconv>
#include <stdexcept>

#include "common/utf8.h"

namespace irsa {
namespace {

// Bytes that end a run copied as it is: control characters, '"', '\', and
// the bytes of UTF-8 sequences (which are checked).
constexpr std::array<bool, 256> kSpecial = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  return table;
}();

void append_value(std::string& out, const nlohmann::json& value, InvalidUtf8 invalid) {
  using value_t = nlohmann::json::value_t;
  switch (value.type()) {
    case value_t::null:
      out += "null";
      return;
    case value_t::boolean:
      out += value.get_ref<const nlohmann::json::boolean_t&>() ? "true" : "false";
      return;
    case value_t::string:
      append_json_string(out, value.get_ref<const std::string&>(), invalid);
      return;
    case value_t::number_integer:
    case value_t::number_unsigned: {
      char digits[24];
      auto [end, error] =
          value.type() == value_t::number_integer
              ? std::to_chars(digits, digits + sizeof digits,
                              value.get_ref<const nlohmann::json::number_integer_t&>())
              : std::to_chars(digits, digits + sizeof digits,
                              value.get_ref<const nlohmann::json::number_unsigned_t&>());
      (void)error;  // 24 bytes hold every 64-bit integer
      out.append(digits, end);
      return;
    }
    case value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value) {
        if (!first) out += ',';
        first = false;
        append_value(out, element, invalid);
      }
      out += ']';
      return;
    }
    case value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : value.items()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, key, invalid);
        out += ':';
        append_value(out, member, invalid);
      }
      out += '}';
      return;
    }
    case value_t::number_float:
    case value_t::binary:
    case value_t::discarded:
      // Not on the response path; nlohmann writes them as dump() does.
      out += value.dump(-1, ' ', false,
                        invalid == InvalidUtf8::kThrow ? nlohmann::json::error_handler_t::strict
                                                       : nlohmann::json::error_handler_t::replace);
      return;
  }
}

}  // namespace

void append_json_string(std::string& out, std::string_view text, InvalidUtf8 invalid) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  std::size_t i = 0;
  const std::size_t size = text.size();
  while (i < size) {
    while (i < size && !kSpecial[static_cast<unsigned char>(text[i])]) ++i;
    if (i == size) break;
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      if (std::size_t length = utf8_sequence_length(text, i)) {
        i += length;
        continue;
      }
      if (invalid == InvalidUtf8::kThrow) {
        throw std::invalid_argument("invalid UTF-8 byte at index " + std::to_string(i));
      }
      out.append(text.data() + run, i - run);
      out += "\xEF\xBF\xBD";
      run = ++i;
      continue;
    }
    out.append(text.data() + run, i - run);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    run = ++i;
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
}

void append_json(std::string& out, const nlohmann::json& value, InvalidUtf8 invalid) {
  append_value(out, value, invalid);
}

}  // namespace irsa
