// An RFC 6902 JSON Patch as the webhook writes it: "add" and "remove"
// operations whose values are kept as JSON text, so the request path writes
// the patch out without building a document first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace irsa::mutation {

// The operations are written as JSON text as they are added, so the request
// path neither keeps them apart nor copies a value twice.
class Patch {
 public:
  // "add" at `path` (a JSON Pointer, RFC 6901, already escaped) followed by
  // `path_suffix`. `value` must be one complete JSON value (JsonObject below
  // writes them).
  void add(std::string_view path, std::string_view value) { add(path, {}, value); }
  void add(std::string_view path, std::string_view path_suffix, std::string_view value);
  void remove(std::string_view path);
  // An "add" before every operation so far and every one added later.
  void prepend_add(std::string_view path, std::string_view value);
  // Appends the operations of `other`.
  void append(Patch&& other);

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }

  // The patch as a JSON array, compact: [{"op":"add","path":...,"value":...}].
  void write(std::string& out) const;
  std::string text() const;
  // The same as a document (for the offline commands and tests).
  nlohmann::json to_json() const;

 private:
  void add_operation(bool remove, std::string_view path, std::string_view path_suffix,
                     std::string_view value);

  std::string head_;  // prepended operations, comma-separated
  std::string body_;  // the others, comma-separated
  std::size_t count_ = 0;
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
