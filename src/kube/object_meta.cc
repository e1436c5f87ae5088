// Object and event decoding with simdjson's DOM parser (one per decoder).
#include "kube/object_meta.h"

#include <simdjson.h>

#include "identity/identity.h"

namespace irsa::kube {
namespace {

Status read_meta(simdjson::dom::element object, const std::string& key_prefix, ObjectMeta& meta) {
  if (!object.is_object()) return Error{"expected a JSON object"};
  simdjson::dom::element metadata;
  if (object["metadata"].get(metadata) != simdjson::SUCCESS || !metadata.is_object()) {
    return Error{"object has no metadata"};
  }
  std::string_view text;
  if (metadata["namespace"].get(text) == simdjson::SUCCESS) meta.namespace_name.assign(text);
  if (metadata["name"].get(text) == simdjson::SUCCESS) meta.name.assign(text);
  if (metadata["resourceVersion"].get(text) == simdjson::SUCCESS) {
    meta.resource_version.assign(text);
  }
  simdjson::dom::object annotations;
  if (metadata["annotations"].get(annotations) == simdjson::SUCCESS) {
    for (auto field : annotations) {
      // Keys outside the prefix are dropped, but for near misses of a known
      // key ("eks.amazonws.com/role-arn"), kept so the webhook can say so.
      if (!key_prefix.empty() && field.key.substr(0, key_prefix.size()) != key_prefix &&
          !identity::annotation_key_problem(
              field.key, std::string_view(key_prefix).substr(0, key_prefix.size() - 1),
              identity::AnnotationTarget::kServiceAccount)) {
        continue;
      }
      std::string_view value;
      if (field.value.get(value) != simdjson::SUCCESS) continue;
      meta.annotations.emplace(std::string(field.key), std::string(value));
    }
  }
  return Ok{};
}

}  // namespace

std::string_view event_type_name(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
    case EventType::kBookmark:
      return "BOOKMARK";
    case EventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

struct ObjectDecoder::Impl {
  simdjson::dom::parser parser;
  std::string key_prefix;  // "<prefix>/" or "" for every annotation
};

ObjectDecoder::ObjectDecoder(std::string annotation_prefix) : impl_(std::make_unique<Impl>()) {
  if (!annotation_prefix.empty()) impl_->key_prefix = std::move(annotation_prefix) + "/";
}

ObjectDecoder::~ObjectDecoder() = default;

Result<ObjectMeta> ObjectDecoder::decode_object(std::string_view json) {
  simdjson::dom::element root;
  if (auto error = impl_->parser.parse(json.data(), json.size()).get(root);
      error != simdjson::SUCCESS) {
    return Error{std::string("not valid JSON: ") + simdjson::error_message(error)};
  }
  ObjectMeta meta;
  if (auto status = read_meta(root, impl_->key_prefix, meta); !status) return Error{status.error()};
  return meta;
}

Result<WatchEvent> ObjectDecoder::decode_event(std::string_view json) {
  simdjson::dom::element root;
  if (auto error = impl_->parser.parse(json.data(), json.size()).get(root);
      error != simdjson::SUCCESS) {
    return Error{std::string("watch event: not valid JSON: ") + simdjson::error_message(error)};
  }
  std::string_view type;
  if (root["type"].get(type) != simdjson::SUCCESS) return Error{"watch event without a type"};
  WatchEvent event;
  if (type == "ADDED") {
    event.type = EventType::kAdded;
  } else if (type == "MODIFIED") {
    event.type = EventType::kModified;
  } else if (type == "DELETED") {
    event.type = EventType::kDeleted;
  } else if (type == "BOOKMARK") {
    event.type = EventType::kBookmark;
  } else if (type == "ERROR") {
    event.type = EventType::kError;
  } else {
    return Error{"watch event of unknown type \"" + std::string(type.substr(0, 32)) + "\""};
  }
  simdjson::dom::element object;
  if (root["object"].get(object) != simdjson::SUCCESS || !object.is_object()) {
    return Error{"watch event " + std::string(type) + " without an object"};
  }
  if (event.type == EventType::kError) {
    int64_t code = 0;
    if (object["code"].get(code) == simdjson::SUCCESS) event.status_code = static_cast<int>(code);
    std::string_view text;
    if (object["reason"].get(text) == simdjson::SUCCESS) event.status_reason.assign(text);
    if (object["message"].get(text) == simdjson::SUCCESS) event.status_message.assign(text);
    return event;
  }
  if (auto status = read_meta(object, impl_->key_prefix, event.meta); !status) {
    return Error{"watch event " + std::string(type) + ": " + status.error()};
  }
  if (event.type != EventType::kBookmark) event.object_json = simdjson::to_string(object);
  return event;
}

}  // namespace irsa::kube
