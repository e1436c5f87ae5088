// Framing of watch streams and lists, whatever the chunk boundaries; object
// and event decoding; backoff delays.
#include "kube/json_stream.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/backoff.h"
#include "kube/object_meta.h"

namespace irsa::kube {
namespace {

using ::testing::ElementsAre;

// Feeds `text` in pieces of `step` bytes.
std::vector<std::string> split_objects(const std::string& text, std::size_t step) {
  JsonObjectSplitter splitter;
  std::vector<std::string> objects;
  for (std::size_t i = 0; i < text.size(); i += step) {
    auto status = splitter.feed(std::string_view(text).substr(i, step), [&](std::string_view o) {
      objects.emplace_back(o);
      return true;
    });
    EXPECT_TRUE(status) << status.error();
  }
  EXPECT_TRUE(splitter.idle());
  return objects;
}

TEST(JsonObjectSplitter, SplitsEventsAcrossAnyChunkBoundary) {
  const std::string stream =
      "{\"type\":\"ADDED\",\"object\":{\"a\":\"}{\\\"\"}}\n"
      "  {\"type\":\"BOOKMARK\",\"object\":{\"l\":[1,{\"x\":\"]\"}]}}\n";
  for (std::size_t step : {1u, 2u, 3u, 7u, 1000u}) {
    EXPECT_THAT(split_objects(stream, step),
                ElementsAre("{\"type\":\"ADDED\",\"object\":{\"a\":\"}{\\\"\"}}",
                            "{\"type\":\"BOOKMARK\",\"object\":{\"l\":[1,{\"x\":\"]\"}]}}"))
        << "step " << step;
  }
}

TEST(JsonObjectSplitter, RejectsWhatIsNotAnObjectStream) {
  JsonObjectSplitter splitter;
  EXPECT_FALSE(splitter.feed("[1,2]", [](std::string_view) { return true; }));
}

TEST(JsonObjectSplitter, RefusesAnOversizedObject) {
  JsonObjectSplitter splitter(16);
  EXPECT_FALSE(
      splitter.feed("{\"a\":\"0123456789abcdef\"}", [](std::string_view) { return true; }));
}

TEST(JsonObjectSplitter, ReportsAPartialObjectAsNotIdle) {
  JsonObjectSplitter splitter;
  ASSERT_TRUE(splitter.feed("{\"type\":\"ADD", [](std::string_view) { return true; }));
  EXPECT_FALSE(splitter.idle());
}

TEST(ListStreamParser, HandsOutItemsAndKeepsListMetadataAcrossChunks) {
  const std::string list =
      R"({"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1",)"
      R"("metadata":{"resourceVersion":"42","continue":"c1:2/+="},)"
      R"("items":[{"metadata":{"name":"a","annotations":{"x":"]}"}}},{"metadata":{"name":"b"}}]})"
      "\n";
  for (std::size_t step : {1u, 5u, 13u, 4096u}) {
    ListStreamParser parser;
    std::vector<std::string> items;
    for (std::size_t i = 0; i < list.size(); i += step) {
      auto status = parser.feed(std::string_view(list).substr(i, step), [&](std::string_view item) {
        items.emplace_back(item);
        return true;
      });
      ASSERT_TRUE(status) << status.error();
    }
    auto meta = parser.finish();
    ASSERT_TRUE(meta) << meta.error();
    EXPECT_EQ(meta->kind, "PartialObjectMetadataList");
    EXPECT_EQ(meta->resource_version, "42");
    EXPECT_EQ(meta->continue_token, "c1:2/+=");
    EXPECT_THAT(items, ElementsAre(R"({"metadata":{"name":"a","annotations":{"x":"]}"}}})",
                                   R"({"metadata":{"name":"b"}})"))
        << "step " << step;
  }
}

TEST(ListStreamParser, IgnoresItemsKeyNestedInsideOtherFields) {
  ListStreamParser parser;
  std::vector<std::string> items;
  ASSERT_TRUE(parser.feed(R"({"extra":{"items":[{"no":1}]},"items":[],"metadata":{}})",
                          [&](std::string_view item) {
                            items.emplace_back(item);
                            return true;
                          }));
  EXPECT_TRUE(parser.finish());
  EXPECT_TRUE(items.empty());
}

