// Go's encoding/csv for one record, and which containers get the identity.
#include "mutation/containers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace irsa::mutation {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Status = CsvRecord::Status;

// Each row's expectation is what Go's csv.NewReader(strings.NewReader(in)).Read()
// returns (fields) or that it fails.
TEST(ReadCsvRecord, ReadsOneRecordAsGoEncodingCsv) {
  struct Case {
    const char* input;
    std::vector<std::string> fields;
  } cases[] = {
      {"a,b", {"a", "b"}},
      {"a, b", {"a", " b"}},  // no TrimLeadingSpace
      {R"("a","b")", {"a", "b"}},
      {R"("a,b",c)", {"a,b", "c"}},
      {R"("say ""hi""",x)", {R"(say "hi")", "x"}},
      {R"("")", {""}},
      {"a,", {"a", ""}},
      {",", {"", ""}},
      {"a,b\nc,d", {"a", "b"}},       // only the first record
      {"\n\na,b", {"a", "b"}},        // leading empty lines are skipped
      {"a\r\nb", {"a"}},              // \r\n ends the line
      {"a\r", {"a"}},                 // a final \r is dropped
      {"\"a\nb\",c", {"a\nb", "c"}},  // a quoted field spans lines
      {"\"a\r\nb\"", {"a\nb"}},       // ... with \r\n read as \n
      {" a ", {" a "}},
      {"a\rb", {"a\rb"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto record = read_csv_record(c.input);
    EXPECT_EQ(record.status, Status::kOk) << record.error;
    EXPECT_EQ(record.fields, c.fields);
  }
}

TEST(ReadCsvRecord, EmptyInputHasNoRecord) {
  for (const char* input : {"", "\n", "\r\n\n"}) {
    EXPECT_EQ(read_csv_record(input).status, Status::kEmpty) << input;
  }
}

TEST(ReadCsvRecord, MalformedRecordsFailWithAPosition) {
  struct Case {
    const char* input;
    const char* error;
  } cases[] = {
      {R"(a"b)", "bare \" at line 1, column 2"},
      {R"(a, "b")", "bare \" at line 1, column 4"},  // a space before the quote
      {R"("a" ,b)", "text after closing \" at line 1, column 4"},
      {R"("a"b)", "text after closing \" at line 1, column 4"},
      {R"("abc)", "unclosed \" at line 1, column 1"},
      {"x,\"a\nb", "unclosed \" at line 1, column 3"},
      {"\nx,\"y\"z", "text after closing \" at line 2, column 6"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto record = read_csv_record(c.input);
    EXPECT_EQ(record.status, Status::kError);
    EXPECT_EQ(record.error, c.error);
    EXPECT_THAT(record.fields, IsEmpty());
  }
}

TEST(ParseContainerList, TrimsSpacesAndDropsEmptyNames) {
  EXPECT_THAT(parse_container_list("a, b,,c ,").names, ElementsAre("a", "b", "c"));
  EXPECT_THAT(parse_container_list("\tone\t").names, ElementsAre("one"));
  EXPECT_THAT(parse_container_list(R"(" istio-proxy ","warm,cache")").names,
              ElementsAre("istio-proxy", "warm,cache"));
  EXPECT_THAT(parse_container_list("").names, IsEmpty());
  EXPECT_FALSE(parse_container_list("").error);
  auto bad = parse_container_list(R"(a, "b")");
  EXPECT_THAT(bad.names, IsEmpty());
  ASSERT_TRUE(bad.error);
}

struct Parsed {
  nlohmann::json json;
  std::string text;
  simdjson::dom::parser parser;
  PodView view;
  explicit Parsed(nlohmann::json pod) : json(std::move(pod)), text(json.dump()) {
    view = *read_pod(parser.parse(text).value());
  }
};

nlohmann::json pod_with(const nlohmann::json& annotations) {
  return {{"metadata", {{"annotations", annotations}}},
          {"spec",
           {{"initContainers", {{{"name", "init"}}}},
            {"containers", {{{"name", "app"}}, {{"name", "istio-proxy"}}}}}}};
}

TEST(SelectContainers, NeitherAnnotationSelectsAll) {
  Parsed pod(pod_with(nlohmann::json::object()));
  auto selection = select_containers(pod.view, "eks.amazonaws.com");
  EXPECT_THAT(selection.init_containers, ElementsAre(true));
  EXPECT_THAT(selection.containers, ElementsAre(true, true));
  EXPECT_THAT(selection.warnings, IsEmpty());
  EXPECT_THAT(selection.excluded(pod.view), IsEmpty());
}

TEST(SelectContainers, SkipAndIncludeAreComplements) {
  Parsed skip(pod_with({{"eks.amazonaws.com/skip-containers", "istio-proxy,init"}}));
  auto skipped = select_containers(skip.view, "eks.amazonaws.com");
  EXPECT_THAT(skipped.init_containers, ElementsAre(false));
  EXPECT_THAT(skipped.containers, ElementsAre(true, false));
  EXPECT_THAT(skipped.excluded(skip.view), ElementsAre("init", "istio-proxy"));

  Parsed include(pod_with({{"eks.amazonaws.com/include-containers", "\"app\""}}));
  auto included = select_containers(include.view, "eks.amazonaws.com");
  EXPECT_THAT(included.init_containers, ElementsAre(false));
  EXPECT_THAT(included.containers, ElementsAre(true, false));
  EXPECT_TRUE(included.any());
  EXPECT_THAT(included.warnings, IsEmpty());
}

TEST(SelectContainers, WarningsStayUnder120Characters) {
  for (const char* key :
       {"eks.amazonaws.com/skip-containers", "eks.amazonaws.com/include-containers"}) {
    for (const char* value :
         {"a, \"b\"", "\"unclosed", "", "nobody-here-at-all-with-a-long-name"}) {
      Parsed pod(pod_with({{key, value}, {"eks.amazonaws.com/skip-containers", "x"}}));
      for (const auto& warning : select_containers(pod.view, "eks.amazonaws.com").warnings) {
        EXPECT_LT(warning.size(), 120u) << warning;
      }
    }
  }
}

}  // namespace
}  // namespace irsa::mutation
