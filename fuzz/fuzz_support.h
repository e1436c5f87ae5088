// What every fuzz target shares: a check that aborts with a message (so that
// libFuzzer and the replay runner both report it as a crash), the JSON helpers
// the targets' properties need, and deterministic chunking of an input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

// The entry point every target defines (libFuzzer's signature).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace irsa::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* condition,
                              const std::string& detail) {
  std::fprintf(stderr, "%s:%d: property violated: %s\n  %s\n", file, line, condition,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// A property of the code under test; `detail` is only built when it fails.
#define FUZZ_CHECK(condition, detail)                                               \
  do {                                                                              \
    if (!(condition)) ::irsa::fuzz::fail(__FILE__, __LINE__, #condition, (detail)); \
  } while (false)

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// At most `limit` bytes of `text` for a failure message.
inline std::string excerpt(std::string_view text, std::size_t limit = 400) {
  std::string out(text.substr(0, limit));
  if (text.size() > limit) out += "...";
  return out;
}

// A simdjson DOM value as an nlohmann value, keeping the first of duplicate
// keys, which is what simdjson's at_key() (and so the request path) reads.
// Recursion is bounded by simdjson's own depth limit.
inline nlohmann::json to_json(simdjson::dom::element value) {
  using simdjson::dom::element_type;
  switch (value.type()) {
    case element_type::ARRAY: {
      nlohmann::json out = nlohmann::json::array();
      simdjson::dom::array array;
      if (value.get(array) != simdjson::SUCCESS) return out;
      for (simdjson::dom::element item : array) out.push_back(to_json(item));
      return out;
    }
    case element_type::OBJECT: {
      nlohmann::json out = nlohmann::json::object();
      simdjson::dom::object object;
      if (value.get(object) != simdjson::SUCCESS) return out;
      for (auto field : object) out.emplace(std::string(field.key), to_json(field.value));
      return out;
    }
    case element_type::INT64: {
      int64_t number = 0;
      if (value.get(number) != simdjson::SUCCESS) return nullptr;
      return number;
    }
    case element_type::UINT64: {
      uint64_t number = 0;
      if (value.get(number) != simdjson::SUCCESS) return nullptr;
      return number;
    }
    case element_type::DOUBLE: {
      double number = 0;
      if (value.get(number) != simdjson::SUCCESS) return nullptr;
      return number;
    }
    case element_type::STRING: {
      std::string_view text;
      if (value.get(text) != simdjson::SUCCESS) return nullptr;
      return std::string(text);
    }
    case element_type::BOOL: {
      bool flag = false;
      if (value.get(flag) != simdjson::SUCCESS) return nullptr;
      return flag;
    }
    case element_type::NULL_VALUE:
      return nullptr;
  }
  return nullptr;
}

// Cuts `text` into pieces whose sizes come from a hash of the text itself, so
// that a replay cuts the same input the same way. Includes empty pieces and
// one-byte pieces, the edge cases of incremental parsers.
inline std::vector<std::string_view> chunks(std::string_view text) {
  uint64_t state = 1469598103934665603ULL;
  for (char c : text) state = (state ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < text.size()) {
    state ^= state >> 33;
    state *= 0xff51afd7ed558ccdULL;
    state ^= state >> 33;
    std::size_t size = 0;
    switch (state % 4) {
      case 0:
        size = 0;
        break;
      case 1:
        size = 1;
        break;
      case 2:
        size = 1 + (state >> 8) % 7;
        break;
      default:
        size = 1 + (state >> 8) % 97;
        break;
    }
    size = std::min(size, text.size() - at);
    out.push_back(text.substr(at, size));
    at += size;
  }
  return out;
}

// True when `text` is one line that input cannot forge: no control byte
// (below 0x20, or 0x7F) anywhere, so no '\n' or '\r' and no terminal escape;
// our messages quote what they echo (common/quote.h), which writes those as
// \xNN. (Until 2026-11-27 only '\n' and '\r' were checked.)
inline bool one_line(std::string_view text) {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return false;
  }
  return true;
}

}  // namespace irsa::fuzz
