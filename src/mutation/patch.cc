// An RFC 6902 JSON Patch kept as text.
#include "mutation/patch.h"

#include <algorithm>
#include <utility>

#include "common/json_writer.h"

namespace irsa::mutation {

namespace {

// Printable ASCII without '"' or '\\': written into a JSON string as it is.
bool plain_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
}

void write_operation(std::string& out, bool remove, std::string_view path,
                     std::string_view path_suffix, std::string_view value) {
  out += remove ? R"({"op":"remove","path":)" : R"({"op":"add","path":)";
  if (plain_ascii(path) && plain_ascii(path_suffix)) {
    // The paths the webhook writes: no JSON escape, no copy.
    out += '"';
    out += path;
    out += path_suffix;
    out += '"';
  } else {
    std::string whole(path);
    whole += path_suffix;
    append_json_string(out, whole);
  }
  if (!remove) {
    out += R"(,"value":)";
    out += value;
  }
  out += '}';
}

}  // namespace

void Patch::add(std::string_view path, std::string_view path_suffix, std::string_view value) {
  add_operation(false, path, path_suffix, value);
}

void Patch::remove(std::string_view path) { add_operation(true, path, {}, {}); }

void Patch::add_operation(bool remove, std::string_view path, std::string_view path_suffix,
                          std::string_view value) {
  // A path that cannot be written (not UTF-8) throws and leaves the patch as
  // it was.
  const std::size_t size = body_.size();
  try {
    if (!body_.empty()) body_ += ',';
    write_operation(body_, remove, path, path_suffix, value);
  } catch (...) {
    body_.resize(size);
    throw;
  }
  ++count_;
}

void Patch::prepend_add(std::string_view path, std::string_view value) {
  std::string head;
  write_operation(head, false, path, {}, value);
  if (!head_.empty()) {
    head += ',';
    head += head_;
  }
  head_ = std::move(head);
  ++count_;
}

void Patch::append(Patch&& other) {
  if (other.empty()) return;
  if (empty()) {
    *this = std::move(other);
  } else {
    // `other`'s prepended operations go first among its own, after ours.
    for (const std::string* part : {&other.head_, &other.body_}) {
      if (part->empty()) continue;
      if (!body_.empty()) body_ += ',';
      body_ += *part;
    }
    count_ += other.count_;
  }
  other = Patch();
}

void Patch::write(std::string& out) const {
  out += '[';
  out += head_;
  if (!head_.empty() && !body_.empty()) out += ',';
  out += body_;
  out += ']';
}

std::string Patch::text() const {
  std::string out;
  out.reserve(head_.size() + body_.size() + 3);
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

std::string json_array(const std::vector<std::string_view>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += values[i];
  }
  out += ']';
  return out;
}

}  // namespace irsa::mutation
