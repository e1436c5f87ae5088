// Manifest reading: JSON and YAML documents, core-schema typing, Lists,
// error positions, limits, files.
#include "manifest/documents.h"

#include <cmath>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace irsa::manifest {
namespace {

using nlohmann::json;
using namespace std::string_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::vector<json> parse_ok(std::string_view text) {
  auto result = parse_documents(text, "input.yaml");
  EXPECT_TRUE(result.ok()) << result.error();
  return result.ok() ? *result : std::vector<json>{};
}

json scalar(std::string_view yaml_value) {
  auto docs = parse_ok("v: " + std::string(yaml_value) + "\n");
  EXPECT_EQ(docs.size(), 1u);
  return docs.empty() ? json() : docs[0]["v"];
}

std::string parse_error(std::string_view text) {
  auto result = parse_documents(text, "input.yaml");
  EXPECT_FALSE(result.ok());
  return result.ok() ? std::string() : result.error();
}

using test_support::TempDir;

TEST(ParseDocuments, QuotedTrueStaysAString) {
  EXPECT_EQ(scalar("\"true\""), json("true"));
  EXPECT_EQ(scalar("'true'"), json("true"));
  EXPECT_EQ(scalar("\"8443\""), json("8443"));
  EXPECT_EQ(scalar("''"), json(""));
}

TEST(ParseDocuments, PlainBooleansOfTheCoreSchemaAreBooleans) {
  for (const char* text : {"true", "True", "TRUE"}) EXPECT_EQ(scalar(text), json(true)) << text;
  for (const char* text : {"false", "False", "FALSE"}) EXPECT_EQ(scalar(text), json(false)) << text;
}

TEST(ParseDocuments, YamlOneOneBooleansStayStrings) {
  for (const char* text : {"yes", "no", "on", "off", "y", "tRUE"}) {
    EXPECT_EQ(scalar(text), json(text)) << text;
  }
}

TEST(ParseDocuments, PlainNullsAreNull) {
  for (const char* text : {"~", "null", "Null", "NULL", ""}) {
    EXPECT_TRUE(scalar(text).is_null()) << text;
  }
  EXPECT_EQ(scalar("nULL"), json("nULL"));
}

TEST(ParseDocuments, PlainIntegersAreIntegers) {
  json port = scalar("8443");
  EXPECT_TRUE(port.is_number_integer());
  EXPECT_EQ(port, json(8443));
  EXPECT_EQ(scalar("-17"), json(-17));
  EXPECT_EQ(scalar("+17"), json(17));
  EXPECT_EQ(scalar("0755"), json(755));  // YAML 1.2: leading zero is still decimal
  EXPECT_EQ(scalar("0o17"), json(15));
  EXPECT_EQ(scalar("0x1F"), json(31));
  EXPECT_EQ(scalar("9223372036854775807"), json(INT64_MAX));
  EXPECT_EQ(scalar("-9223372036854775808"), json(INT64_MIN));
  EXPECT_EQ(scalar("18446744073709551615"), json(UINT64_MAX));
}

TEST(ParseDocuments, IntegersBeyondSixtyFourBitsBecomeFloats) {
  json big = scalar("123456789012345678901234567890");
  EXPECT_TRUE(big.is_number_float());
  EXPECT_DOUBLE_EQ(big.get<double>(), 1.2345678901234568e29);
}

TEST(ParseDocuments, PlainFloatsAreNumbers) {
  EXPECT_EQ(scalar("1.5"), json(1.5));
  EXPECT_EQ(scalar("-.5"), json(-0.5));
  EXPECT_EQ(scalar("1e3"), json(1000.0));
  EXPECT_EQ(scalar("2.5E-1"), json(0.25));
  EXPECT_TRUE(std::isinf(scalar(".inf").get<double>()));
  EXPECT_LT(scalar("-.Inf").get<double>(), 0);
  EXPECT_TRUE(std::isnan(scalar(".nan").get<double>()));
}

TEST(ParseDocuments, TextThatOnlyLooksNumericStaysAString) {
  for (const char* text : {"1.2.3", "0x", "0xZZ", "+0x10", "1_000", "12:30", "1e", "v1", "."}) {
    EXPECT_EQ(scalar(text), json(text)) << text;
  }
}

TEST(ParseDocuments, ExplicitTagsDecideTheType) {
  EXPECT_EQ(scalar("!!str 8443"), json("8443"));
  EXPECT_EQ(scalar("!!str true"), json("true"));
  EXPECT_EQ(scalar("!!int \"42\""), json(42));
  EXPECT_EQ(scalar("!!float 1"), json(1.0));
  EXPECT_EQ(scalar("!!bool \"true\""), json(true));
  EXPECT_EQ(scalar("!custom 5"), json("5"));
}

TEST(ParseDocuments, ExplicitTagWithAWrongValueIsAnError) {
  EXPECT_THAT(parse_error("v: !!int abc\n"), HasSubstr("!!int"));
}

TEST(ParseDocuments, MapsSequencesAndNestedValuesConvert) {
  auto docs = parse_ok(
      "apiVersion: v1\n"
      "kind: ServiceAccount\n"
      "metadata:\n"
      "  name: app\n"
      "  annotations:\n"
      "    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/app\n"
      "list: [1, two, {three: 3}]\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0], json::parse(R"({
      "apiVersion": "v1", "kind": "ServiceAccount",
      "metadata": {"name": "app", "annotations": {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/app"}},
      "list": [1, "two", {"three": 3}]})"));
}

TEST(ParseDocuments, MapKeysAreTheirTextEvenWhenTheyLookTyped) {
  auto docs = parse_ok("1: a\ntrue: b\n~: c\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0], json::parse(R"({"1": "a", "true": "b", "null": "c"})"));
}

TEST(ParseDocuments, ComplexMapKeysAreAnError) {
  EXPECT_THAT(parse_error("? [a, b]\n: c\n"), HasSubstr("keys must be scalars"));
}

TEST(ParseDocuments, AliasesAreResolved) {
  auto docs = parse_ok("base: &b {x: 1}\ncopy: *b\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["copy"], json::parse(R"({"x": 1})"));
}

TEST(ParseDocuments, MergeKeysFillKeysTheMapDoesNotSet) {
  auto docs = parse_ok(
      "base: &b {x: 1, y: 2}\n"
      "other: &o {z: 3, x: 9}\n"
      "merged:\n"
      "  <<: [*b, *o]\n"
      "  y: 5\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["merged"], json::parse(R"({"x": 1, "y": 5, "z": 3})"));
}

TEST(ParseDocuments, QuotedMergeKeyIsAnOrdinaryKey) {
  auto docs = parse_ok("'<<': 1\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0], json::parse(R"({"<<": 1})"));
}

TEST(ParseDocuments, MultipleDocumentsSkipEmptyOnes) {
  auto docs = parse_ok(
      "---\n"
      "# only a comment\n"
      "---\n"
      "a: 1\n"
      "---\n"
      "---\n"
      "~\n"
      "---\n"
      "b: 2\n"
      "...\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0], json::parse(R"({"a": 1})"));
  EXPECT_EQ(docs[1], json::parse(R"({"b": 2})"));
}

TEST(ParseDocuments, EmptyInputHasNoDocuments) {
  EXPECT_TRUE(parse_ok("").empty());
  EXPECT_TRUE(parse_ok("   \n# nothing\n").empty());
}

TEST(ParseDocuments, ListIsReplacedByItsItems) {
  auto docs = parse_ok(
      "apiVersion: v1\n"
      "kind: List\n"
      "items:\n"
      "- {kind: ServiceAccount, metadata: {name: a}}\n"
      "- {kind: ServiceAccount, metadata: {name: b}}\n"
      "---\n"
      "kind: ServiceAccount\n"
      "metadata: {name: c}\n");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0]["metadata"]["name"], "a");
  EXPECT_EQ(docs[1]["metadata"]["name"], "b");
  EXPECT_EQ(docs[2]["metadata"]["name"], "c");
}

TEST(ParseDocuments, TypedListKindIsReplacedByItsItems) {
  auto docs = parse_ok(R"({"apiVersion": "v1", "kind": "ServiceAccountList",
                          "metadata": {"resourceVersion": "1"},
                          "items": [{"kind": "ServiceAccount", "metadata": {"name": "a"}}]})");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["metadata"]["name"], "a");
}

TEST(ParseDocuments, ListWithoutItemsHasNoDocuments) {
  EXPECT_TRUE(parse_ok("kind: List\nitems: []\n").empty());
  EXPECT_TRUE(parse_ok("kind: List\n").empty());
}

TEST(ParseDocuments, KindEndingInListWithoutItemsArrayIsKept) {
  auto docs = parse_ok("kind: AllowList\nspec: {}\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0]["kind"], "AllowList");
}

TEST(ParseDocuments, JsonObjectIsOneDocument) {
  auto docs = parse_ok("  \n {\"kind\": \"ServiceAccount\", \"port\": 8443, \"flag\": \"true\"}");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0], json::parse(R"({"kind": "ServiceAccount", "port": 8443, "flag": "true"})"));
}

TEST(ParseDocuments, JsonTopLevelArrayIsAListOfDocuments) {
  auto docs = parse_ok(R"([{"a": 1}, null, {"kind": "List", "items": [{"b": 2}]}])");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0], json::parse(R"({"a": 1})"));
  EXPECT_EQ(docs[1], json::parse(R"({"b": 2})"));
}

TEST(ParseDocuments, JsonWithByteOrderMarkParses) {
  auto docs = parse_ok("\xEF\xBB\xBF{\"a\": 1}");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0], json::parse(R"({"a": 1})"));
}

TEST(ParseDocuments, BadJsonNamesOriginLineAndColumn) {
  std::string error = parse_error("{\"a\": 1,\n  \"b\": tru}");
  EXPECT_THAT(error, StartsWith("input.yaml: line 2, column "));
  EXPECT_THAT(error, HasSubstr("syntax error"));
  EXPECT_THAT(error, Not(HasSubstr("json.exception")));
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(ParseDocuments, BadYamlGivesTheLineNumber) {
  std::string error = parse_error("a: 1\nb: [1, 2\nc: 3\n");
  EXPECT_THAT(error, StartsWith("input.yaml: line "));
  EXPECT_THAT(error, HasSubstr("column"));
  EXPECT_EQ(error.find('\n'), std::string::npos);

  EXPECT_THAT(parse_error("a: 1\nb: c: d\n"), StartsWith("input.yaml: line 2, column "));
}

TEST(ParseDocuments, InvalidUtf8InYamlIsAnErrorWithPosition) {
  EXPECT_THAT(parse_error("a: 1\nb: \xff\xfe\n"), StartsWith("input.yaml: line 2, column 4: "));
}

std::string nested(char open, char close, int depth) {
  return std::string(static_cast<std::size_t>(depth), open) +
         std::string(static_cast<std::size_t>(depth), close);
}

TEST(ParseDocuments, YamlNestingUpToTheLimitIsAccepted) {
  auto docs = parse_ok("v: " + nested('[', ']', kMaxNestingDepth - 1));
  ASSERT_EQ(docs.size(), 1u);
}

TEST(ParseDocuments, YamlNestingBeyondTheLimitIsRefused) {
  EXPECT_THAT(parse_error(nested('[', ']', kMaxNestingDepth + 1)), HasSubstr("nesting deeper"));
  EXPECT_THAT(parse_error("a: " + nested('[', ']', kMaxNestingDepth)), HasSubstr("nesting deeper"));
}

TEST(ParseDocuments, VeryDeepInputIsAnErrorNotACrash) {
  EXPECT_THAT(parse_error("a: " + nested('[', ']', 100000)), HasSubstr("nesting deeper"));
  EXPECT_THAT(parse_error("a: " + std::string(100000, '{')), HasSubstr("nesting deeper"));
  std::string block;
  for (int i = 0; i < 3000; ++i) block += std::string(static_cast<std::size_t>(i), ' ') + "k:\n";
  EXPECT_THAT(parse_error(block), HasSubstr("nesting deeper"));
  EXPECT_THAT(parse_error(nested('{', '}', 100000)), HasSubstr("nesting deeper"));
}

TEST(ParseDocuments, JsonNestingLimitCountsContainers) {
  EXPECT_EQ(parse_ok(nested('[', ']', kMaxNestingDepth)).size(), 1u);
  EXPECT_THAT(parse_error(nested('[', ']', kMaxNestingDepth + 1)), HasSubstr("nesting deeper"));
  // Brackets inside strings do not count.
  EXPECT_EQ(parse_ok("{\"a\": \"" + std::string(1000, '[') + "\"}").size(), 1u);
}

TEST(ParseDocuments, SelfReferencingAliasIsRefused) {
  EXPECT_FALSE(parse_documents("&a [*a]\n", "loop.yaml").ok());
}

TEST(ParseDocuments, AliasExpansionBombIsRefused) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char previous = 'a';
  for (char name = 'b'; name <= 'j'; ++name) {
    bomb += std::string(1, name) + ": &" + name + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + previous;
    bomb += "]\n";
    previous = name;
  }
  EXPECT_THAT(parse_error(bomb), HasSubstr("aliases"));
}

TEST(ParseDocuments, AliasesWithinTheBudgetAreExpanded) {
  // Four levels of ten aliases: 10,000 scalars from a 150-byte text.
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char previous = 'a';
  for (char name = 'b'; name <= 'd'; ++name) {
    text += std::string(1, name) + ": &" + name + " [";
    for (int i = 0; i < 10; ++i) text += std::string(i ? ", *" : "*") + previous;
    text += "]\n";
    previous = name;
  }
  auto result = parse_documents(text, "anchors.yaml");
  ASSERT_TRUE(result.ok()) << result.error();
  ASSERT_EQ(result->size(), 1u);
  const auto& d = (*result)[0]["d"];
  ASSERT_EQ(d.size(), 10u);
  EXPECT_EQ(d[9][9][9][9], "x");
}

TEST(ParseDocuments, NextLineAndNoBreakSpaceEscapesAreUtf8) {
  // Found by the manifest fuzzer: yaml-cpp writes \N and \_ as the bytes
  // 0x85 and 0xA0, which mutate and audit could not write out again.
  auto result = parse_documents("\"k\\N\": \"a\\Nb\\_c \\L \\xe9 \u20ac\"\n", "escapes.yaml");
  ASSERT_TRUE(result.ok()) << result.error();
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ((*result)[0].dump(), "{\"k\u0085\":\"a\u0085b\u00a0c \u2028 \u00e9 \u20ac\"}");
}

TEST(ReadDocuments, ParsesTheFileAndNamesItInErrors) {
  TempDir dir;
  auto good = dir.write("good.yaml", "kind: ServiceAccount\nmetadata: {name: a}\n");
  auto docs = read_documents(good);
  ASSERT_TRUE(docs.ok()) << docs.error();
  ASSERT_EQ(docs->size(), 1u);

  auto bad = dir.write("bad.yaml", "a: [\n");
  auto result = read_documents(bad);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error(), StartsWith(bad + ": line "));
}

TEST(DescribeJsonError, DropsTheExceptionId) {
  try {
    json parsed = json::parse("[1,");
    FAIL() << "expected a parse error, got " << parsed.dump();
  } catch (const json::exception& e) {
    EXPECT_THAT(describe_json_error(e), StartsWith("line 1, column 4: syntax error"));
  }
}

}  // namespace
}  // namespace irsa::manifest
