// Line-at-a-time stderr logger; a mutex keeps concurrent lines whole.
#include "log/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "common/utc_time.h"
#include "common/utf8.h"

namespace irsa::log {
namespace {

std::atomic<int> g_verbosity{0};
std::atomic<Format> g_format{Format::kText};
std::mutex g_write_mutex;

constexpr char kHex[] = "0123456789abcdef";

// Bytes below 0x20 and DEL: a terminal or a log shipper acts on them.
bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

// Whether `text` needs escaping in a log line: a control byte, or a byte
// from 0x80 up that does not start a valid UTF-8 sequence.
bool needs_escaping(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (is_control(c)) return true;
      ++i;
      continue;
    }
    std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) return true;
    i += length;
  }
  return false;
}

// `text` as a JSON string that is valid JSON whatever `text` holds: '"' and
// '\' escaped, every control byte (DEL included) as \u00XX, and each byte
// that is not part of valid UTF-8 as \ufffd, so a line is one line and its
// bytes cannot drive a terminal.
void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      if (std::size_t length = utf8_sequence_length(text, i)) {
        out.append(text.data() + i, length);
        i += length;
      } else {
        out += "\\ufffd";
        ++i;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (is_control(c)) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
}

// Text values are quoted, JSON-style, when they are empty or contain spaces,
// quotes, '=', a control byte or invalid UTF-8, so that a line stays
// parseable as key=value pairs and nothing from a request is written raw.
void append_text_value(std::string& out, std::string_view text) {
  bool quote =
      text.empty() || text.find_first_of(" \"=") != std::string_view::npos || needs_escaping(text);
  if (quote) {
    append_json_string(out, text);
  } else {
    out += text;
  }
}

// The message of a text line: as it is, unless it holds a control byte or
// invalid UTF-8; then quoted as a value is.
void append_text_message(std::string& out, std::string_view message) {
  if (needs_escaping(message)) {
    append_json_string(out, message);
  } else {
    out += message;
  }
}

std::string timestamp() { return utc_micros(std::chrono::system_clock::now()); }

const char* level_name(Level level) {
  switch (level) {
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void configure(Format format, int verbosity) {
  g_format.store(format);
  g_verbosity.store(verbosity);
}

int verbosity() { return g_verbosity.load(std::memory_order_relaxed); }

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(128);
  if (g_format.load() == Format::kJson) {
    line += "{\"ts\":";
    append_json_string(line, timestamp());
    line += ",\"level\":";
    append_json_string(line, level_name(level));
    line += ",\"msg\":";
    append_json_string(line, message);
    for (const auto& [key, value] : fields) {
      line += ',';
      append_json_string(line, key);
      line += ':';
      append_json_string(line, value);
    }
    line += "}\n";
  } else {
    line += timestamp();
    line += ' ';
    line += level_name(level);
    line += ' ';
    append_text_message(line, message);
    for (const auto& [key, value] : fields) {
      line += ' ';
      line += key;
      line += '=';
      append_text_value(line, value);
    }
    line += '\n';
  }
  std::lock_guard lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace irsa::log
