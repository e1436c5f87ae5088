// Decoding the API server's objects and watch events down to what a cache
// keeps: namespace, name, resourceVersion and the annotations under a prefix.
// Works on full objects and on PartialObjectMetadata alike.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace irsa::kube {

struct ObjectMeta {
  std::string namespace_name;
  std::string name;
  std::string resource_version;
  // Only annotations whose key starts with "<prefix>/", or whose key is a
  // near miss of a ServiceAccount annotation under the prefix
  // (identity::annotation_key_problem) (all of them when the decoder's
  // prefix is empty).
  std::map<std::string, std::string, std::less<>> annotations;
};

enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };

// "ADDED", "MODIFIED", ...
std::string_view event_type_name(EventType type);

struct WatchEvent {
  EventType type = EventType::kAdded;
  ObjectMeta meta;
  std::string object_json;  // the event's object, minified
  // For kError: the Status object's code, reason and message.
  int status_code = 0;
  std::string status_reason;
  std::string status_message;
};

// Not thread-safe: one per reader thread (it reuses a parser's buffers).
class ObjectDecoder {
 public:
  explicit ObjectDecoder(std::string annotation_prefix);
  ~ObjectDecoder();
  ObjectDecoder(const ObjectDecoder&) = delete;
  ObjectDecoder& operator=(const ObjectDecoder&) = delete;

  // One object (a list item or a GET's body).
  Result<ObjectMeta> decode_object(std::string_view json);
  // One watch event ({"type": ..., "object": {...}}). An unknown type is an
  // error that names it.
  Result<WatchEvent> decode_event(std::string_view json);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace irsa::kube
