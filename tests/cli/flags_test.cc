// Flags: AWS's webhook's names, defaults and syntax; validation messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/config.h"
#include "server/defaults.h"
#include "server/tls_context.h"

namespace irsa::cli {
namespace {

using ::testing::HasSubstr;

Config parse_ok(const std::vector<std::string>& args) {
  auto config = parse_flags(args);
  EXPECT_TRUE(config.ok()) << (config.ok() ? "" : config.error());
  return config.ok() ? *config : Config{};
}

std::string parse_error(const std::vector<std::string>& args) {
  auto config = parse_flags(args);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : config.error();
}

TEST(ParseFlags, DefaultsMatchAwsWebhook) {
  Config config = parse_ok({});
  EXPECT_EQ(config.serve.server.port, 443);
  EXPECT_EQ(config.serve.metrics_port, 9999);
  EXPECT_EQ(config.serve.server.tls_cert_file, "/etc/webhook/certs/tls.crt");
  EXPECT_EQ(config.serve.server.tls_key_file, "/etc/webhook/certs/tls.key");
  EXPECT_EQ(config.mutation.annotation_prefix, "eks.amazonaws.com");
  EXPECT_EQ(config.identity.audience, "sts.amazonaws.com");
  EXPECT_EQ(config.mutation.token_mount_path, "/var/run/secrets/eks.amazonaws.com/serviceaccount");
  EXPECT_EQ(config.identity.token_expiration, 86400);
  EXPECT_EQ(config.mutation.region, "");
  EXPECT_FALSE(config.identity.regional_sts);
  EXPECT_EQ(config.identity.container_credentials_audience, "pods.eks.amazonaws.com");
  EXPECT_EQ(config.mutation.container_credentials_full_uri, "http://169.254.170.23/v1/credentials");
  EXPECT_EQ(config.mutation.container_credentials_token_mount_path,
            "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount");
  EXPECT_EQ(config.mutation.container_credentials_token_volume_name, "eks-pod-identity-token");
  EXPECT_EQ(config.mutation.container_credentials_token_path, "eks-pod-identity-token");
  EXPECT_DOUBLE_EQ(config.serve.service_account_lookup_grace_seconds, 0.1);
  EXPECT_EQ(config.serve.namespace_name, "eks");
}

// One home for each default: what --help says is what a default-built Config
// holds, the server's own defaults included; and each shown default, given
// back as a flag, changes nothing.
TEST(FlagDefaults, TheHelpShowsTheDefaultsOfADefaultBuiltConfig) {
  const Config defaults;
  const auto values = flag_values(defaults);
  ASSERT_GT(values.size(), 30u);
  const std::string help = usage_text();
  std::vector<std::string> args;
  int shown = 0;
  for (const auto& [name, value] : values) {
    const auto line_at = help.find("\n  --" + name + " ");
    if (line_at == std::string::npos) continue;  // -v is written "-v, --v"
    const std::string line = help.substr(line_at + 1, help.find('\n', line_at + 1) - line_at - 1);
    if (const auto at = line.find("(default ");
        at != std::string::npos && line.compare(at, 10, "(default:") != 0) {
      const std::string said = line.substr(at + 9, line.find_first_of(",;)", at + 9) - at - 9);
      if (said.rfind("max(", 0) != 0) {
        EXPECT_EQ(said, value) << line;
        ++shown;
      }
    }
    if (name != "inject-fs-group") args.push_back("--" + name + "=" + value);
  }
  EXPECT_GT(shown, 25);
  EXPECT_EQ(help.find("{default}"), std::string::npos);

  Config given = parse_ok(args);
  EXPECT_EQ(flag_values(given), values);

  const server::ServerOptions server;
  EXPECT_EQ(defaults.serve.server.port, server.port);
  EXPECT_EQ(defaults.serve.server.bind_address, server.bind_address);
  EXPECT_EQ(given.serve.server.read_timeout, server.read_timeout);
  EXPECT_EQ(given.serve.server.write_timeout, server.write_timeout);
  EXPECT_EQ(given.serve.server.idle_timeout, server.idle_timeout);
  EXPECT_EQ(given.serve.server.max_request_bytes, server.max_request_bytes);
  EXPECT_EQ(given.serve.server.max_bytes_in_flight, server.max_bytes_in_flight);
  EXPECT_EQ(given.serve.server.tls_cert_file, server.tls_cert_file);
  EXPECT_EQ(given.serve.server.tls.min_version, server.tls.min_version);
  EXPECT_THAT(help, HasSubstr("Port to listen on (default 443)"));
  EXPECT_THAT(help, HasSubstr("(default 2m, above the API server's 90s)"));
  EXPECT_THAT(help, HasSubstr("(default 100ms)"));
}

// The defaults the server works out at start are said with the same
// functions and constants it computes them with: the rule and this
// machine's value.
TEST(FlagDefaults, TheHelpStatesTheServersOwnRules) {
  namespace d = server::defaults;
  const std::string help = usage_text();
  auto line_of = [&help](const std::string& flag) {
    const auto at = help.find("\n  --" + flag + " ");
    EXPECT_NE(at, std::string::npos) << flag;
    return at == std::string::npos ? "" : help.substr(at + 1, help.find('\n', at + 1) - at - 1);
  };
  EXPECT_THAT(line_of("io-threads"),
              HasSubstr("(default: one per core, at most 4; " +
                        std::to_string(d::io_threads(d::cores())) + " here)"));
  EXPECT_EQ(d::io_threads(d::cores()), std::min<std::size_t>(d::cores(), 4));
  EXPECT_THAT(line_of("worker-threads"),
              HasSubstr("(default: max(8, 4 x cores), " +
                        std::to_string(std::max<std::size_t>(8, 4 * d::cores())) +
                        " here; more are added, up to 256, while all are busy)"));
  EXPECT_THAT(line_of("max-connections"),
              HasSubstr("less 256; " +
                        std::to_string(d::max_connections(d::hard_open_file_limit())) + " here)"));
  const std::string ciphers = line_of("tls-cipher-suites");
  const auto suites = server::default_tls12_cipher_suites();
  ASSERT_EQ(suites.size(), 6u);
  for (std::string_view suite : suites) {
    EXPECT_THAT(ciphers, HasSubstr(std::string(suite)));
    // What the rule promises: forward secrecy and AEAD only.
    EXPECT_EQ(suite.rfind("TLS_ECDHE_", 0), 0u) << suite;
    EXPECT_TRUE(suite.find("_GCM_") != std::string_view::npos ||
                suite.find("CHACHA20") != std::string_view::npos)
        << suite;
  }
  EXPECT_EQ(help.find("{rule}"), std::string::npos);
  // Each is also what a default-built Config leaves to the server: 0 or empty.
  const Config defaults;
  EXPECT_EQ(defaults.serve.server.io_threads, 0);
  EXPECT_EQ(defaults.serve.server.worker_threads, 0);
  EXPECT_EQ(defaults.serve.server.max_connections, 0u);
  EXPECT_EQ(defaults.serve.server.tls.cipher_suites, "");
}

TEST(ParseFlags, AcceptsPflagSyntax) {
  Config config =
      parse_ok({"--port=8443", "--aws-default-region", "us-west-2", "--sts-regional-endpoint",
                "--in-cluster=false", "-v=4", "--token-expiration", "3600",
                "--service-account-lookup-grace-period=2s"});
  EXPECT_EQ(config.serve.server.port, 8443);
  EXPECT_EQ(config.mutation.region, "us-west-2");
  EXPECT_TRUE(config.identity.regional_sts);
  EXPECT_FALSE(config.serve.in_cluster);
  EXPECT_EQ(config.verbosity, 4);
  EXPECT_EQ(config.identity.token_expiration, 3600);
  EXPECT_DOUBLE_EQ(config.serve.service_account_lookup_grace_seconds, 2.0);
}

TEST(ParseFlags, BooleansTakeGoSpellings) {
  EXPECT_TRUE(parse_ok({"--sts-regional-endpoint=True"}).identity.regional_sts);
  EXPECT_FALSE(parse_ok({"--sts-regional-endpoint=0"}).identity.regional_sts);
  EXPECT_THAT(parse_error({"--sts-regional-endpoint=yes"}), HasSubstr("true or false"));
}

TEST(ParseFlags, KlogFlagsAreAccepted) {
  Config config = parse_ok({"--logtostderr", "--alsologtostderr=true", "--v=2", "--stderrthreshold",
                            "INFO", "--log-dir=/tmp"});
  EXPECT_EQ(config.verbosity, 2);
}

TEST(ParseFlags, TokenExpirationBelowTenMinutesIsRaised) {
  EXPECT_EQ(parse_ok({"--token-expiration=60"}).identity.token_expiration, 600);
}

TEST(ParseFlags, UnimplementedFlagsAreReported) {
  Config config = parse_ok({"--compose-role-arn"});
  ASSERT_EQ(config.not_implemented.size(), 1u);
  EXPECT_THAT(config.not_implemented[0], HasSubstr("--compose-role-arn"));
}

TEST(ParseFlags, ErrorsNameTheFlag) {
  EXPECT_THAT(parse_error({"--no-such-flag"}), HasSubstr("unknown flag --no-such-flag"));
  EXPECT_THAT(parse_error({"--port", "https"}), HasSubstr("--port wants an integer"));
  EXPECT_THAT(parse_error({"--port"}), HasSubstr("needs a value"));
  EXPECT_THAT(parse_error({"--port=99999999999"}), HasSubstr("out of range"));
  EXPECT_THAT(parse_error({"--max-request-bytes=-1"}), HasSubstr("must not be negative"));
  EXPECT_THAT(parse_error({"--service-account-lookup-grace-period=soon"}),
              HasSubstr("wants a duration"));
  EXPECT_THAT(parse_error({"stray"}), HasSubstr("unexpected argument"));
  EXPECT_THAT(parse_error({"--log-format=xml"}), HasSubstr("text or json"));
}

TEST(ParseFlags, InjectFsGroupIsOffByDefaultAndValidated) {
  EXPECT_FALSE(parse_ok({}).mutation.inject_fs_group);
  EXPECT_EQ(parse_ok({"--inject-fs-group=65534"}).mutation.inject_fs_group, 65534);
  EXPECT_EQ(parse_ok({"--inject-fs-group", "1"}).mutation.inject_fs_group, 1);
  EXPECT_FALSE(parse_ok({"--inject-fs-group=7", "--inject-fs-group="}).mutation.inject_fs_group);
  EXPECT_THAT(parse_error({"--inject-fs-group=0"}), HasSubstr("from 1 to 2147483647"));
  EXPECT_THAT(parse_error({"--inject-fs-group=2147483648"}), HasSubstr("from 1 to 2147483647"));
  EXPECT_THAT(parse_error({"--inject-fs-group=-5"}), HasSubstr("from 1 to 2147483647"));
  EXPECT_THAT(parse_error({"--inject-fs-group=wheel"}), HasSubstr("wants an integer"));
}

// `--aws-default-region --check-config` once served with the region
// "--check-config": a value flag never takes a following flag as its value.
TEST(ParseFlags, AValueFlagNeverSwallowsTheNextFlag) {
  for (const char* flag :
       {"--aws-default-region", "--token-audience", "--service-name", "--port", "--read-timeout"}) {
    std::string error = parse_error({flag, "--check-config"});
    EXPECT_THAT(error, HasSubstr(std::string("flag ") + flag + " needs a value"));
    EXPECT_THAT(error, HasSubstr("followed by the flag --check-config"));
    EXPECT_THAT(error, HasSubstr(std::string(flag) + "=VALUE"));
  }
  // A value that starts with -- is still possible, written with '='.
  EXPECT_EQ(parse_ok({"--token-audience=--odd"}).identity.audience, "--odd");
  // A single '-' value (a negative number) is a value, not a flag.
  EXPECT_EQ(parse_ok({"--port", "-1", "--check-config"}).serve.server.port, -1);
}

TEST(ParseFlags, KlogShorthandWithAttachedValue) {
  EXPECT_EQ(parse_ok({"-v3"}).verbosity, 3);
  EXPECT_EQ(parse_ok({"-v", "4"}).verbosity, 4);
  EXPECT_EQ(parse_ok({"--v=5"}).verbosity, 5);
  EXPECT_THAT(parse_error({"-vx"}), HasSubstr("unknown flag"));
}

TEST(ParseFlags, RecordsWhichFlagsWereGiven) {
  Config config = parse_ok({"--service-name", "irsa", "--port=1"});
  EXPECT_TRUE(config.was_given("service-name"));
  EXPECT_TRUE(config.was_given("port"));
  EXPECT_FALSE(config.was_given("namespace")) << "a default is not a given flag";
}

// Every spelling AWS's webhook (pflag, Go's flag, klog) accepts.
TEST(ParseFlags, AcceptsEverySpellingOfAFlag) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--port", "8443"}, {"--port=8443"}, {"-port", "8443"}, {"-port=8443"}}) {
    SCOPED_TRACE(args.front());
    Config config = parse_ok(args);
    EXPECT_EQ(config.serve.server.port, 8443);
    EXPECT_TRUE(config.was_given("port"));
  }
  for (const auto& args : std::vector<std::vector<std::string>>{{"--sts-regional-endpoint"},
                                                                {"--sts-regional-endpoint=true"},
                                                                {"-sts-regional-endpoint"},
                                                                {"-sts-regional-endpoint=1"}}) {
    SCOPED_TRACE(args.front());
    EXPECT_TRUE(parse_ok(args).identity.regional_sts);
  }
  EXPECT_FALSE(parse_ok({"--in-cluster=false"}).serve.in_cluster);
  EXPECT_TRUE(parse_ok({"--in-cluster=false"}).was_given("in-cluster"));
  EXPECT_FALSE(parse_ok({"-in-cluster=F"}).serve.in_cluster);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-v3"}, {"-v", "3"}, {"-v=3"}, {"--v=3"}, {"--v", "3"}}) {
    SCOPED_TRACE(args.front());
    EXPECT_EQ(parse_ok(args).verbosity, 3);
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--log_dir", "/tmp"}, {"--log-dir=/tmp"}, {"-log-dir", "/tmp"}, {"-log_dir=/tmp"}}) {
    SCOPED_TRACE(args.front());
    EXPECT_TRUE(parse_ok(args).was_given("log_dir"));
  }
  // Only klog's underscore flags have a dashed spelling, and only all of it.
  EXPECT_THAT(parse_error({"--log_file-max-size=1"}),
              HasSubstr("unknown flag --log_file-max-size"));
  EXPECT_THAT(parse_error({"--bind_address=::"}), HasSubstr("unknown flag --bind_address"));
  EXPECT_THAT(parse_error({"-nosuch"}), HasSubstr("unknown flag -nosuch"));
  EXPECT_THAT(parse_error({"--port", "1", "extra"}),
              HasSubstr("unexpected argument \"extra\" (flags start with --)"));
  EXPECT_THAT(parse_error({"-port"}), HasSubstr("flag -port needs a value"));
}

