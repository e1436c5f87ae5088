// An RFC 6902 JSON Patch kept as text.
#include "mutation/patch.h"

#include <utility>

#include "common/json_writer.h"

namespace irsa::mutation {

void Patch::add(std::string path, std::string value) {
  operations_.push_back({false, std::move(path), std::move(value)});
}

void Patch::remove(std::string path) { operations_.push_back({true, std::move(path), {}}); }

void Patch::prepend(PatchOperation operation) {
  operations_.insert(operations_.begin(), std::move(operation));
}

void Patch::append(Patch&& other) {
  if (operations_.empty()) {
    operations_ = std::move(other.operations_);
  } else {
    for (auto& operation : other.operations_) operations_.push_back(std::move(operation));
  }
  other.operations_.clear();
}

void Patch::write(std::string& out) const {
  out += '[';
  bool first = true;
  for (const auto& operation : operations_) {
    if (!first) out += ',';
    first = false;
    out += operation.remove ? R"({"op":"remove","path":)" : R"({"op":"add","path":)";
    append_json_string(out, operation.path);
    if (!operation.remove) {
      out += R"(,"value":)";
      out += operation.value;
    }
    out += '}';
  }
  out += ']';
}

std::string Patch::text() const {
  std::string out;
  std::size_t size = 2;
  for (const auto& operation : operations_)
    size += operation.path.size() + operation.value.size() + 40;
  out.reserve(size);
  write(out);
  return out;
}

nlohmann::json Patch::to_json() const { return nlohmann::json::parse(text()); }

void JsonObject::key(std::string_view key) {
  if (text_.size() > 1) text_ += ',';
  text_ += '"';
  text_ += key;
  text_ += "\":";
}

JsonObject& JsonObject::string(std::string_view key, std::string_view value) {
  this->key(key);
  append_json_string(text_, value);
  return *this;
}

JsonObject& JsonObject::boolean(std::string_view key, bool value) {
  this->key(key);
  text_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::integer(std::string_view key, int64_t value) {
  this->key(key);
  text_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::raw(std::string_view key, std::string_view json_text) {
  this->key(key);
  text_ += json_text;
  return *this;
}

std::string JsonObject::done() {
  text_ += '}';
  return std::move(text_);
}

std::string json_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += values[i];
  }
  out += ']';
  return out;
}

}  // namespace irsa::mutation
