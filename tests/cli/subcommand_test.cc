// mutate and audit read their own flags and the serve flags in one pass
// over one table; ServiceAccount files name the file that fails.
#include "cli/subcommand.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/config.h"

namespace irsa::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// As mutate and audit declare theirs (mutate_command.cc, audit_command.cc).
const CommandFlags kOwn = {{{"-f", "--filename"}},      {{"--pod"}},
                           {{"--output", "-o"}},        {{"--namespace", "-n"}},
                           {{"--from-cluster"}, false}, {{"--help", "-h"}, false}};

TEST(SubcommandFlags, OwnAndServeFlagsAreReadInOnePass) {
  CommandLine line;
  auto config = parse_flags(
      {"-f", "a.yaml", "--aws-default-region", "us-east-1", "--filename=b.yaml", "-o", "json",
       "--port=1", "-h", "-v3", "--from-cluster", "-log-dir", "/tmp", "--in-cluster=false"},
      kOwn, &line);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_THAT(line.all("-f"), ElementsAre("a.yaml", "b.yaml"));
  EXPECT_EQ(line.get("--output"), "json");
  EXPECT_TRUE(line.has("--help"));
  EXPECT_TRUE(line.has("--from-cluster"));
  EXPECT_EQ(config->mutation.region, "us-east-1");
  EXPECT_EQ(config->serve.server.port, 1);
  EXPECT_EQ(config->verbosity, 3);
  EXPECT_FALSE(config->serve.in_cluster);
  EXPECT_THAT(config->given,
              ElementsAre("aws-default-region", "port", "v", "log_dir", "in-cluster"))
      << "own flags are not serve flags given";
}

// A name both tables have is the subcommand's: mutate's --namespace is the
// request's namespace, not the webhook's; Go's -namespace is still serve's.
TEST(SubcommandFlags, TheSubcommandsOwnFlagTakesASharedName) {
  CommandLine line;
  auto config = parse_flags({"--namespace", "team", "-n", "other"}, kOwn, &line);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_THAT(line.all("--namespace"), ElementsAre("team", "other"));
  EXPECT_EQ(config->serve.namespace_name, "eks");
  auto go = parse_flags({"-namespace", "kube-system"}, kOwn, &line);
  ASSERT_TRUE(go.ok()) << go.error();
  EXPECT_EQ(go->serve.namespace_name, "kube-system");
  EXPECT_FALSE(line.has("--namespace"));
}

// The errors read the same for an own flag and a serve flag, and as serve
// and the oidc commands say them.
TEST(SubcommandFlags, ErrorsReadTheSameForOwnAndServeFlags) {
  struct Case {
    std::vector<std::string> args;
    const char* error;
  };
  for (const Case& c : {
           Case{{"--pod"}, "flag --pod needs a value"},
           Case{{"--port"}, "flag --port needs a value"},
           Case{{"--output", "--pod", "p.yaml"},
                "flag --output needs a value, but is followed by the flag --pod (for a value "
                "that starts with --, write --output=VALUE)"},
           Case{{"-o", "--pod"}, "flag -o needs a value, but is followed by the flag --pod"},
           // The serve flag before an own flag: one pass, so the own flag
           // is never taken as its value.
           Case{{"--pod", "p.yaml", "--aws-default-region", "--output", "yaml"},
                "flag --aws-default-region needs a value, but is followed by the flag --output"},
           Case{{"--pod", "p.yaml", "--no-such-flag"}, "unknown flag --no-such-flag"},
           Case{{"--pod", "p.yaml", "stray"},
                "unexpected argument \"stray\" (flags start with --)"},
           Case{{"--from-cluster=yes"}, "flag --from-cluster takes no value (or =true / =false)"},
           Case{{"--sts-regional-endpoint=yes"}, "--sts-regional-endpoint wants true or false"},
           Case{{"--port=x", "--no-such-flag"}, "--port wants an integer"},
       }) {
    SCOPED_TRACE(c.args.front());
    auto config = parse_flags(c.args, kOwn);
    ASSERT_FALSE(config.ok());
    EXPECT_THAT(config.error(), HasSubstr(c.error));
  }
}

TEST(SubcommandFlags, ASwitchSetToFalseIsNotGiven) {
  CommandLine line;
  auto config = parse_flags({"--from-cluster=false", "--help=true"}, kOwn, &line);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_FALSE(line.has("--from-cluster"));
  EXPECT_TRUE(line.has("--help"));
}

TEST(LoadServiceAccountFiles, NamesTheFileThatFails) {
  identity::ServiceAccountRegistry registry;
  auto status = load_service_account_files({"/nonexistent/sa.yaml"}, "eks.amazonaws.com", registry);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), HasSubstr("/nonexistent/sa.yaml"));
  EXPECT_TRUE(load_service_account_files({IRSA_SOURCE_DIR "/examples/service-accounts.yaml"},
                                         "eks.amazonaws.com", registry)
                  .ok());
  EXPECT_EQ(registry.size(), 3u);
}

}  // namespace
}  // namespace irsa::cli
