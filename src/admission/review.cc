// AdmissionReview decode (simdjson, in place) and encode (written directly).
#include "admission/review.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "admission/duplicate_keys.h"
#include "common/json_writer.h"
#include "common/quote.h"
#include "common/utf8.h"

namespace irsa::admission {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// Client-supplied text in an error message: quoted, at most 64 bytes, one line.
std::string quoted(std::string_view text) { return quote(text, 64); }

const char* type_name(element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return "a number";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

// `obj[key]`: nullopt when absent or null.
std::optional<element> member(object obj, std::string_view key) {
  element value;
  if (obj.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) return std::nullopt;
  return value;
}

// `obj[key]` as a string; "" when absent or null, an error for another type.
Result<std::string_view> optional_string(object obj, std::string_view key, std::string_view where) {
  auto value = member(obj, key);
  if (!value) return std::string_view{};
  std::string_view text;
  if (value->get(text) != simdjson::SUCCESS) {
    return Error{std::string(where) + " must be a string, got " + type_name(*value)};
  }
  return text;
}

Result<GroupVersionKind> read_group_version_kind(element value) {
  object gvk;
  if (value.get(gvk) != simdjson::SUCCESS) {
    return Error{std::string("request.kind must be an object, got ") + type_name(value)};
  }
  GroupVersionKind out;
  auto group = optional_string(gvk, "group", "request.kind.group");
  if (!group) return Error{group.error()};
  auto version = optional_string(gvk, "version", "request.kind.version");
  if (!version) return Error{version.error()};
  auto kind = optional_string(gvk, "kind", "request.kind.kind");
  if (!kind) return Error{kind.error()};
  out.group = *group;
  out.version = *version;
  out.kind = *kind;
  return out;
}

}  // namespace

Result<ReviewRequest> decode_review(simdjson::dom::parser& parser, std::string_view body) {
  element root;
  if (auto error = parser.parse(body.data(), body.size()).get(root); error != simdjson::SUCCESS) {
    return Error{std::string("body is not JSON: ") + simdjson::error_message(error)};
  }
  object review;
  if (root.get(review) != simdjson::SUCCESS) {
    return Error{std::string("body is not an AdmissionReview: expected a JSON object, got ") +
                 type_name(root)};
  }

  // One walk over the whole document, before anything is read from it.
  std::optional<DuplicateKey> duplicate = find_duplicate_key(parser.doc);
  if (duplicate && duplicate->path.empty()) {
    return Error{"body is not an unambiguous AdmissionReview: " + duplicate->describe()};
  }

  ReviewRequest out;
  auto api_version = optional_string(review, "apiVersion", "apiVersion");
  if (!api_version) return Error{api_version.error()};
  if (*api_version != kApiVersionV1 && *api_version != kApiVersionV1beta1) {
    return Error{
        std::string("apiVersion must be admission.k8s.io/v1 or admission.k8s.io/v1beta1, ") +
        (api_version->empty() ? std::string("it is missing") : "got " + quoted(*api_version))};
  }
  out.api_version = *api_version;

  auto kind = optional_string(review, "kind", "kind");
  if (!kind) return Error{kind.error()};
  if (*kind != kReviewKind) {
    return Error{std::string("kind must be AdmissionReview, ") +
                 (kind->empty() ? std::string("it is missing") : "got " + quoted(*kind))};
  }

  auto request_value = member(review, "request");
  if (!request_value) return Error{"AdmissionReview has no request"};
  object request;
  if (request_value->get(request) != simdjson::SUCCESS) {
    return Error{std::string("request must be an object, got ") + type_name(*request_value)};
  }

  auto uid = optional_string(request, "uid", "request.uid");
  if (!uid) return Error{uid.error()};
  if (uid->empty()) return Error{"request.uid is missing"};
  out.uid = *uid;
  if (duplicate) {
    // The first duplicate found may be elsewhere while the uid, which the
    // answer must carry, is twice in the request too.
    std::size_t uids = 0;
    for (auto field : request) uids += field.key == "uid" ? 1 : 0;
    if (uids > 1) {
      return Error{"body is not an unambiguous AdmissionReview: " +
                   DuplicateKey{{"request"}, "uid"}.describe()};
    }
    out.duplicate_key = duplicate->describe();
  }

  auto namespace_name = optional_string(request, "namespace", "request.namespace");
  if (!namespace_name) return Error{namespace_name.error()};
  out.namespace_name = *namespace_name;

  auto operation = optional_string(request, "operation", "request.operation");
  if (!operation) return Error{operation.error()};
  out.operation = *operation;

  auto sub_resource = optional_string(request, "subResource", "request.subResource");
  if (!sub_resource) return Error{sub_resource.error()};
  out.sub_resource = *sub_resource;

  if (auto dry_run = member(request, "dryRun")) {
    if (dry_run->get(out.dry_run) != simdjson::SUCCESS) {
      return Error{std::string("request.dryRun must be a boolean, got ") + type_name(*dry_run)};
    }
  }

  if (auto gvk_value = member(request, "kind")) {
    auto gvk = read_group_version_kind(*gvk_value);
    if (!gvk) return Error{gvk.error()};
    out.kind = *gvk;
  }

  out.object = member(request, "object");
  return out;
}

std::string encode_review_response(const ReviewResponse& response) {
  return *encode_review_response(response, 0);
}

std::optional<std::string> encode_review_response(const ReviewResponse& response,
                                                  std::size_t max_bytes) {
  // Written directly, members in the order nlohmann's dump() would sort them
  // into. Strings all come from simdjson-validated UTF-8 or from us;
  // `replace` keeps a stray invalid byte from turning into an exception. The
  // patch, which the API server applies, was written strictly.
  constexpr auto kReplace = InvalidUtf8::kReplace;
  const std::size_t patch_size = response.patch.empty() ? 0 : response.patch.text_size();
  // What the reply takes at least (the members' punctuation below, the
  // strings unescaped): escaping only adds to it.
  std::size_t size = 79 + response.api_version.size() + response.uid.size();
  if (patch_size != 0) size += 35 + base64_size(patch_size);
  if (!response.audit_annotations.empty()) size += 22;
  for (const auto& [key, value] : response.audit_annotations) size += 5 + key.size() + value.size();
  if (!response.warnings.empty()) size += 14;
  for (const auto& warning : response.warnings) size += 2 + warning.size();
  if (response.status) size += 32 + response.status->message.size();
  if (max_bytes != 0 && size > max_bytes) return std::nullopt;

  std::string out;
  out.reserve(size + 64);  // commas, the code's digits, a few escapes
  out += "{\"apiVersion\":";
  append_json_string(out, response.api_version, kReplace);
  out += ",\"kind\":";
  append_json_string(out, kReviewKind, kReplace);
  out += ",\"response\":{\"allowed\":";
  out += response.allowed ? "true" : "false";
  if (!response.audit_annotations.empty()) {
    out += ",\"auditAnnotations\":{";
    bool first = true;
    for (const auto& [key, value] : response.audit_annotations) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, key, kReplace);
      out += ':';
      append_json_string(out, value, kReplace);
    }
    out += '}';
  }
  if (patch_size != 0) {
    out += ",\"patch\":\"";  // base64 needs no escaping
    append_base64(out, response.patch.pieces());
    out += "\",\"patchType\":\"JSONPatch\"";
  }
  if (response.status) {
    out += ",\"status\":{\"code\":";
    out += std::to_string(response.status->code);
    out += ",\"message\":";
    append_json_string(out, response.status->message, kReplace);
    out += '}';
  }
  out += ",\"uid\":";
  append_json_string(out, response.uid, kReplace);
  if (!response.warnings.empty()) {
    out += ",\"warnings\":[";
    bool first = true;
    for (const auto& warning : response.warnings) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, warning, kReplace);
    }
    out += ']';
  }
  out += "}}";
  if (max_bytes != 0 && out.size() > max_bytes) return std::nullopt;
  return out;
}

