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

// The bytes write_operation adds at least, besides its path and value.
constexpr std::size_t kOperationOverhead = sizeof(R"({"op":"add","path":"","value":})") - 1;

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

PatchTooLarge::PatchTooLarge(std::size_t max_bytes)
    : std::length_error("the JSON Patch would pass its budget of " + std::to_string(max_bytes) +
                        " bytes"),
      max_bytes_(max_bytes) {}

void Patch::make_room(std::string& part, std::size_t more) {
  if (max_bytes_ == 0) return;
  const std::size_t total = text_size() + more;
  if (total > max_bytes_) throw PatchTooLarge(max_bytes_);
  const std::size_t needed = part.size() + more;
  if (needed <= part.capacity()) return;
  part.reserve(std::max(needed, std::min(2 * part.capacity(), max_bytes_)));
}

void Patch::add(std::string_view path, std::string_view path_suffix, std::string_view value) {
  add_operation(false, path, path_suffix, value);
}

void Patch::remove(std::string_view path) { add_operation(true, path, {}, {}); }

void Patch::add_operation(bool remove, std::string_view path, std::string_view path_suffix,
                          std::string_view value) {
  // A path that cannot be written (not UTF-8) throws and leaves the patch as
  // it was.
  // A path that needs escaping may grow past this estimate, by little.
  make_room(body_, 1 + kOperationOverhead + path.size() + path_suffix.size() + value.size());
  const std::size_t size = body_.size();
  try {
    if (!body_.empty()) body_ += ',';
    write_operation(body_, remove, path, path_suffix, value);
    if (max_bytes_ != 0 && text_size() > max_bytes_) throw PatchTooLarge(max_bytes_);
  } catch (...) {
    body_.resize(size);
    throw;
  }
  ++count_;
}

void Patch::prepend_add(std::string_view path, std::string_view value) {
  std::string head;
  write_operation(head, false, path, {}, value);
  if (max_bytes_ != 0 && text_size() + head.size() + 1 > max_bytes_) {
    throw PatchTooLarge(max_bytes_);
  }
  if (!head_.empty()) {
    head += ',';
    head += head_;
  }
  head_ = std::move(head);
  ++count_;
}

void Patch::append(Patch&& other) {
  if (other.empty()) return;
  std::size_t limit = max_bytes_ == 0         ? other.max_bytes_
                      : other.max_bytes_ == 0 ? max_bytes_
                                              : std::min(max_bytes_, other.max_bytes_);
  if (limit != 0 && text_size() + other.text_size() > limit) throw PatchTooLarge(limit);
  if (empty()) {
    *this = std::move(other);
  } else {
    // `other`'s prepended operations go first among its own, after ours.
    body_.reserve(body_.size() + other.head_.size() + other.body_.size() + 2);
    for (const std::string* part : {&other.head_, &other.body_}) {
      if (part->empty()) continue;
      if (!body_.empty()) body_ += ',';
      body_ += *part;
    }
    count_ += other.count_;
  }
  max_bytes_ = limit;
  other = Patch();
}

void Patch::write(std::string& out) const {
  out += '[';
  out += head_;
  if (!head_.empty() && !body_.empty()) out += ',';
  out += body_;
  out += ']';
}

std::size_t Patch::text_size() const {
  return 2 + head_.size() + (!head_.empty() && !body_.empty() ? 1 : 0) + body_.size();
}

std::array<std::string_view, 5> Patch::pieces() const {
  return {"[", head_, !head_.empty() && !body_.empty() ? "," : "", body_, "]"};
}

std::string Patch::text() const {
  std::string out;
  out.reserve(text_size());
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
