// Subcommand flags are taken out; everything else passes through in order.
#include "cli/subcommand.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace irsa::cli {
namespace {

using ::testing::ElementsAre;

TEST(ParseSubcommandFlags, TakesOwnFlagsAndPassesTheRest) {
  std::string output = "text";
  std::vector<std::string> files;
  bool help = false;
  auto rest = parse_subcommand_flags({"-f", "a.yaml", "--aws-default-region", "us-east-1",
                                      "--filename=b.yaml", "-o", "json", "--port=1", "-h"},
                                     {{{"-f", "--filename"}, nullptr, &files},
                                      {{"-o"}, &output},
                                      {{"-h"}, nullptr, nullptr, &help}});
  ASSERT_TRUE(rest.ok());
  EXPECT_THAT(*rest, ElementsAre("--aws-default-region", "us-east-1", "--port=1"));
  EXPECT_THAT(files, ElementsAre("a.yaml", "b.yaml"));
  EXPECT_EQ(output, "json");
  EXPECT_TRUE(help);
}

TEST(ParseSubcommandFlags, MissingValueIsAnError) {
  std::string pod;
  auto rest = parse_subcommand_flags({"--pod"}, {{{"--pod"}, &pod}});
  ASSERT_FALSE(rest.ok());
  EXPECT_EQ(rest.error(), "flag --pod needs a value");
}

TEST(ParseSubcommandFlags, AFollowingFlagIsNeverTheValue) {
  std::string output;
  auto rest =
      parse_subcommand_flags({"--output", "--pod", "p.yaml"}, {{{"--output", "-o"}, &output}});
  ASSERT_FALSE(rest.ok());
  EXPECT_EQ(rest.error(),
            "flag --output needs a value, but is followed by the flag --pod (for a value that "
            "starts with --, write --output=VALUE)");
  auto short_form = parse_subcommand_flags({"-o", "--pod"}, {{{"--output", "-o"}, &output}});
  ASSERT_FALSE(short_form.ok());
  EXPECT_THAT(short_form.error(), ::testing::HasSubstr("flag -o needs a value"));
}

TEST(LoadServiceAccountFiles, NamesTheFileThatFails) {
  identity::ServiceAccountRegistry registry;
  auto status = load_service_account_files({"/nonexistent/sa.yaml"}, "eks.amazonaws.com", registry);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), ::testing::HasSubstr("/nonexistent/sa.yaml"));
  EXPECT_TRUE(load_service_account_files({IRSA_SOURCE_DIR "/examples/service-accounts.yaml"},
                                         "eks.amazonaws.com", registry)
                  .ok());
  EXPECT_EQ(registry.size(), 3u);
}

}  // namespace
}  // namespace irsa::cli
