// One walk over a simdjson DOM looking for an object with a key twice.
#include "admission/duplicate_keys.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/quote.h"
#include "common/utf8.h"
#include "mutation/plan.h"

namespace irsa::admission {
namespace {

// The walk reads simdjson's tape directly (its layout is documented in
// simdjson's doc/tape.md and has not changed since 0.3): walking it through
// the DOM's iterators cost half as much again on the request path.
static_assert(simdjson::SIMDJSON_VERSION_MAJOR == 3,
              "check the tape walk against this simdjson's tape");

// Up to this many keys, comparing every pair is cheaper than sorting (most
// comparisons stop at the length); Pod objects rarely have more.
constexpr std::size_t kPairwiseMaxKeys = 24;

// Longest key and pointer quoted in a message.
constexpr std::size_t kMaxQuotedKeyBytes = 64;
constexpr std::size_t kMaxPointerBytes = 160;

class Tape {
 public:
  explicit Tape(const simdjson::dom::document& document)
      : tape_(document.tape.get()), strings_(document.string_buf.get()) {}

  char type(std::size_t i) const { return static_cast<char>(tape_[i] >> 56); }
  bool is_container(std::size_t i) const { return type(i) == '{' || type(i) == '['; }
  // For '{' and '[': the index after the matching '}' or ']'.
  std::size_t end_of(std::size_t i) const { return static_cast<uint32_t>(tape_[i]); }
  std::size_t count_of(std::size_t i) const { return (tape_[i] >> 32) & 0xFFFFFF; }
  // The index of the element after the one at `i`.
  std::size_t after(std::size_t i) const {
    switch (type(i)) {
      case '{':
      case '[':
        return end_of(i);
      case 'l':
      case 'u':
      case 'd':
        return i + 2;  // the number is in the next word
      default:
        return i + 1;
    }
  }
  // The string at `i`: a 32-bit length, then the bytes.
  std::string_view string(std::size_t i) const {
    const uint8_t* at = strings_ + (tape_[i] & simdjson::internal::JSON_VALUE_MASK);
    uint32_t length;
    std::memcpy(&length, at, sizeof length);
    return {reinterpret_cast<const char*>(at + sizeof length), length};
  }

 private:
  const uint64_t* tape_;
  const uint8_t* strings_;
};

// The members of the object at `i`: key at j, value at j + 1.
template <typename Visit>
void for_each_member(const Tape& tape, std::size_t i, Visit visit) {
  const std::size_t end = tape.end_of(i) - 1;  // the '}'
  for (std::size_t j = i + 1; j < end; j = tape.after(j + 1)) {
    if (!visit(j)) return;
  }
}

// Not std::array<std::string_view>: zeroing one for every object cost more
// than the comparisons.
struct Key {
  const char* data;
  std::size_t size;
  bool operator==(std::string_view other) const {
    return size == other.size() && std::memcmp(data, other.data(), size) == 0;
  }
};

// Large objects: their keys sorted.
std::optional<std::string_view> duplicate_by_sorting(const Tape& tape, std::size_t i) {
  std::vector<std::string_view> keys;
  keys.reserve(tape.count_of(i));
  for_each_member(tape, i, [&](std::size_t j) {
    keys.push_back(tape.string(j));
    return true;
  });
  std::sort(keys.begin(), keys.end());
  auto at = std::adjacent_find(keys.begin(), keys.end());
  if (at == keys.end()) return std::nullopt;
  return *at;
}

// True when the container at `i` or something in it holds a key twice;
// `found.path` then gets the members leading to it, innermost first. One
// pass: a small object's keys are compared as its members are visited.
bool walk(const Tape& tape, std::size_t i, DuplicateKey& found) {
  if (tape.type(i) == '[') {
    const std::size_t end = tape.end_of(i) - 1;  // the ']'
    std::size_t index = 0;
    for (std::size_t j = i + 1; j < end; j = tape.after(j), ++index) {
      if (tape.is_container(j) && walk(tape, j, found)) {
        found.path.push_back(std::to_string(index));
        return true;
      }
    }
    return false;
  }
  // Saturates at 0xFFFFFF, which sorts too.
  const bool small = tape.count_of(i) <= kPairwiseMaxKeys;
  if (!small) {
    if (auto key = duplicate_by_sorting(tape, i)) {
      found.key = std::string(*key);
      return true;
    }
  }
  Key keys[kPairwiseMaxKeys];  // NOLINT: filled up to `count` only
  std::size_t count = 0;
  const std::size_t end = tape.end_of(i) - 1;  // the '}'
  for (std::size_t j = i + 1; j < end; j = tape.after(j + 1)) {
    std::string_view key = tape.string(j);
    if (small) {
      for (std::size_t k = 0; k < count; ++k) {
        if (keys[k] == key) {
          found.key = std::string(key);
          return true;
        }
      }
      keys[count++] = {key.data(), key.size()};
    }
    if (tape.is_container(j + 1) && walk(tape, j + 1, found)) {
      found.path.emplace_back(key);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string DuplicateKey::pointer() const {
  std::string out;
  for (const auto& member : path) {
    out += '/';
    out += mutation::escape_pointer_token(member);
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

std::optional<DuplicateKey> find_duplicate_key(const simdjson::dom::document& document) {
  Tape tape(document);
  // The root element is at index 1, after the root word.
  if (!tape.is_container(1)) return std::nullopt;
  DuplicateKey found;
  // The root object's own keys first: a key twice there is reported as
  // such, whatever its members hold.
  if (tape.type(1) == '{') {
    if (tape.count_of(1) > kPairwiseMaxKeys) {
      if (auto key = duplicate_by_sorting(tape, 1)) return DuplicateKey{{}, std::string(*key)};
    } else {
      Key keys[kPairwiseMaxKeys];  // NOLINT: filled up to `count` only
      std::size_t count = 0;
      std::optional<std::string_view> twice;
      for_each_member(tape, 1, [&](std::size_t j) {
        std::string_view key = tape.string(j);
        for (std::size_t k = 0; k < count && !twice; ++k) {
          if (keys[k] == key) twice = key;
        }
        keys[count++] = {key.data(), key.size()};
        return !twice;
      });
      if (twice) return DuplicateKey{{}, std::string(*twice)};
    }
  }
  if (!walk(tape, 1, found)) return std::nullopt;
  std::reverse(found.path.begin(), found.path.end());
  return found;
}

}  // namespace irsa::admission