TEST(ParseGoDuration, ParsesGoSyntax) {
  EXPECT_DOUBLE_EQ(*parse_go_duration("100ms"), 0.1);
  EXPECT_DOUBLE_EQ(*parse_go_duration("1m30s"), 90);
  EXPECT_DOUBLE_EQ(*parse_go_duration("1.5h"), 5400);
  EXPECT_DOUBLE_EQ(*parse_go_duration("0"), 0);
  EXPECT_FALSE(parse_go_duration("10"));
  EXPECT_FALSE(parse_go_duration("1x"));
  EXPECT_FALSE(parse_go_duration(""));
  EXPECT_FALSE(parse_go_duration("ms"));
}

TEST(ValidateMutationConfig, SaysWhatToFix) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  for (const Case& c : {
           Case{{"--annotation-prefix=Bad_Prefix"}, "--annotation-prefix must be a DNS subdomain"},
           Case{{"--token-mount-path=relative/path"},
                "--token-mount-path must be an absolute path"},
           Case{{"--token-audience="}, "--token-audience"},
           Case{{"--container-credentials-token-path=/abs"}, "relative path inside the volume"},
           Case{{"--container-credentials-token-path=../up"}, "relative path inside the volume"},
           Case{{"--container-credentials-token-volume-name=Not_A_Label"}, "DNS label"},
           Case{{"--aws-default-region=us east"}, "region name"},
           Case{{"--token-expiration=5000000000"}, "longer than Kubernetes allows"},
       }) {
    SCOPED_TRACE(c.message);
    Config config = parse_ok(c.args);
    auto status = validate_mutation_config(config);
    ASSERT_FALSE(status.ok());
    EXPECT_THAT(status.error(), HasSubstr(c.message));
  }
  EXPECT_TRUE(validate_mutation_config(parse_ok({"--aws-default-region=cn-north-1"})).ok());
}

