// One page of a list from the API server, read incrementally
// (kube::ListStreamParser) as it arrives, each item decoded
// (kube::ObjectDecoder::decode_object) as the reflector does.
//
// Properties: items, errors and the list's kind/resourceVersion/continue do
// not depend on how the body is cut into chunks; for a body that is a JSON
// object (per nlohmann, top-level keys unique, no \u escapes, BOM or NUL), the
// stream parser succeeds and hands out exactly the object elements of
// "items", in order, with the same kind and metadata; decoding never crashes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "kube/json_stream.h"
#include "kube/object_meta.h"

namespace {

using irsa::fuzz::excerpt;
using nlohmann::json;

struct Reading {
  std::vector<std::string> items;
  bool fed = true;
  std::optional<irsa::kube::ListStreamParser::ListMeta> meta;  // when finish() succeeded
};

Reading read(const std::vector<std::string_view>& pieces) {
  irsa::kube::ListStreamParser parser(std::size_t{1} << 20);
  Reading out;
  for (std::string_view piece : pieces) {
    auto status = parser.feed(piece, [&](std::string_view item) {
      out.items.emplace_back(item);
      return true;
    });
    if (!status) {
      out.fed = false;
      return out;
    }
  }
  if (auto meta = parser.finish()) out.meta = *meta;
  return out;
}

bool same(const Reading& a, const Reading& b) {
  if (a.fed != b.fed || a.meta.has_value() != b.meta.has_value()) return false;
  if (!a.fed) return true;
  if (a.items != b.items) return false;
  return !a.meta ||
         (a.meta->kind == b.meta->kind && a.meta->resource_version == b.meta->resource_version &&
          a.meta->continue_token == b.meta->continue_token);
}

std::string describe(const Reading& r) {
  std::string out = r.fed ? "fed" : "feed error";
  out += r.meta ? ", finished" : ", not finished";
  out += ", " + std::to_string(r.items.size()) + " items";
  for (const auto& item : r.items) out += "\n  " + excerpt(item, 80);
  return out;
}

std::string string_at(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = irsa::fuzz::as_text(data, size);
  Reading whole = read({text});
  Reading cut = read(irsa::fuzz::chunks(text));
  FUZZ_CHECK(same(whole, cut), "whole: " + describe(whole) + "\ncut: " + describe(cut));
  if (size <= 2048) {
    std::vector<std::string_view> single;
    for (std::size_t i = 0; i < text.size(); ++i) single.push_back(text.substr(i, 1));
    Reading bytes = read(single);
    FUZZ_CHECK(same(whole, bytes), "whole: " + describe(whole) + "\nbytes: " + describe(bytes));
  }

  irsa::kube::ObjectDecoder decoder("eks.amazonaws.com");
  for (const auto& item : whole.items) {
    FUZZ_CHECK(!item.empty() && item.front() == '{', excerpt(item));
    (void)decoder.decode_object(item);
  }

  // Against a real parser, for bodies the API server could send.
  // (nlohmann also skips a UTF-8 byte order mark, which the API server never sends.)
  // nlohmann also stops at a NUL byte after the value.
  if (text.find("\\u") != std::string_view::npos || text.rfind("\xEF\xBB\xBF", 0) == 0 ||
      text.find('\0') != std::string_view::npos) {
    return 0;
  }
  bool unique_keys = true;
  std::set<std::string> top_keys;
  json document = json::parse(
      text,
      [&](int depth, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::key && depth == 1 &&
            !top_keys.insert(parsed.get<std::string>()).second) {
          unique_keys = false;
        }
        return true;
      },
      false);
  if (document.is_discarded() || !document.is_object() || !unique_keys) return 0;
  FUZZ_CHECK(whole.fed && whole.meta,
             "a JSON object the stream parser refuses: " + describe(whole));
  std::vector<json> expected;
  if (auto items = document.find("items"); items != document.end() && items->is_array()) {
    for (const auto& item : *items) {
      if (item.is_object()) expected.push_back(item);
    }
  }
  FUZZ_CHECK(expected.size() == whole.items.size(),
             std::to_string(expected.size()) + " object items, streamed: " + describe(whole));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    FUZZ_CHECK(json::parse(whole.items[i]) == expected[i], "item " + std::to_string(i));
  }
  FUZZ_CHECK(whole.meta->kind == string_at(document, "kind"), whole.meta->kind);
  const json metadata = document.value("metadata", json::object());
  if (metadata.is_object()) {
    FUZZ_CHECK(whole.meta->resource_version == string_at(metadata, "resourceVersion"),
               whole.meta->resource_version);
    FUZZ_CHECK(whole.meta->continue_token == string_at(metadata, "continue"),
               whole.meta->continue_token);
  }
  return 0;
}
