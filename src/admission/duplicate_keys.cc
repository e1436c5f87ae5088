// One walk over a simdjson DOM looking for an object with a key twice.
#include "admission/duplicate_keys.h"

#include <algorithm>
#include <array>
#include <cstddef>

#include "common/quote.h"
#include "common/utf8.h"

namespace irsa::admission {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Up to this many keys, comparing every pair is cheaper than sorting (most
// comparisons stop at the length); Pod objects rarely have more.
constexpr std::size_t kPairwiseMaxKeys = 24;

// Longest key and pointer quoted in a message.
constexpr std::size_t kMaxQuotedKeyBytes = 64;
constexpr std::size_t kMaxPointerBytes = 160;

std::optional<std::string_view> duplicate_in(object obj) {
  const std::size_t size = obj.size();
  if (size < 2) return std::nullopt;
  if (size <= kPairwiseMaxKeys) {
    std::array<std::string_view, kPairwiseMaxKeys> keys;
    std::size_t count = 0;
    for (auto it = obj.begin(); it != obj.end() && count < kPairwiseMaxKeys; ++it) {
      std::string_view key = it.key();
      for (std::size_t i = 0; i < count; ++i) {
        if (keys[i] == key) return key;
      }
      keys[count++] = key;
    }
    return std::nullopt;
  }
  std::vector<std::string_view> keys;
  keys.reserve(size);
  for (auto it = obj.begin(); it != obj.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  auto found = std::adjacent_find(keys.begin(), keys.end());
  if (found == keys.end()) return std::nullopt;
  return *found;
}

bool is_container(element value) {
  auto type = value.type();
  return type == element_type::OBJECT || type == element_type::ARRAY;
}

// True when `value` or something in it holds a key twice; `found.path` then
// gets the members leading to it, innermost first.
bool walk(element value, DuplicateKey& found) {
  object obj;
  array arr;
  if (value.get(obj) == simdjson::SUCCESS) {
    if (auto key = duplicate_in(obj)) {
      found.key = std::string(*key);
      return true;
    }
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      element child = it.value();
      if (is_container(child) && walk(child, found)) {
        found.path.emplace_back(it.key());
        return true;
      }
    }
    return false;
  }
  if (value.get(arr) == simdjson::SUCCESS) {
    std::size_t index = 0;
    for (element child : arr) {
      if (is_container(child) && walk(child, found)) {
        found.path.push_back(std::to_string(index));
        return true;
      }
      ++index;
    }
  }
  return false;
}

}  // namespace

std::string DuplicateKey::pointer() const {
  std::string out;
  for (const auto& member : path) {
    out += '/';
    for (char c : member) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
  }
  return out;
}

std::string DuplicateKey::describe() const {
  std::string where = pointer();
  std::string message = "duplicate key " + quote(key, kMaxQuotedKeyBytes) + " at ";
  if (where.empty()) {
    message += "the top level";
  } else {
    const bool cut = where.size() > kMaxPointerBytes;
    message +=
        one_line(std::string_view(where).substr(0, utf8_prefix_length(where, kMaxPointerBytes)));
    if (cut) message += "...";
  }
  return message;
}

std::optional<DuplicateKey> find_duplicate_key(element root) {
  DuplicateKey found;
  if (!walk(root, found)) return std::nullopt;
  std::reverse(found.path.begin(), found.path.end());
  return found;
}

}  // namespace irsa::admission
