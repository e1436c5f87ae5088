// ServiceAccount annotations → settings, the checks that turn a broken
// identity configuration into a warning (issue 20: region, role ARN, near-miss
// keys), Go's bool/int parsing, and settings + defaults → Identity.
#include "identity/identity.h"

#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace irsa::identity {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Annotations = std::map<std::string, std::string, std::less<>>;

constexpr std::string_view kPrefix = "eks.amazonaws.com";
constexpr const char* kRoleArn = "arn:aws:iam::111122223333:role/app";

ServiceAccountSettings parse(Annotations annotations) {
  return parse_service_account_annotations(annotations, kPrefix);
}

TEST(ParseServiceAccountAnnotations, NoAnnotationsGiveEmptySettings) {
  auto settings = parse({});
  EXPECT_TRUE(settings.empty());
  EXPECT_THAT(settings.problems, IsEmpty());
}

TEST(ParseServiceAccountAnnotations, ReadsAllFiveAnnotations) {
  auto settings = parse({{"eks.amazonaws.com/role-arn", kRoleArn},
                         {"eks.amazonaws.com/audience", "my-audience"},
                         {"eks.amazonaws.com/sts-regional-endpoints", "true"},
                         {"eks.amazonaws.com/token-expiration", "3600"},
                         {"eks.amazonaws.com/role-session-name", "pod-name"}});
  EXPECT_EQ(settings.role_arn, kRoleArn);
  EXPECT_EQ(settings.audience, "my-audience");
  EXPECT_EQ(settings.regional_sts, true);
  EXPECT_EQ(settings.token_expiration, 3600);
  EXPECT_TRUE(settings.role_session_name);
  EXPECT_THAT(settings.problems, IsEmpty());
  EXPECT_FALSE(settings.empty());
}

TEST(ParseServiceAccountAnnotations, IgnoresOtherKeysAndOtherPrefixes) {
  auto settings = parse({{"example.com/role-arn", kRoleArn},
                         {"eks.amazonaws.com/unknown", "x"},
                         {"eks.amazonaws.com/role-arnx", kRoleArn},
                         {"kubectl.kubernetes.io/last-applied-configuration", "{}"}});
  EXPECT_TRUE(settings.empty());
  // A near miss of a known key is reported (issue 20), the others are not.
  EXPECT_THAT(settings.problems,
              ElementsAre("annotation eks.amazonaws.com/role-arnx is unknown: did you mean "
                          "eks.amazonaws.com/role-arn?"));
}

TEST(ParseServiceAccountAnnotations, UsesACustomPrefix) {
  Annotations annotations{{"example.com/role-arn", kRoleArn},
                          {"example.com/token-expiration", "bad"},
                          {"eks.amazonaws.com/audience", "ignored"}};
  auto settings = parse_service_account_annotations(annotations, "example.com");
  EXPECT_EQ(settings.role_arn, kRoleArn);
  EXPECT_EQ(settings.audience, std::nullopt);
  EXPECT_THAT(settings.problems,
              ElementsAre("annotation example.com/token-expiration \"bad\" is not an integer; "
                          "using the default"));
}

TEST(ParseServiceAccountAnnotations, EmptyRoleArnAndAudienceAreAbsent) {
  auto settings = parse({{"eks.amazonaws.com/role-arn", ""}, {"eks.amazonaws.com/audience", ""}});
  EXPECT_EQ(settings.role_arn, std::nullopt);
  EXPECT_EQ(settings.audience, std::nullopt);
  EXPECT_THAT(
      settings.problems,
      ElementsAre("annotation eks.amazonaws.com/role-arn is empty: no AWS identity from it",
                  "annotation eks.amazonaws.com/audience is empty: using the default audience"));
  EXPECT_TRUE(settings.empty());
}

TEST(ParseServiceAccountAnnotations, StsRegionalEndpointsAcceptsGoBooleans) {
  EXPECT_EQ(parse({{"eks.amazonaws.com/sts-regional-endpoints", "1"}}).regional_sts, true);
  EXPECT_EQ(parse({{"eks.amazonaws.com/sts-regional-endpoints", "False"}}).regional_sts, false);
}

TEST(ParseServiceAccountAnnotations, InvalidStsRegionalEndpointsIsAProblemAndAbsent) {
  auto settings = parse({{"eks.amazonaws.com/sts-regional-endpoints", "yes"}});
  EXPECT_EQ(settings.regional_sts, std::nullopt);
  ASSERT_EQ(settings.problems.size(), 1u);
  EXPECT_THAT(settings.problems[0],
              HasSubstr("annotation eks.amazonaws.com/sts-regional-endpoints \"yes\""));
  EXPECT_TRUE(settings.empty());
}

