// Text from outside (a request, a file, an annotation) inside one of our
// messages: quoted, bounded and kept on one line, so an error or a log line
// cannot be split or forged by what it quotes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/utf8.h"

namespace irsa {

enum class QuoteBytes {
  kUtf8,   // bytes from 0x80 up pass through (the text is UTF-8 or will be escaped later)
  kAscii,  // bytes from 0x80 up are escaped too: the message is plain ASCII
};

namespace detail {
// Appends `text`, control bytes (below 0x20 and 0x7F) as \xNN; with `quotes`,
// '"' and '\' escaped with a backslash.
inline void append_escaped(std::string& out, std::string_view text, QuoteBytes bytes, bool quotes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (quotes && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7F || (byte >= 0x80 && bytes == QuoteBytes::kAscii)) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
}
}  // namespace detail

// `text` as "text": '"' and '\' escaped, control bytes (below 0x20 and 0x7F)
// as \xNN, at most `max_bytes` of it (cut on a UTF-8 character boundary,
// then "...").
inline std::string quote(std::string_view text, std::size_t max_bytes = 64,
                         QuoteBytes bytes = QuoteBytes::kUtf8) {
  const bool cut = text.size() > max_bytes;
  text = text.substr(0, utf8_prefix_length(text, max_bytes));
  std::string out;
  out.reserve(text.size() + 8);
  out += '"';
  detail::append_escaped(out, text, bytes, true);
  out += cut ? "...\"" : "\"";
  return out;
}

// `text` as it is when it is a plain name (letters, digits, '.', '_', '/',
// '-', ':', at most `max_bytes`, not empty), else quote(text, max_bytes): a
// Kubernetes kind or annotation key reads as itself, anything else cannot
// forge the message around it.
inline std::string name_or_quote(std::string_view text, std::size_t max_bytes = 64) {
  bool plain = !text.empty() && text.size() <= max_bytes;
  for (std::size_t i = 0; plain && i < text.size(); ++i) {
    char c = text[i];
    plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '/' || c == '-' || c == ':';
  }
  return plain ? std::string(text) : quote(text, max_bytes);
}

// A whole message made one line: control bytes as \xNN, nothing else changed.
inline std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  detail::append_escaped(out, text, QuoteBytes::kUtf8, false);
  return out;
}

}  // namespace irsa
