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
      {"--out", "dir", "--key=a.pem", "documents", "-k", "b.pem", "--legacy", "more"},
      {{{"--out"}}, {{"--key", "-k"}}, {{"--legacy"}, false}}, /*plain_arguments=*/true);
  ASSERT_TRUE(line.ok()) << line.error();
  EXPECT_EQ(line->get("--out"), "dir");
  EXPECT_THAT(line->all("--key"), ElementsAre("a.pem", "b.pem"));
  EXPECT_TRUE(line->has("--legacy"));
  EXPECT_THAT(line->rest, ElementsAre("documents", "more"));
  EXPECT_THAT(line->ordered, ElementsAre(Pair("--out", "dir"), Pair("--key", "a.pem"),
                                         Pair("--key", "b.pem"), Pair("--legacy", "true")));
}

// Every command says the same about what it does not know.
TEST(ParseCommandLine, AnUnknownFlagOrAPlainArgumentIsAnError) {
  const CommandFlags flags = {{{"--out"}}, {{"--help", "-h"}, false}};
  for (bool plain : {false, true}) {
    auto unknown = parse_command_line({"--out", "d", "--port=1"}, flags, plain);
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error(), "unknown flag --port");
    auto short_unknown = parse_command_line({"-x"}, flags, plain);
    ASSERT_FALSE(short_unknown.ok());
    EXPECT_EQ(short_unknown.error(), "unknown flag -x");
  }
  auto plain = parse_command_line({"--out", "d", "stray"}, flags);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error(), "unexpected argument \"stray\" (flags start with --)");
  // "-" and "--" are not flags.
  auto dash = parse_command_line({"-", "--"}, flags, true);
  ASSERT_TRUE(dash.ok());
  EXPECT_THAT(dash->rest, ElementsAre("-", "--"));
}

// The serve flags' setters run as each flag is read: the first mistake on
// the command line is the one reported.
TEST(ParseCommandLine, SettersRunInOrderAndTheirErrorStopsTheReading) {
  std::vector<std::string> seen;
  auto record = [&seen](std::string_view value) -> Status {
    if (value == "bad") return Error{"--a wants a good value"};
    seen.emplace_back(value);
    return Ok{};
  };
  CommandFlags flags = {{{"--a"}, true, true, record}, {{"--b"}}};
  auto line = parse_command_line({"--a", "1", "--b=x", "--a=2"}, flags);
  ASSERT_TRUE(line.ok()) << line.error();
  EXPECT_THAT(seen, ElementsAre("1", "2"));
  EXPECT_FALSE(line->has("--a")) << "what the setter takes is not recorded twice";
  EXPECT_THAT(line->ordered, ElementsAre(Pair("--b", "x")));
  // Given twice is still counted for a flag with a setter.
  CommandFlags once = {{{"--a"}, true, false, record}};
  auto twice = parse_command_line({"--a=1", "--a=2"}, once);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error(), "flag --a is given twice");
  seen.clear();
  auto bad = parse_command_line({"--a=bad", "--nope"}, flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "--a wants a good value");
  auto unknown_first = parse_command_line({"--nope", "--a=bad"}, flags);
  ASSERT_FALSE(unknown_first.ok());
  EXPECT_EQ(unknown_first.error(), "unknown flag --nope");
}

// A switch with a setter reads Go's boolean spellings itself, and false is
// recorded: --in-cluster=false turns off what is on by default.
TEST(ParseCommandLine, ASwitchWithASetterJudgesItsOwnValue) {
  std::vector<std::string> seen;
  CommandFlags flags = {{{"--in-cluster"}, false, true, [&seen](std::string_view value) -> Status {
                           if (value == "yes") return Error{"--in-cluster wants true or false"};
                           seen.emplace_back(value);
                           return Ok{};
                         }}};
  auto line = parse_command_line({"--in-cluster", "--in-cluster=false", "--in-cluster=0"}, flags);
  ASSERT_TRUE(line.ok()) << line.error();
  EXPECT_THAT(seen, ElementsAre("true", "false", "0"));
  auto bad = parse_command_line({"--in-cluster=yes"}, flags);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "--in-cluster wants true or false");
  // A switch never takes the next argument as its value.
  auto next = parse_command_line({"--in-cluster", "false"}, flags);
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.error(), ::testing::HasSubstr("unexpected argument \"false\""));
}

TEST(ParseCommandLine, KlogShorthandTakesItsDigitsAttached) {
  const CommandFlags flags = {{{"--v", "-v"}, true, true, nullptr, true}, {{"-o"}}};
  auto line = parse_command_line({"-v3", "-v", "4", "--v=5"}, flags);
  ASSERT_TRUE(line.ok()) << line.error();
  EXPECT_THAT(line->all("--v"), ElementsAre("3", "4", "5"));
  // Only for a flag that asks for it, and only digits.
  auto other = parse_command_line({"-o3"}, flags);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error(), "unknown flag -o3");
  auto letters = parse_command_line({"-vx"}, flags);
  ASSERT_FALSE(letters.ok());
  EXPECT_EQ(letters.error(), "unknown flag -vx");
}

// A subcommand's own flags come before the serve flags: the first flag
// with a name has it.
TEST(ParseCommandLine, TheFirstFlagWithANameHasIt) {
  const CommandFlags flags = {{{"--namespace", "-n"}},
                              {{"--serve-namespace", "--namespace", "-namespace"}}};
  auto line = parse_command_line({"--namespace", "a", "-namespace", "b", "-n", "c"}, flags);
  ASSERT_TRUE(line.ok()) << line.error();
  EXPECT_THAT(line->ordered, ElementsAre(Pair("--namespace", "a"), Pair("--serve-namespace", "b"),
                                         Pair("--namespace", "c")));
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