TEST(ValidateConfig, ChecksFilesAndPorts) {
  Config config = parse_ok({"--tls-cert=/nonexistent/tls.crt"});
  auto status = validate_config(config);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), HasSubstr("--tls-cert /nonexistent/tls.crt"));
  config = parse_ok({"--port=70000"});
  EXPECT_THAT(validate_config(config).error(), HasSubstr("--port must be between"));
  config = parse_ok({"--port=9999"});  // the default --metrics-port
  EXPECT_THAT(validate_config(config).error(),
              HasSubstr("--metrics-port and --port are both 9999"));
}

TEST(ParseFlags, MaxResponseBytesDefaultsTo4MiBAndIsValidated) {
  EXPECT_EQ(parse_ok({}).serve.max_response_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(parse_ok({"--max-response-bytes=65536"}).serve.max_response_bytes, 65536u);
  EXPECT_THAT(parse_error({"--max-response-bytes=-1"}), HasSubstr("must not be negative"));
  EXPECT_THAT(parse_error({"--max-response-bytes=big"}), HasSubstr("wants an integer"));
  Config config = parse_ok({"--max-response-bytes=100"});
  auto status = validate_config(config);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error(), HasSubstr("--max-response-bytes must be at least 16384"));
  EXPECT_THAT(status.error(), HasSubstr("got 100"));
  EXPECT_THAT(usage_text(), HasSubstr("--max-response-bytes"));
}

