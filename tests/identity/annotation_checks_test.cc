// Issue 20: the region annotation, and the checks that turn a broken
// identity configuration into a warning instead of a silent no-op.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "identity/identity.h"
#include "identity/registry.h"
#include "identity/role_mapping.h"

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
  auto empty = parse({{"eks.amazonaws.com/role-arn", ""}, {"eks.amazonaws.com/audience", ""}});
  EXPECT_FALSE(empty.role_arn);
  EXPECT_FALSE(empty.audience);
  EXPECT_EQ(empty.problems.size(), 2u);
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

TEST(IdentityResolver, LookupCarriesProblemsAndWhatResolutionIgnores) {
  ServiceAccountRegistry registry;
  registry.upsert("ns", "typo", parse({{"eks.amazonaws.com/rolearn", kRoleArn}}));
  registry.upsert("ns", "no-role", parse({{"eks.amazonaws.com/audience", "aud"}}));
  registry.upsert("ns", "pod-identity", parse({{"eks.amazonaws.com/role-arn", kRoleArn}}));
  registry.upsert("ns", "fine", parse({{"eks.amazonaws.com/role-arn", kRoleArn}}));
  IdentityResolver resolver(registry, Defaults{});
  auto config = std::make_shared<ContainerCredentialsConfig>();
  *config = *parse_container_credentials_config(
      R"({"identities":[{"namespace":"ns","serviceAccount":"pod-identity"}]})");
  resolver.set_container_credentials(config);

  auto typo = resolver.resolve("ns", "typo");
  EXPECT_FALSE(typo.identity);
  EXPECT_THAT(typo.problems, ElementsAre(HasSubstr("did you mean eks.amazonaws.com/role-arn?")));
  EXPECT_THAT(resolver.resolve("ns", "no-role").problems,
              ElementsAre("annotations without role-arn give the Pod no AWS identity"));
  EXPECT_THAT(resolver.resolve("ns", "pod-identity").problems,
              ElementsAre(HasSubstr("role-arn and audience annotations are ignored")));
  EXPECT_THAT(resolver.resolve("ns", "fine").problems, IsEmpty());
  EXPECT_THAT(resolver.resolve("ns", "unknown").problems, IsEmpty());
}

TEST(IdentityResolver, ServiceAccountRegionWinsOverTheConfigMapEntry) {
  auto parsed = parse_role_mapping(R"({"ns/app": {"RoleARN": "arn:aws:iam::111122223333:role/a",
      "Region": "eu-north-1"}, "ns/bad": {"RoleARN": "arn:aws:iam::111122223333:role/b",
      "region": "north"}})");
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->mapping.find("ns", "app")->region, "eu-north-1");
  EXPECT_FALSE(parsed->mapping.find("ns", "bad")->region);
  EXPECT_THAT(parsed->problems, IsEmpty());
  EXPECT_THAT(parsed->mapping.find("ns", "bad")->problems,
              ElementsAre(HasSubstr("Region is not a region name")));

  ServiceAccountRegistry registry;
  registry.upsert("ns", "app", parse({{"eks.amazonaws.com/region", "me-south-1"}}));
  registry.upsert("ns", "bad", {});
  IdentityResolver resolver(registry, Defaults{});
  resolver.set_role_mapping(std::make_shared<RoleMapping>(std::move(parsed->mapping)));
  auto app = resolver.resolve("ns", "app");
  ASSERT_TRUE(app.identity);
  EXPECT_EQ(app.identity->role_arn, "arn:aws:iam::111122223333:role/a");
  EXPECT_EQ(app.identity->region, "me-south-1");
  auto bad = resolver.resolve("ns", "bad");
  ASSERT_TRUE(bad.identity);
  EXPECT_EQ(bad.identity->region, "");
  EXPECT_THAT(bad.problems, ElementsAre(HasSubstr("Region is not a region name")));
}

}  // namespace
}  // namespace irsa::identity