ReviewResponse denial(const ReviewRequest& request, int code, std::string message) {
  ReviewResponse response;
  response.api_version = std::string(request.api_version);
  response.uid = std::string(request.uid);
  response.allowed = false;
  if (message.size() > kMaxStatusMessageBytes) {
    // A refusal that lists what a huge Pod holds would be as huge.
    const std::size_t more = message.size();
    message.resize(utf8_prefix_length(message, kMaxStatusMessageBytes));
    message += "... (" + std::to_string(more - message.size()) + " bytes more)";
  }
  response.status = ResponseStatus{code, std::move(message)};
  return response;
}

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve(base64_size(data.size()));
  append_base64(out, std::array<std::string_view, 1>{data});
  return out;
}

namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// Two output characters per 12 input bits: two lookups per 3 bytes.
constexpr auto kBase64Pairs = [] {
  std::array<char, 2 * 4096> pairs{};
  for (int v = 0; v < 4096; ++v) {
    pairs[2 * v] = kBase64Alphabet[v >> 6];
    pairs[2 * v + 1] = kBase64Alphabet[v & 0x3F];
  }
  return pairs;
}();

inline uint32_t byte_at(const char* data) {
  return static_cast<uint32_t>(static_cast<unsigned char>(*data));
}

// Writes the 4 characters of the 3 bytes at `data`; returns the next output.
inline char* encode_triple(char* next, const char* data) {
  uint32_t triple = byte_at(data) << 16 | byte_at(data + 1) << 8 | byte_at(data + 2);
  std::memcpy(next, &kBase64Pairs[2 * (triple >> 12)], 2);
  std::memcpy(next + 2, &kBase64Pairs[2 * (triple & 0xFFF)], 2);
  return next + 4;
}

}  // namespace

void append_base64(std::string& out, const std::string_view* pieces, std::size_t count) {
  std::size_t total = 0;
  for (std::size_t k = 0; k < count; ++k) total += pieces[k].size();
  const std::size_t start = out.size();
  out.resize(start + base64_size(total), '=');  // the padding '=' is already there
  char* next = out.data() + start;
  // Bytes of a group of three that spans two pieces.
  std::array<char, 3> carry{};
  std::size_t carried = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const char* data = pieces[k].data();
    const std::size_t size = pieces[k].size();
    std::size_t i = 0;
    if (carried > 0) {
      // Complete the group begun in an earlier piece, if this one holds
      // enough; carried is 1 or 2 here.
      const std::size_t take = std::min(carry.size() - carried, size);
      for (std::size_t j = 0; j < take; ++j) carry[carried + j] = data[j];
      carried += take;
      i = take;
      if (carried == carry.size()) {
        next = encode_triple(next, carry.data());
        carried = 0;
      }
    }
    for (; i + 3 <= size; i += 3) next = encode_triple(next, data + i);
    // Fewer than 3 bytes are left, and only when the carry is empty.
    for (std::size_t j = 0; i + j < size && j < carry.size(); ++j) carry[j] = data[i + j];
    if (i < size) carried = size - i;
  }
  if (carried > 0) {
    if (carried == 1) carry[1] = 0;
    carry[2] = 0;
    char quad[4];
    encode_triple(quad, carry.data());
    std::memcpy(next, quad, carried + 1);  // the rest stays '='
  }
}

}  // namespace irsa::admission
