// An RFC 6902 JSON Patch as the webhook writes it: "add" and "remove"
// operations whose values are kept as JSON text, so the request path writes
// the patch out without building a document first.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace irsa::mutation {

// Thrown when an operation would take a patch past its budget.
class PatchTooLarge : public std::length_error {
 public:
  explicit PatchTooLarge(std::size_t max_bytes);
  std::size_t max_bytes() const { return max_bytes_; }

 private:
  std::size_t max_bytes_;
};

// The operations are written as JSON text as they are added, so the request
// path neither keeps them apart nor copies a value twice.
class Patch {
 public:
  Patch() = default;
  // A patch whose text (write()) may not pass `max_bytes` (0: no limit): an
  // operation that would take it past throws PatchTooLarge and leaves the
  // patch as it was, so the text never grows much beyond the budget.
  explicit Patch(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // "add" at `path` (a JSON Pointer, RFC 6901, already escaped) followed by
  // `path_suffix`. `value` must be one complete JSON value (JsonObject below
  // writes them).
  void add(std::string_view path, std::string_view value) { add(path, {}, value); }
  void add(std::string_view path, std::string_view path_suffix, std::string_view value);
  void remove(std::string_view path);
  // An "add" before every operation so far and every one added later.
  void prepend_add(std::string_view path, std::string_view value);
  // Appends the operations of `other`; the result keeps the smaller of the
  // two budgets (PatchTooLarge when it passes it, leaving both unchanged).
  void append(Patch&& other);

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }

  // The patch as a JSON array, compact: [{"op":"add","path":...,"value":...}].
  void write(std::string& out) const;
  std::string text() const;
  // The size of write()'s text, and the text as consecutive pieces (to encode
  // it elsewhere, base64 for instance, without building it first).
  std::size_t text_size() const;
  std::array<std::string_view, 5> pieces() const;
  std::size_t max_bytes() const { return max_bytes_; }
  // The same as a document (for the offline commands and tests).
  nlohmann::json to_json() const;

 private:
  void add_operation(bool remove, std::string_view path, std::string_view path_suffix,
                     std::string_view value);
  // Throws PatchTooLarge when `more` bytes would take the text past the
  // budget; otherwise makes room for them without growing the capacity of
  // `part` much past the budget (as doubling would).
  void make_room(std::string& part, std::size_t more);

  std::string head_;  // prepended operations, comma-separated
  std::string body_;  // the others, comma-separated
  std::size_t count_ = 0;
  std::size_t max_bytes_ = 0;  // 0: no limit
};

// A JSON object written member by member, as text. Members appear in the
// order they are written; write them sorted to match nlohmann's dump().
// Keys are written as they are: plain names only ("name", "mountPath", a
// label key). String values must be UTF-8 (std::invalid_argument otherwise).
class JsonObject {
 public:
  JsonObject() {
    text_.reserve(128);
    text_ += '{';
  }
  JsonObject& string(std::string_view key, std::string_view value);
  JsonObject& boolean(std::string_view key, bool value);
  JsonObject& integer(std::string_view key, int64_t value);
  JsonObject& raw(std::string_view key, std::string_view json_text);  // a complete JSON value
  std::string done();  // the text; the object is spent

 private:
  void key(std::string_view key);
  std::string text_;
};

// `[a,b,...]` of complete JSON values.
std::string json_array(const std::vector<std::string_view>& values);

}  // namespace irsa::mutation