TEST(ListStreamParser, ATruncatedBodyIsAnError) {
  ListStreamParser parser;
  ASSERT_TRUE(parser.feed(R"({"metadata":{"resourceVersion":"1"},"items":[{"a":1})",
                          [](std::string_view) { return true; }));
  EXPECT_FALSE(parser.finish());
  ListStreamParser empty;
  EXPECT_FALSE(empty.finish());
}

TEST(ObjectDecoder, KeepsOnlyAnnotationsUnderThePrefix) {
  ObjectDecoder decoder("eks.amazonaws.com");
  auto meta = decoder.decode_object(
      R"({"metadata":{"name":"app","namespace":"team","resourceVersion":"7","annotations":{)"
      R"("eks.amazonaws.com/role-arn":"arn:aws:iam::1:role/x","eks.amazonaws.com.evil/role-arn":"no",)"
      R"("kubectl.kubernetes.io/last-applied-configuration":"{}"}}})");
  ASSERT_TRUE(meta) << meta.error();
  EXPECT_EQ(meta->name, "app");
  EXPECT_EQ(meta->namespace_name, "team");
  EXPECT_EQ(meta->resource_version, "7");
  ASSERT_EQ(meta->annotations.size(), 1u);
  EXPECT_EQ(meta->annotations.at("eks.amazonaws.com/role-arn"), "arn:aws:iam::1:role/x");
}

TEST(ObjectDecoder, KeepsNearMissesOfThePrefixSoTheyCanBeReported) {
  ObjectDecoder decoder("eks.amazonaws.com");
  auto meta = decoder.decode_object(
      R"({"metadata":{"name":"app","annotations":{"eks.amazonws.com/role-arn":"x",)"
      R"("eks.amazonws.com/unrelated":"y","example.com/role-arn":"z"}}})");
  ASSERT_TRUE(meta) << meta.error();
  ASSERT_EQ(meta->annotations.size(), 1u);
  EXPECT_EQ(meta->annotations.at("eks.amazonws.com/role-arn"), "x");
}

TEST(ObjectDecoder, DecodesEventsOfEveryType) {
  ObjectDecoder decoder("p");
  auto added = decoder.decode_event(
      R"({"type":"ADDED","object":{"kind":"PartialObjectMetadata","metadata":{"name":"a","namespace":"n","resourceVersion":"5"}}})");
  ASSERT_TRUE(added) << added.error();
  EXPECT_EQ(added->type, EventType::kAdded);
  EXPECT_EQ(added->meta.name, "a");
  EXPECT_NE(added->object_json.find("\"name\":\"a\""), std::string::npos);

  auto bookmark = decoder.decode_event(
      R"({"type":"BOOKMARK","object":{"kind":"ServiceAccount","metadata":{"resourceVersion":"9"}}})");
  ASSERT_TRUE(bookmark);
  EXPECT_EQ(bookmark->type, EventType::kBookmark);
  EXPECT_EQ(bookmark->meta.resource_version, "9");

  auto error = decoder.decode_event(
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->type, EventType::kError);
  EXPECT_EQ(error->status_code, 410);
  EXPECT_EQ(error->status_message, "too old");

  EXPECT_FALSE(decoder.decode_event(R"({"type":"WHATEVER","object":{}})"));
  EXPECT_FALSE(decoder.decode_event(R"({"type":"ADDED"})"));
  EXPECT_FALSE(decoder.decode_event("not json"));
}

TEST(Backoff, GrowsExponentiallyUpToTheCapWithJitterBelowIt) {
  BackoffOptions options;
  options.initial = std::chrono::milliseconds(100);
  options.max = std::chrono::milliseconds(1000);
  options.jitter = 0.5;
  Backoff backoff(options, 42);
  std::vector<int64_t> ceilings = {100, 200, 400, 800, 1000, 1000, 1000};
  for (int64_t ceiling : ceilings) {
    auto delay = backoff.next().count();
    EXPECT_LE(delay, ceiling);
    EXPECT_GE(delay, ceiling / 2);
  }
  backoff.reset();
  EXPECT_LE(backoff.next().count(), 100);
}

}  // namespace
}  // namespace irsa::kube
