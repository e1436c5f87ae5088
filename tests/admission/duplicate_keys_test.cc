// Duplicate keys found anywhere in a parsed document, with the JSON Pointer
// of the object that holds them, whatever values sit between.
#include "admission/duplicate_keys.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace irsa::admission {
namespace {

std::optional<DuplicateKey> find(const std::string& text) {
  static simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(text).get(root), simdjson::SUCCESS) << text;
  return find_duplicate_key(parser.doc);
}

std::string where(const std::string& text) {
  auto found = find(text);
  return found ? found->key + " at " + found->pointer() : "none";
}

TEST(FindDuplicateKey, FindsNoneInDocumentsWithoutDuplicates) {
  for (const char* text :
       {"1", "\"x\"", "null", "[]", "{}", "[1,2,3]", R"({"a":{"a":{"a":[{"a":1}]}}})",
        R"({"a":1,"b":-1,"c":1.5,"d":18446744073709551615,"e":true,"f":false,"g":null})",
        R"([{"x":1},{"x":2}])"}) {
    EXPECT_EQ(where(text), "none") << text;
  }
}

TEST(FindDuplicateKey, StepsOverEveryKindOfValue) {
  EXPECT_EQ(where(R"({"a":1,"b":-1,"c":1.5,"d":18446744073709551615,"n":null,"t":true,"s":"x",)"
                  R"("o":{},"l":[],"e":[1,2.5,-3,null,"s",[],{},{"x":1,"y":[1],"x":2}]})"),
            "x at /e/7");
  EXPECT_EQ(where(R"([{"a":[]},{},{"b":{},"b":1}])"), "b at /2");
  EXPECT_EQ(where(R"({"a":1.5,"a":2})"), "a at ");
}

TEST(FindDuplicateKey, ReportsTheRootObjectsOwnKeysFirst) {
  EXPECT_EQ(where(R"({"request":{"uid":1,"uid":2},"apiVersion":1,"apiVersion":2})"),
            "apiVersion at ");
  EXPECT_EQ(where(R"({"request":{"uid":1,"uid":2},"apiVersion":1})"), "uid at /request");
}

TEST(FindDuplicateKey, SortsTheKeysOfLargeObjects) {
  std::string text = "{";
  for (int i = 0; i < 100; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  EXPECT_EQ(where(text + "\"last\":[1.5]}"), "none");
  EXPECT_EQ(where(text + "\"k42\":{}}"), "k42 at ");
  EXPECT_EQ(where("{\"big\":" + text + "\"k99\":0.5}}"), "k99 at /big");
}

TEST(FindDuplicateKey, TellsKeysThatDifferOnlyLateApart) {
  EXPECT_EQ(where(R"({"serviceAccountName":1,"serviceAccountNamf":2})"), "none");
  EXPECT_EQ(where(R"({"":1,"":2})"), " at ");
  EXPECT_EQ(where(R"({"a\u0000b":1,"a\u0000c":2})"), "none");
}

TEST(DuplicateKey, EscapesThePointerAndDescribesOnOneLine) {
  DuplicateKey key{{"metadata", "annotations", "a/b~c"}, "x\n"};
  EXPECT_EQ(key.pointer(), "/metadata/annotations/a~1b~0c");
  EXPECT_EQ(key.describe(), R"(duplicate key "x\x0a" at /metadata/annotations/a~1b~0c)");
  EXPECT_EQ((DuplicateKey{{}, "k"}).describe(), R"(duplicate key "k" at the top level)");
  DuplicateKey long_path{{std::string(300, 'p')}, "k"};
  EXPECT_LT(long_path.describe().size(), 220u);
  EXPECT_EQ(long_path.describe().substr(long_path.describe().size() - 3), "...");
}

}  // namespace
}  // namespace irsa::admission