TEST(ParseServiceAccountAnnotations, KeepsTokenExpirationInRange) {
  auto settings = parse({{"eks.amazonaws.com/token-expiration", "7200"}});
  EXPECT_EQ(settings.token_expiration, 7200);
}

TEST(ParseServiceAccountAnnotations, ClampsTokenExpirationBelowTenMinutes) {
  EXPECT_EQ(parse({{"eks.amazonaws.com/token-expiration", "599"}}).token_expiration, 600);
  EXPECT_EQ(parse({{"eks.amazonaws.com/token-expiration", "0"}}).token_expiration, 600);
  EXPECT_EQ(parse({{"eks.amazonaws.com/token-expiration", "-5"}}).token_expiration, 600);
  EXPECT_THAT(parse({{"eks.amazonaws.com/token-expiration", "1"}}).problems, IsEmpty());
}

TEST(ParseServiceAccountAnnotations, TokenExpirationAboveTheMaximumIsAProblemAndAbsent) {
  EXPECT_EQ(parse({{"eks.amazonaws.com/token-expiration", "4294967296"}}).token_expiration,
            4294967296);
  auto settings = parse({{"eks.amazonaws.com/token-expiration", "4294967297"}});
  EXPECT_EQ(settings.token_expiration, std::nullopt);
  EXPECT_THAT(settings.problems,
              ElementsAre("annotation eks.amazonaws.com/token-expiration \"4294967297\" is above "
                          "the maximum of 4294967296 seconds; using the default"));
}

TEST(ParseServiceAccountAnnotations, NonIntegerTokenExpirationIsAProblemAndAbsent) {
  for (const char* text : {"abc", "", "3600s", " 3600", "1e4", "99999999999999999999"}) {
    auto settings = parse({{"eks.amazonaws.com/token-expiration", text}});
    EXPECT_EQ(settings.token_expiration, std::nullopt) << text;
    EXPECT_THAT(settings.problems, ElementsAre(HasSubstr("is not an integer"))) << text;
  }
  EXPECT_THAT(parse({{"eks.amazonaws.com/token-expiration", "abc"}}).problems,
              ElementsAre("annotation eks.amazonaws.com/token-expiration \"abc\" is not an "
                          "integer; using the default"));
}

TEST(ParseServiceAccountAnnotations, RoleSessionNameAcceptsOnlyPodName) {
  EXPECT_TRUE(parse({{"eks.amazonaws.com/role-session-name", "pod-name"}}).role_session_name);
  auto settings = parse({{"eks.amazonaws.com/role-session-name", "true"}});
  EXPECT_FALSE(settings.role_session_name);
  EXPECT_THAT(settings.problems,
              ElementsAre("annotation eks.amazonaws.com/role-session-name \"true\" is not "
                          "\"pod-name\"; ignoring it"));
}

TEST(ParseServiceAccountAnnotations, ProblemQuotesValuesOnOneBoundedLine) {
  auto settings =
      parse({{"eks.amazonaws.com/token-expiration", "a\"b\nc" + std::string(100, 'x')}});
  ASSERT_EQ(settings.problems.size(), 1u);
  const std::string& problem = settings.problems[0];
  EXPECT_EQ(problem.find('\n'), std::string::npos);
  EXPECT_THAT(problem, HasSubstr(R"("a\"b\x0ac)"));
  EXPECT_THAT(problem, HasSubstr("...\""));
  EXPECT_LT(problem.size(), 200u);
}

TEST(ParseServiceAccountAnnotations, ProblemsAloneDoNotMakeSettingsNonEmpty) {
  auto settings = parse({{"eks.amazonaws.com/token-expiration", "abc"},
                         {"eks.amazonaws.com/sts-regional-endpoints", "maybe"},
                         {"eks.amazonaws.com/role-session-name", "x"}});
  EXPECT_TRUE(settings.empty());
  EXPECT_EQ(settings.problems.size(), 3u);
}

TEST(ParseGoBool, AcceptsExactlyStrconvParseBoolSet) {
  for (const char* text : {"1", "t", "T", "TRUE", "true", "True"}) {
    EXPECT_EQ(parse_go_bool(text), true) << text;
  }
  for (const char* text : {"0", "f", "F", "FALSE", "false", "False"}) {
    EXPECT_EQ(parse_go_bool(text), false) << text;
  }
  for (const char* text : {"", "yes", "no", "tRUE", "TRue", " true", "true ", "2", "on", "y"}) {
    EXPECT_EQ(parse_go_bool(text), std::nullopt) << text;
  }
}

