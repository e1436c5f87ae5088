// Process-wide logging: one line per event on stderr, text or JSON, with
// klog-style verbosity. Never pass a token, an env var value or Secret content.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace irsa::log {

enum class Level { kInfo, kWarning, kError };
enum class Format { kText, kJson };

// Set once at start, before other threads log.
void configure(Format format, int verbosity);
int verbosity();
inline bool enabled(int v) { return verbosity() >= v; }

// A key/value pair attached to a line.
using Field = std::pair<std::string_view, std::string_view>;

void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void info(std::string_view message, std::initializer_list<Field> fields = {}) {
  write(Level::kInfo, message, fields);
}
inline void warning(std::string_view message, std::initializer_list<Field> fields = {}) {
  write(Level::kWarning, message, fields);
}
inline void error(std::string_view message, std::initializer_list<Field> fields = {}) {
  write(Level::kError, message, fields);
}
// Logged only at verbosity >= v.
inline void debug(int v, std::string_view message, std::initializer_list<Field> fields = {}) {
  if (enabled(v)) write(Level::kInfo, message, fields);
}

}  // namespace irsa::log
