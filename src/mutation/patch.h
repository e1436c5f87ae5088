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

struct PatchOperation {
  bool remove = false;  // "remove"; otherwise "add"
  std::string path;     // a JSON Pointer (RFC 6901), already escaped
  std::string value;    // the added value's JSON text; empty for "remove"
};

class Patch {
 public:
  // `value` must be one complete JSON value (JsonObject below writes them).
  void add(std::string path, std::string value);
  void remove(std::string path);
  // Puts `operation` before every other one.
  void prepend(PatchOperation operation);
  // Appends the operations of `other`.
  void append(Patch&& other);

  bool empty() const { return operations_.empty(); }
  std::size_t size() const { return operations_.size(); }
  const std::vector<PatchOperation>& operations() const { return operations_; }

  // The patch as a JSON array, compact: [{"op":"add","path":...,"value":...}].
  void write(std::string& out) const;
  std::string text() const;
  // The same as a document (for the offline commands and tests).
  nlohmann::json to_json() const;

 private:
  std::vector<PatchOperation> operations_;
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
std::string json_array(const std::vector<std::string>& values);

}  // namespace irsa::mutation
