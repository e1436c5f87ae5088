// Incremental framing of the API server's JSON as it arrives, so that memory
// stays bounded by one object whatever the size of a list or a watch:
// a watch stream is a sequence of JSON objects (one event each); a list is
// one object whose "items" are handed out one by one.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace irsa::kube {

// Splits a stream of concatenated JSON objects (whitespace between them) into
// one string per object, across arbitrary chunk boundaries.
class JsonObjectSplitter {
 public:
  explicit JsonObjectSplitter(std::size_t max_object_bytes = std::size_t{64} << 20)
      : max_object_bytes_(max_object_bytes) {}

  // Feeds the next piece; `on_object` gets each complete object and returns
  // false to stop (then feed returns Ok without reading further). An error
  // means the stream is not a sequence of objects or one is too large.
  Status feed(std::string_view chunk, const std::function<bool(std::string_view)>& on_object);

  // True when no object is partly read.
  bool idle() const { return depth_ == 0 && current_.empty(); }

 private:
  std::size_t max_object_bytes_;
  std::string current_;
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
};

// Reads a Kubernetes list ({"kind":..., "metadata":{...}, "items":[...]})
// incrementally: each element of "items" goes to the item callback as soon as
// it is complete; "kind" and "metadata" are kept for finish().
class ListStreamParser {
 public:
  explicit ListStreamParser(std::size_t max_item_bytes = std::size_t{64} << 20)
      : max_item_bytes_(max_item_bytes) {}

  // `on_item` returns false to stop reading.
  Status feed(std::string_view chunk, const std::function<bool(std::string_view)>& on_item);

  struct ListMeta {
    std::string kind;
    std::string resource_version;
    std::string continue_token;
  };
  // After the last piece: checks that one complete object was read and
  // returns its kind, metadata.resourceVersion and metadata.continue.
  Result<ListMeta> finish() const;

 private:
  enum class Capture { kNone, kKey, kKind, kMetadata, kItem };

  std::size_t max_item_bytes_;
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  bool expecting_key_ = false;
  bool in_items_ = false;
  bool saw_object_ = false;
  bool done_ = false;
  std::string key_;  // the current member name at depth 1
  Capture capture_ = Capture::kNone;
  int capture_depth_ = 0;
  std::string buffer_;
  std::string kind_json_;
  std::string metadata_json_;
};

}  // namespace irsa::kube
