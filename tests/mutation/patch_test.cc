// The JSON Patch as the webhook writes it: text built as operations are
// added, in the order a client applies them.
#include "mutation/patch.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace irsa::mutation {
namespace {

using nlohmann::json;

TEST(Patch, WritesOperationsInOrderWithPrependedOnesFirst) {
  Patch patch;
  EXPECT_TRUE(patch.empty());
  EXPECT_EQ(patch.text(), "[]");
  patch.add("/spec/containers/0", "/env/-", R"({"name":"A","value":"1"})");
  patch.remove("/spec/volumes/2");
  patch.prepend_add("/metadata/labels", R"({"x":"y"})");
  patch.prepend_add("/metadata", "{}");
  EXPECT_EQ(patch.size(), 4u);
  EXPECT_EQ(patch.to_json(), json::parse(R"([
    {"op":"add","path":"/metadata","value":{}},
    {"op":"add","path":"/metadata/labels","value":{"x":"y"}},
    {"op":"add","path":"/spec/containers/0/env/-","value":{"name":"A","value":"1"}},
    {"op":"remove","path":"/spec/volumes/2"}])"));
}

TEST(Patch, AppendKeepsEachPatchsOwnOrder) {
  Patch first;
  first.remove("/spec/containers/0/env/1");
  Patch second;
  second.add("/spec/volumes/-", "1");
  second.prepend_add("/metadata/labels", "{}");
  first.append(std::move(second));
  EXPECT_TRUE(second.empty());
  EXPECT_EQ(first.size(), 3u);
  EXPECT_EQ(first.text(), R"([{"op":"remove","path":"/spec/containers/0/env/1"},)"
                          R"({"op":"add","path":"/metadata/labels","value":{}},)"
                          R"({"op":"add","path":"/spec/volumes/-","value":1}])");

  Patch empty;
  empty.append(std::move(first));
  EXPECT_EQ(empty.size(), 3u);
  EXPECT_EQ(json::parse(empty.text()).size(), 3u);
}

TEST(Patch, PathsAreJsonEscapedWhereTheyNeedIt) {
  Patch patch;
  patch.add("/metadata/labels/a\"b\\c", "", "\"v\"");
  patch.add("/metadata/annotations/caf\xc3\xa9", "~1x", "1");
  auto parsed = patch.to_json();
  EXPECT_EQ(parsed[0]["path"], "/metadata/labels/a\"b\\c");
  EXPECT_EQ(parsed[1]["path"], "/metadata/annotations/caf\xc3\xa9~1x");
}

TEST(Patch, APathThatIsNotUtf8ThrowsAndLeavesThePatchAsItWas) {
  Patch patch;
  patch.add("/a", "1");
  EXPECT_THROW(patch.add("/b", "\xff", "2"), std::invalid_argument);
  EXPECT_THROW(patch.prepend_add("/c\xfe", "3"), std::invalid_argument);
  EXPECT_EQ(patch.size(), 1u);
  EXPECT_EQ(patch.text(), R"([{"op":"add","path":"/a","value":1}])");
}

TEST(Patch, RefusesAnOperationPastItsBudgetAndStaysAsItWas) {
  const std::string value = R"({"name":"AWS_ROLE_ARN","value":"arn:aws:iam::1:role/r"})";
  Patch patch(1000);
  std::size_t added = 0;
  try {
    for (; added < 1000; ++added) {
      patch.add("/spec/containers/" + std::to_string(added), "/env/-", value);
    }
    FAIL() << "no PatchTooLarge";
  } catch (const PatchTooLarge& e) {
    EXPECT_EQ(e.max_bytes(), 1000u);
  }
  EXPECT_EQ(patch.size(), added);
  EXPECT_LE(patch.text_size(), 1000u);
  EXPECT_EQ(patch.text().size(), patch.text_size());
  EXPECT_NO_THROW(json::parse(patch.text()));
  EXPECT_THROW(patch.remove("/spec/volumes/" + std::string(1000, '9')), PatchTooLarge);
  EXPECT_THROW(patch.prepend_add("/metadata/labels", std::string(1000, '1')), PatchTooLarge);
  EXPECT_EQ(patch.size(), added);
}

TEST(Patch, AppendKeepsTheSmallerBudget) {
  Patch small(200);
  small.remove("/spec/volumes/0");
  Patch big;
  big.add("/a", std::string(150, '1'));
  EXPECT_THROW(small.append(std::move(big)), PatchTooLarge);
  EXPECT_EQ(small.size(), 1u);

  Patch unlimited;
  Patch limited(100);
  limited.add("/a", "1");
  unlimited.append(std::move(limited));
  EXPECT_EQ(unlimited.max_bytes(), 100u);
  EXPECT_THROW(unlimited.add("/b", std::string(100, '2')), PatchTooLarge);
}

TEST(Patch, PiecesSpellTheText) {
  Patch patch;
  patch.add("/a", "1");
  patch.prepend_add("/b", "2");
  std::string joined;
  for (std::string_view piece : patch.pieces()) joined += piece;
  EXPECT_EQ(joined, patch.text());
  EXPECT_EQ(patch.text_size(), joined.size());
  std::string empty;
  for (std::string_view piece : Patch().pieces()) empty += piece;
  EXPECT_EQ(empty, "[]");
}

}  // namespace
}  // namespace irsa::mutation
