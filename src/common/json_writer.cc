// Compact JSON text, written straight into a string.
#include "common/json_writer.h"

#include <array>
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

}  // namespace irsa