TEST(ParseGoInt64, AcceptsSignedDecimal) {
  EXPECT_EQ(parse_go_int64("0"), 0);
  EXPECT_EQ(parse_go_int64("3600"), 3600);
  EXPECT_EQ(parse_go_int64("+3600"), 3600);
  EXPECT_EQ(parse_go_int64("-3600"), -3600);
  EXPECT_EQ(parse_go_int64("007"), 7);
}

TEST(ParseGoInt64, AcceptsTheInt64Range) {
  EXPECT_EQ(parse_go_int64("9223372036854775807"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parse_go_int64("-9223372036854775808"), std::numeric_limits<int64_t>::min());
}

TEST(ParseGoInt64, RejectsOverflow) {
  EXPECT_EQ(parse_go_int64("9223372036854775808"), std::nullopt);
  EXPECT_EQ(parse_go_int64("-9223372036854775809"), std::nullopt);
  EXPECT_EQ(parse_go_int64("99999999999999999999999"), std::nullopt);
}

TEST(ParseGoInt64, RejectsAnythingElse) {
  for (const char* text :
       {"", "+", "-", " 1", "1 ", "1_000", "0x10", "1.0", "1e3", "--1", "+-1", "abc", "12a"}) {
    EXPECT_EQ(parse_go_int64(text), std::nullopt) << text;
  }
}

TEST(ValidateTokenExpiration, RaisesShortLifetimesToTenMinutes) {
  EXPECT_EQ(validate_token_expiration(599), kMinTokenExpiration);
  EXPECT_EQ(validate_token_expiration(std::numeric_limits<int64_t>::min()), kMinTokenExpiration);
  EXPECT_EQ(validate_token_expiration(600), 600);
}

TEST(ValidateTokenExpiration, RejectsLifetimesAboveTheMaximum) {
  EXPECT_EQ(validate_token_expiration(kMaxTokenExpiration), kMaxTokenExpiration);
  EXPECT_EQ(validate_token_expiration(kMaxTokenExpiration + 1), std::nullopt);
  EXPECT_EQ(validate_token_expiration(std::numeric_limits<int64_t>::max()), std::nullopt);
}

ServiceAccountSettings with_role() {
  ServiceAccountSettings settings;
  settings.role_arn = kRoleArn;
  return settings;
}

TEST(ResolveIdentity, NoRoleArnAndNotListedGivesNoIdentity) {
  Defaults defaults;
  EXPECT_EQ(resolve_identity(std::nullopt, false, defaults), std::nullopt);
  EXPECT_EQ(resolve_identity(ServiceAccountSettings{}, false, defaults), std::nullopt);
  ServiceAccountSettings only_audience;
  only_audience.audience = "x";
  EXPECT_EQ(resolve_identity(only_audience, false, defaults), std::nullopt);
}

TEST(ResolveIdentity, RoleArnGivesWebIdentityWithDefaults) {
  Defaults defaults;
  auto identity = resolve_identity(with_role(), false, defaults);
  ASSERT_TRUE(identity);
  Identity expected;
  expected.mode = Mode::kWebIdentity;
  expected.role_arn = kRoleArn;
  expected.audience = "sts.amazonaws.com";
  expected.regional_sts = false;
  expected.token_expiration = kDefaultTokenExpiration;
  expected.role_session_name = false;
  EXPECT_EQ(*identity, expected);
}

TEST(ResolveIdentity, AnnotationsOverrideDefaults) {
  Defaults defaults;
  defaults.audience = "default-audience";
  defaults.token_expiration = 1000;
  auto settings = with_role();
  settings.audience = "sa-audience";
  settings.token_expiration = 7200;
  auto identity = resolve_identity(settings, false, defaults);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->audience, "sa-audience");
  EXPECT_EQ(identity->token_expiration, 7200);

  auto defaulted = resolve_identity(with_role(), false, defaults);
  ASSERT_TRUE(defaulted);
  EXPECT_EQ(defaulted->audience, "default-audience");
  EXPECT_EQ(defaulted->token_expiration, 1000);
}

TEST(ResolveIdentity, StsAnnotationWinsOverTheDefaultBothWays) {
  Defaults regional;
  regional.regional_sts = true;
  Defaults global;
  global.regional_sts = false;
  auto off = with_role();
  off.regional_sts = false;
  auto on = with_role();
  on.regional_sts = true;

  EXPECT_FALSE(resolve_identity(off, false, regional)->regional_sts);
  EXPECT_TRUE(resolve_identity(on, false, global)->regional_sts);
  EXPECT_TRUE(resolve_identity(with_role(), false, regional)->regional_sts);
  EXPECT_FALSE(resolve_identity(with_role(), false, global)->regional_sts);
  EXPECT_FALSE(resolve_identity(off, true, regional)->regional_sts);
  EXPECT_TRUE(resolve_identity(on, true, global)->regional_sts);
}