TEST(ServeFlags, IoThreadsAndBytesInFlightAreValidated) {
  Config config = parse_ok({"--io-threads=3", "--max-bytes-in-flight=8388608"});
  EXPECT_EQ(config.serve.server.io_threads, 3);
  EXPECT_EQ(config.serve.server.max_bytes_in_flight, 8388608u);
  // (Valid values: what validation says, if anything, is about the files.)
  auto valid = validate_config(config);
  if (!valid) {
    EXPECT_THAT(valid.error(), HasSubstr("--tls-cert"));
  }
  auto too_many = validate_config(parse_ok({"--io-threads=1000"}));
  ASSERT_FALSE(too_many.ok());
  EXPECT_THAT(too_many.error(), HasSubstr("--io-threads must be from 0"));
  auto too_small = validate_config(parse_ok({"--max-bytes-in-flight=1048576"}));
  ASSERT_FALSE(too_small.ok());
  EXPECT_THAT(too_small.error(), HasSubstr("must be at least --max-request-bytes (4194304)"));
  EXPECT_THAT(usage_text(), HasSubstr("--max-bytes-in-flight"));
}

TEST(Usage, ListsEveryCommand) {
  std::string text = usage_text();
  for (const char* command : {"irsa-webhook [serve]", "irsa-webhook mutate", "irsa-webhook audit",
                              "irsa-webhook issuer documents", "irsa-webhook trust-policy",
                              "irsa-webhook explain", "irsa-webhook help"}) {
    EXPECT_THAT(text, HasSubstr(command));
  }
}

TEST(Usage, HelpColumnsAreAligned) {
  std::string text = usage_text();
  std::size_t column = std::string::npos;
  std::size_t start = text.find("\n  -");
  ASSERT_NE(start, std::string::npos);
  std::size_t rows = 0;
  while (start != std::string::npos && start + 1 < text.size()) {
    std::size_t end = text.find('\n', start + 1);
    std::string line = text.substr(start + 1, end - start - 1);
    // The help text starts after the name's column: two spaces, then a capital or '('.
    std::size_t at = line.find("  ", 4);
    ASSERT_NE(at, std::string::npos) << line;
    at = line.find_first_not_of(' ', at);
    if (column == std::string::npos) column = at;
    EXPECT_EQ(at, column) << line;
    ++rows;
    start = end;
  }
  EXPECT_GT(rows, 50u);
}

TEST(Usage, ListsAwsFlags) {
  std::string text = usage_text();
  for (const char* flag : {"--port", "--token-audience", "--watch-container-credentials-config",
                           "--service-account-lookup-grace-period", "--aws-default-region"}) {
    EXPECT_THAT(text, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace irsa::cli
