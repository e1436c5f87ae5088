// The ConfigMap role mapping (AWS's format) and its precedence in the
// resolver: a ServiceAccount's own role-arn annotation wins.
#include "identity/role_mapping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "identity/registry.h"

namespace irsa::identity {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(ParseRoleMapping, ReadsAwsFieldsWithGoCaseInsensitiveNames) {
  auto parsed = parse_role_mapping(R"({
    "team/app": {"RoleARN": "arn:aws:iam::1:role/app", "Audience": "aud",
                 "UseRegionalSTS": true, "TokenExpiration": 3600},
    "team/lower": {"rolearn": "arn:aws:iam::1:role/lower", "tokenexpiration": 60},
    "*/shared": {"RoleARN": "arn:aws:iam::1:role/shared", "Unknown": [1]}
  })");
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_TRUE(parsed->problems.empty());
  const auto* app = parsed->mapping.find("team", "app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->role_arn, "arn:aws:iam::1:role/app");
  EXPECT_EQ(app->audience, "aud");
  EXPECT_EQ(app->regional_sts, true);
  EXPECT_EQ(app->token_expiration, 3600);
  const auto* lower = parsed->mapping.find("team", "lower");
  ASSERT_NE(lower, nullptr);
  EXPECT_EQ(lower->role_arn, "arn:aws:iam::1:role/lower");
  EXPECT_EQ(lower->token_expiration, kMinTokenExpiration);  // raised to 600 s
  EXPECT_EQ(lower->regional_sts, false);                    // absent is false, as AWS's webhook
  EXPECT_EQ(lower->audience, std::nullopt);                 // the default audience
  const auto* shared = parsed->mapping.find("other", "shared");
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(shared->role_arn, "arn:aws:iam::1:role/shared");
  EXPECT_EQ(shared->token_expiration, std::nullopt);  // absent or 0: the default
  EXPECT_EQ(parsed->mapping.find("other", "app"), nullptr);
}

TEST(ParseRoleMapping, AnExactNamespaceWinsOverTheWildcard) {
  auto parsed = parse_role_mapping(
      R"({"*/app": {"RoleARN": "arn:wild"}, "team/app": {"RoleARN": "arn:exact"}})");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->mapping.find("team", "app")->role_arn, "arn:exact");
  EXPECT_EQ(parsed->mapping.find("else", "app")->role_arn, "arn:wild");
}

TEST(ParseRoleMapping, WrongTypesFailTheWholeConfig) {
  for (const char* text :
       {R"({"a/b": {"RoleARN": 1}})", R"({"a/b": {"TokenExpiration": "1"}})",
        R"({"a/b": {"TokenExpiration": 1.5}})", R"({"a/b": {"UseRegionalSTS": "yes"}})",
        R"({"a/b": []})", "[]", "{not json"}) {
    auto parsed = parse_role_mapping(text);
    EXPECT_FALSE(parsed) << text;
    if (!parsed) {
      EXPECT_THAT(parsed.error(), HasSubstr("ConfigMap config"));
    }
  }
}

TEST(ParseRoleMapping, EmptyNullAndOddKeysAreToleratedWithProblems) {
  EXPECT_EQ(parse_role_mapping("")->mapping.size(), 0u);
  EXPECT_EQ(parse_role_mapping("null")->mapping.size(), 0u);
  auto parsed = parse_role_mapping(R"({"noslash": {"RoleARN": "x"}, "a/b": null})");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->mapping.size(), 0u);
  EXPECT_EQ(parsed->problems.size(), 2u);
}

TEST(IdentityResolverWithRoleMapping, AnnotationsWinOverTheConfigMap) {
  ServiceAccountRegistry registry;
  ServiceAccountSettings annotated;
  annotated.role_arn = "arn:annotation";
  registry.upsert("team", "annotated", annotated);
  registry.upsert("team", "plain", ServiceAccountSettings{});
  IdentityResolver resolver(registry, Defaults{});
  auto mapping = parse_role_mapping(R"({"team/annotated": {"RoleARN": "arn:cm"},
                                        "team/plain": {"RoleARN": "arn:cm-plain", "Audience": "a"},
                                        "*/unknown": {"RoleARN": "arn:cm-unknown"}})");
  ASSERT_TRUE(mapping);
  resolver.set_role_mapping(std::make_shared<const RoleMapping>(mapping->mapping));

  EXPECT_EQ(resolver.resolve("team", "annotated").identity->role_arn, "arn:annotation");
  auto plain = resolver.resolve("team", "plain");
  ASSERT_TRUE(plain.identity);
  EXPECT_EQ(plain.identity->role_arn, "arn:cm-plain");
  EXPECT_EQ(plain.identity->audience, "a");
  auto unknown = resolver.resolve("x", "unknown");
  EXPECT_FALSE(unknown.service_account_known);
  ASSERT_TRUE(unknown.identity);
  EXPECT_EQ(unknown.identity->role_arn, "arn:cm-unknown");

  resolver.set_role_mapping(nullptr);
  EXPECT_FALSE(resolver.resolve("team", "plain").identity);
}

TEST(IdentityResolverWithRoleMapping, ResolveWithUsesSuppliedSettings) {
  ServiceAccountRegistry registry;
  IdentityResolver resolver(registry, Defaults{});
  ServiceAccountSettings fetched;
  fetched.role_arn = "arn:fetched";
  auto lookup = resolver.resolve_with("team", "app", fetched);
  EXPECT_TRUE(lookup.service_account_known);
  ASSERT_TRUE(lookup.identity);
  EXPECT_EQ(lookup.identity->role_arn, "arn:fetched");
  EXPECT_FALSE(resolver.resolve_with("team", "app", std::nullopt).service_account_known);
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
  registry.upsert("ns", "app",
                  parse_service_account_annotations({{"eks.amazonaws.com/region", "me-south-1"}},
                                                    "eks.amazonaws.com"));
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