TEST(ResolveIdentity, RoleSessionNameFromAnnotationOrDefault) {
  Defaults defaults;
  EXPECT_FALSE(resolve_identity(with_role(), false, defaults)->role_session_name);
  auto annotated = with_role();
  annotated.role_session_name = true;
  EXPECT_TRUE(resolve_identity(annotated, false, defaults)->role_session_name);
  defaults.inject_role_session_name = true;
  EXPECT_TRUE(resolve_identity(with_role(), false, defaults)->role_session_name);
}

TEST(ResolveIdentity, ContainerCredentialsTakePrecedenceOverRoleArn) {
  Defaults defaults;
  defaults.inject_role_session_name = true;
  auto settings = with_role();
  settings.audience = "sa-audience";
  settings.role_session_name = true;
  settings.token_expiration = 7200;
  auto identity = resolve_identity(settings, true, defaults);
  ASSERT_TRUE(identity);
  Identity expected;
  expected.mode = Mode::kContainerCredentials;
  expected.audience = "pods.eks.amazonaws.com";  // never the ServiceAccount's audience
  expected.regional_sts = false;
  expected.token_expiration = 7200;
  expected.role_session_name = false;
  EXPECT_EQ(*identity, expected);
  EXPECT_TRUE(identity->role_arn.empty());
}

TEST(ResolveIdentity, ContainerCredentialsForAnUnknownServiceAccount) {
  Defaults defaults;
  defaults.container_credentials_audience = "custom-audience";
  defaults.regional_sts = true;
  defaults.token_expiration = 5000;
  auto identity = resolve_identity(std::nullopt, true, defaults);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->mode, Mode::kContainerCredentials);
  EXPECT_EQ(identity->audience, "custom-audience");
  EXPECT_TRUE(identity->regional_sts);
  EXPECT_EQ(identity->token_expiration, 5000);
  EXPECT_TRUE(identity->role_arn.empty());
}

TEST(IsRegionName, AcceptsAwsRegionShapes) {
  for (const char* region :
       {"us-east-1", "us-gov-west-1", "cn-north-1", "eu-central-2", "ap-southeast-4",
        "il-central-1", "eusc-de-east-1", "us-isob-east-1"}) {
    EXPECT_TRUE(is_region_name(region)) << region;
  }
  for (const char* region :
       {"", "us-east", "US-EAST-1", "us_east_1", "us-east-1 ", "-us-east-1", "us--east-1",
        "1us-east-1", "us-east-1a", "us-east-1-", "a-very-long-region-name-that-is-too-long-1"}) {
    EXPECT_FALSE(is_region_name(region)) << region;
  }
}

TEST(IsIamRoleArn, AcceptsRoleArnsOfEveryPartitionWithPaths) {
  for (const char* arn :
       {"arn:aws:iam::111122223333:role/app", "arn:aws-cn:iam::111122223333:role/path/to/app",
        "arn:aws-us-gov:iam::111122223333:role/a_b+c=d,e.f@g-h"}) {
    EXPECT_TRUE(is_iam_role_arn(arn)) << arn;
  }
  for (const char* arn :
       {"app", "arn:aws:iam::1111:role/app", "arn:aws:iam::111122223333:user/app",
        "arn:aws:sts::111122223333:role/app", "arn:azure:iam::111122223333:role/a",
        "arn:aws:iam::111122223333:role/", "arn:aws:iam::111122223333:role/a b",
        "arn:aws:iam:us-east-1:111122223333:role/app", "arn:aws:iam::111122223333:role//app",
        " arn:aws:iam::111122223333:role/a"}) {
    EXPECT_FALSE(is_iam_role_arn(arn)) << arn;
  }
}

TEST(ParseServiceAccountAnnotations, ReadsTheRegion) {
  auto settings =
      parse({{"eks.amazonaws.com/role-arn", kRoleArn}, {"eks.amazonaws.com/region", "eu-west-1"}});
  EXPECT_EQ(settings.region, "eu-west-1");
  EXPECT_THAT(settings.problems, IsEmpty());
  auto bad =
      parse({{"eks.amazonaws.com/role-arn", kRoleArn}, {"eks.amazonaws.com/region", "Frankfurt"}});
  EXPECT_FALSE(bad.region);
  EXPECT_THAT(bad.problems, ElementsAre("annotation eks.amazonaws.com/region \"Frankfurt\" is not "
                                        "a region name such as us-east-1; using the default"));
}

