// The API server's watch stream: framing of concatenated JSON objects
// (kube::JsonObjectSplitter) across arbitrary chunk boundaries, and decoding
// of each event (kube::ObjectDecoder::decode_event), as the reflector does.
//
// Properties: the objects framed do not depend on how the stream is cut into
// chunks (whole, byte by byte, or pieces of random sizes), nor does the
// outcome; each framed object starts with '{' and ends with '}' or ']'; an
// object over the size limit is an error, never held; decoding an event
// never crashes, an ADDED/MODIFIED/DELETED event's object is JSON that the
// list decoder reads to the same metadata, and annotations kept are only
// those under the prefix.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "kube/json_stream.h"
#include "kube/object_meta.h"

namespace {

using irsa::fuzz::excerpt;

constexpr std::size_t kMaxObject = 1 << 14;

struct Framing {
  std::vector<std::string> objects;
  bool ok = true;
  bool idle = true;
};

Framing frame(const std::vector<std::string_view>& pieces) {
  irsa::kube::JsonObjectSplitter splitter(kMaxObject);
  Framing out;
  for (std::string_view piece : pieces) {
    auto status = splitter.feed(piece, [&](std::string_view object) {
      out.objects.emplace_back(object);
      return true;
    });
    if (!status) {
      out.ok = false;
      break;
    }
  }
  out.idle = splitter.idle();
  return out;
}

std::vector<std::string_view> bytes(std::string_view text) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < text.size(); ++i) out.push_back(text.substr(i, 1));
  return out;
}

std::string describe(const Framing& framing) {
  std::string out = framing.ok ? "ok" : "error";
  out += ", " + std::to_string(framing.objects.size()) + " objects";
  for (const auto& object : framing.objects) out += "\n  " + excerpt(object, 80);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = irsa::fuzz::as_text(data, size);
  Framing whole = frame({text});
  Framing cut = frame(irsa::fuzz::chunks(text));
  FUZZ_CHECK(whole.ok == cut.ok, "whole: " + describe(whole) + "\ncut: " + describe(cut));
  if (whole.ok) {
    FUZZ_CHECK(whole.objects == cut.objects,
               "whole: " + describe(whole) + "\ncut: " + describe(cut));
    FUZZ_CHECK(whole.idle == cut.idle, "idle differs");
  }
  if (size <= 2048) {
    Framing single = frame(bytes(text));
    FUZZ_CHECK(whole.ok == single.ok && (!whole.ok || whole.objects == single.objects),
               "whole: " + describe(whole) + "\nbyte by byte: " + describe(single));
  }

  irsa::kube::ObjectDecoder decoder("eks.amazonaws.com");
  irsa::kube::ObjectDecoder all("");
  for (const auto& object : whole.objects) {
    FUZZ_CHECK(object.size() <= kMaxObject, "object over the limit");
    FUZZ_CHECK(object.front() == '{' && (object.back() == '}' || object.back() == ']'),
               excerpt(object));
    auto event = decoder.decode_event(object);
    if (!event) continue;
    for (const auto& [key, value] : event->meta.annotations) {
      FUZZ_CHECK(key.rfind("eks.amazonaws.com/", 0) == 0, "annotation kept: " + key);
    }
    if (event->type == irsa::kube::EventType::kAdded ||
        event->type == irsa::kube::EventType::kModified ||
        event->type == irsa::kube::EventType::kDeleted) {
      auto meta = decoder.decode_object(event->object_json);
      FUZZ_CHECK(meta.ok(), meta.error() + ": " + excerpt(event->object_json));
      FUZZ_CHECK(meta->name == event->meta.name &&
                     meta->namespace_name == event->meta.namespace_name &&
                     meta->resource_version == event->meta.resource_version &&
                     meta->annotations == event->meta.annotations,
                 "event object decodes differently: " + excerpt(event->object_json));
    }
    (void)all.decode_event(object);
  }
  return 0;
}
