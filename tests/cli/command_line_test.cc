// The one command-line reader: pflag's forms, switches, repeated flags, the
// rest kept in order, and the errors every command prints.
#include "cli/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace irsa::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(SplitFlag, ReadsTheFormsOfAFlag) {
  auto long_form = split_flag("--port=8443");
  ASSERT_TRUE(long_form);
  EXPECT_EQ(long_form->name, "--port");
  EXPECT_EQ(long_form->value, "8443");
  auto empty_value = split_flag("--region=");
  ASSERT_TRUE(empty_value);
  EXPECT_EQ(empty_value->value, "");
  auto short_form = split_flag("-o");
  ASSERT_TRUE(short_form);
  EXPECT_EQ(short_form->name, "-o");
  EXPECT_FALSE(short_form->value);
  EXPECT_FALSE(split_flag("file.yaml"));
  EXPECT_FALSE(split_flag("-"));
  EXPECT_FALSE(split_flag("--"));
}

TEST(ParseCommandLine, TakesItsFlagsInEveryFormAndKeepsTheRestInOrder) {
  auto line = parse_command_line(
      {"--out", "dir", "--port=1", "--key=a.pem", "documents", "-k", "b.pem", "--legacy"},
      {{{"--out"}}, {{"--key", "-k"}}, {{"--legacy"}, false}});
  ASSERT_TRUE(line.ok()) << line.error();
  EXPECT_EQ(line->get("--out"), "dir");
  EXPECT_THAT(line->all("--key"), ElementsAre("a.pem", "b.pem"));
  EXPECT_TRUE(line->has("--legacy"));
  EXPECT_THAT(line->rest, ElementsAre("--port=1", "documents"));
  EXPECT_THAT(line->ordered, ElementsAre(Pair("--out", "dir"), Pair("--key", "a.pem"),
                                         Pair("--key", "b.pem"), Pair("--legacy", "true")));
}

TEST(ParseCommandLine, SwitchesTakeTrueOrFalseOnly) {
  auto off = parse_command_line({"--legacy=false"}, {{{"--legacy"}, false}});
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->has("--legacy"));
  auto bad = parse_command_line({"--legacy=yes"}, {{{"--legacy"}, false}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "flag --legacy takes no value (or =true / =false)");
}

TEST(ParseCommandLine, NamesAFlagGivenTwiceOrWithoutItsValue) {
  auto twice = parse_command_line({"--issuer", "a", "--issuer=b"}, {{{"--issuer"}, true, false}});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error(), "flag --issuer is given twice");
  auto missing = parse_command_line({"--issuer", "--out", "d"}, {{{"--issuer"}}, {{"--out"}}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(),
            "flag --issuer needs a value, but is followed by the flag --out (for a value that "
            "starts with --, write --issuer=VALUE)");
  auto at_end = parse_command_line({"--issuer"}, {{{"--issuer"}}});
  ASSERT_FALSE(at_end.ok());
  EXPECT_EQ(at_end.error(), "flag --issuer needs a value");
  // A value that starts with a single dash is a value.
  auto dash = parse_command_line({"--now", "-1"}, {{{"--now"}}});
  ASSERT_TRUE(dash.ok());
  EXPECT_EQ(dash->get("--now"), "-1");
}

TEST(UsageError, ExitsWithTwo) {
  EXPECT_EQ(usage_error("explain", "--token FILE is required", "Usage: ...\n"), 2);
  EXPECT_EQ(usage_error("", "unknown flag --x"), 2);
}

}  // namespace
}  // namespace irsa::cli