TEST(ParseServiceAccountAnnotations, ARoleArnThatIsNoRoleArnIsKeptWithAProblem) {
  auto settings = parse({{"eks.amazonaws.com/role-arn", "s3-reader"}});
  EXPECT_EQ(settings.role_arn, "s3-reader");  // as AWS's webhook: warned, not dropped
  ASSERT_EQ(settings.problems.size(), 1u);
  EXPECT_THAT(settings.problems[0], HasSubstr("\"s3-reader\" is not an IAM role ARN"));
}

TEST(AnnotationKeyProblem, NamesTheKeyMeantForNearMisses) {
  auto sa = [](std::string_view key) {
    return annotation_key_problem(key, kPrefix, AnnotationTarget::kServiceAccount);
  };
  for (const char* key :
       {"eks.amazonaws.com/rolearn", "eks.amazonaws.com/role_arn", "eks.amazonaws.com/role-Arn",
        "eks.amazonaws.com/Role-ARN", "eks.amazonaws.com/role-arm", "eks.amazonaws.com/rol-arn"}) {
    auto problem = sa(key);
    ASSERT_TRUE(problem) << key;
    EXPECT_THAT(*problem, HasSubstr("did you mean eks.amazonaws.com/role-arn?")) << key;
  }
  EXPECT_THAT(sa("eks.amazonaws.com/sts-regional-endpoint").value_or(""),
              HasSubstr("eks.amazonaws.com/sts-regional-endpoints?"));
  EXPECT_THAT(sa("eks.amazonaws.com/audiance").value_or(""),
              HasSubstr("eks.amazonaws.com/audience?"));
  // A typo in the prefix, with the right name or a near one.
  for (const char* key : {"eks.amazonws.com/role-arn", "eks.amazonaws.co/role-arn",
                          "Eks.Amazonaws.com/role-arn", "eks.amazonaws.cm/rolearn"}) {
    auto problem = sa(key);
    ASSERT_TRUE(problem) << key;
    EXPECT_THAT(*problem, HasSubstr("is ignored: did you mean eks.amazonaws.com/role-arn?"));
  }
  // Known keys, keys of others under the prefix, and unrelated keys pass.
  for (const char* key :
       {"eks.amazonaws.com/role-arn", "eks.amazonaws.com/region", "eks.amazonaws.com/compute-type",
        "eks.amazonaws.com/fargate-profile", "example.com/role-arn", "kubectl.kubernetes.io/x",
        "role-arn", "azure.workload.identity/client-id"}) {
    EXPECT_FALSE(sa(key)) << key;
  }
}

TEST(AnnotationKeyProblem, AKeyOnTheWrongObjectIsIgnored) {
  auto on_pod =
      annotation_key_problem("eks.amazonaws.com/role-arn", kPrefix, AnnotationTarget::kPod);
  ASSERT_TRUE(on_pod);
  EXPECT_EQ(
      *on_pod,
      "annotation eks.amazonaws.com/role-arn belongs on the ServiceAccount: here it is ignored");
  auto on_sa = annotation_key_problem("eks.amazonaws.com/skip-containers", kPrefix,
                                      AnnotationTarget::kServiceAccount);
  ASSERT_TRUE(on_sa);
  EXPECT_THAT(*on_sa, HasSubstr("belongs on the Pod"));
  // token-expiration is both.
  EXPECT_FALSE(annotation_key_problem("eks.amazonaws.com/token-expiration", kPrefix,
                                      AnnotationTarget::kPod));
  EXPECT_THAT(
      annotation_key_problem("eks.amazonaws.com/include-container", kPrefix, AnnotationTarget::kPod)
          .value_or(""),
      HasSubstr("did you mean eks.amazonaws.com/include-containers?"));
}

TEST(ParseServiceAccountAnnotations, NearMissKeysAreProblems) {
  auto settings = parse({{"eks.amazonaws.com/rolearn", kRoleArn}});
  EXPECT_FALSE(settings.role_arn);
  EXPECT_TRUE(settings.empty());
  EXPECT_THAT(settings.problems,
              ElementsAre("annotation eks.amazonaws.com/rolearn is unknown: did you mean "
                          "eks.amazonaws.com/role-arn?"));
}

TEST(ResolveIdentity, CarriesTheServiceAccountRegion) {
  ServiceAccountSettings settings;
  settings.role_arn = kRoleArn;
  settings.region = "sa-east-1";
  EXPECT_EQ(resolve_identity(settings, false, Defaults{})->region, "sa-east-1");
  EXPECT_EQ(resolve_identity(settings, true, Defaults{})->region, "sa-east-1");
}

}  // namespace
}  // namespace irsa::identity
