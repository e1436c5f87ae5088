// The ServiceAccount registry and the identity resolver.
#include "identity/registry.h"

#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace irsa::identity {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kRoleArn = "arn:aws:iam::111122223333:role/app";

ServiceAccountSettings parse(const std::map<std::string, std::string, std::less<>>& annotations) {
  return parse_service_account_annotations(annotations, "eks.amazonaws.com");
}

ServiceAccountSettings with_role(std::string role_arn = kRoleArn) {
  ServiceAccountSettings settings;
  settings.role_arn = std::move(role_arn);
  return settings;
}

TEST(ServiceAccountRegistry, UnknownServiceAccountIsNullopt) {
  ServiceAccountRegistry registry;
  EXPECT_EQ(registry.find("default", "app"), std::nullopt);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(ServiceAccountRegistry, UpsertThenFindReturnsTheSettings) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "app", with_role());
  EXPECT_EQ(registry.find("default", "app"), with_role());
  EXPECT_EQ(registry.find("other", "app"), std::nullopt);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(ServiceAccountRegistry, KnownServiceAccountWithoutAnnotationsHasEmptySettings) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "plain", ServiceAccountSettings{});
  auto found = registry.find("default", "plain");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->empty());
  EXPECT_EQ(*found, ServiceAccountSettings{});
}

TEST(ServiceAccountRegistry, KeepsProblemsOfOtherwiseEmptySettings) {
  ServiceAccountRegistry registry;
  ServiceAccountSettings settings;
  settings.problems.push_back("annotation x \"y\" is not an integer; using the default");
  registry.upsert("default", "bad", settings);
  EXPECT_EQ(registry.find("default", "bad"), settings);
}

TEST(ServiceAccountRegistry, UpsertReplaces) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "app", with_role("arn:old"));
  registry.upsert("default", "app", with_role("arn:new"));
  EXPECT_EQ(registry.find("default", "app"), with_role("arn:new"));
  registry.upsert("default", "app", ServiceAccountSettings{});
  EXPECT_EQ(registry.find("default", "app"), ServiceAccountSettings{});
  EXPECT_EQ(registry.size(), 1u);
}

TEST(ServiceAccountRegistry, NamespaceAndNameDoNotRunTogether) {
  ServiceAccountRegistry registry;
  registry.upsert("ab", "c", with_role());
  EXPECT_EQ(registry.find("a", "bc"), std::nullopt);
}

TEST(ServiceAccountRegistry, RemoveForgetsAndIgnoresUnknown) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "app", with_role());
  registry.upsert("default", "other", ServiceAccountSettings{});
  registry.remove("default", "absent");
  registry.remove("default", "app");
  EXPECT_EQ(registry.find("default", "app"), std::nullopt);
  EXPECT_TRUE(registry.find("default", "other"));
  EXPECT_EQ(registry.size(), 1u);
}

TEST(ServiceAccountRegistry, ReplaceAllDropsWhatIsNotListed) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "old", with_role());
  registry.replace_all({{"a", "one", with_role("arn:1")},
                        {"b", "two", ServiceAccountSettings{}},
                        {"a", "one", with_role("arn:later")}});
  EXPECT_EQ(registry.find("default", "old"), std::nullopt);
  EXPECT_EQ(registry.find("a", "one"), with_role("arn:later"));
  EXPECT_EQ(registry.find("b", "two"), ServiceAccountSettings{});
  EXPECT_EQ(registry.size(), 2u);
  registry.replace_all({});
  EXPECT_EQ(registry.size(), 0u);
}

TEST(ServiceAccountRegistry, SnapshotIsSortedByNamespaceThenName) {
  ServiceAccountRegistry registry;
  registry.upsert("b", "a", ServiceAccountSettings{});
  registry.upsert("a", "z", with_role());
  registry.upsert("a", "b", ServiceAccountSettings{});
  auto records = registry.snapshot();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].namespace_name, "a");
  EXPECT_EQ(records[0].name, "b");
  EXPECT_EQ(records[1].name, "z");
  EXPECT_EQ(records[1].settings, with_role());
  EXPECT_EQ(records[2].namespace_name, "b");
  EXPECT_EQ(records[2].name, "a");
}

TEST(ServiceAccountRegistry, HoldsManyServiceAccounts) {
  std::vector<ServiceAccountRecord> records;
  constexpr int kCount = 100000;
  records.reserve(kCount);
  for (int i = 0; i < kCount; ++i) {
    records.push_back({"ns-" + std::to_string(i % 100), "sa-" + std::to_string(i),
                       i % 10 == 0 ? with_role() : ServiceAccountSettings{}});
  }
  ServiceAccountRegistry registry;
  registry.replace_all(std::move(records));
  EXPECT_EQ(registry.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(registry.find("ns-10", "sa-10"), with_role());
  EXPECT_EQ(registry.find("ns-11", "sa-11"), ServiceAccountSettings{});
}

TEST(ServiceAccountRegistry, ConcurrentReadersSeeConsistentEntriesWhileAWriterChanges) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "stable", with_role("arn:stable"));
  std::atomic<bool> done{false};
  std::atomic<int> inconsistent{0};

  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      // Bounded: stops when the writer is done or after many iterations.
      for (int i = 0; i < 1000000 && !done.load(); ++i) {
        auto stable = registry.find("default", "stable");
        if (!stable || stable->role_arn != "arn:stable") ++inconsistent;
        auto moving = registry.find("default", "moving");
        if (moving && moving->role_arn && moving->role_arn->rfind("arn:", 0) != 0) ++inconsistent;
        (void)registry.size();
      }
    });
  }
  for (int i = 0; i < 5000; ++i) {
    registry.upsert("default", "moving", with_role("arn:" + std::to_string(i)));
    if (i % 3 == 0) registry.remove("default", "moving");
    if (i % 500 == 0) {
      registry.replace_all({{"default", "stable", with_role("arn:stable")},
                            {"default", "moving", ServiceAccountSettings{}}});
    }
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_EQ(registry.find("default", "stable"), with_role("arn:stable"));
}

TEST(IdentityResolver, UnknownServiceAccountIsReportedAndHasNoIdentity) {
  ServiceAccountRegistry registry;
  IdentityResolver resolver(registry, Defaults{});
  auto lookup = resolver.resolve("default", "absent");
  EXPECT_FALSE(lookup.service_account_known);
  EXPECT_EQ(lookup.identity, std::nullopt);
}

TEST(IdentityResolver, KnownServiceAccountWithoutRoleHasNoIdentity) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "plain", ServiceAccountSettings{});
  IdentityResolver resolver(registry, Defaults{});
  auto lookup = resolver.resolve("default", "plain");
  EXPECT_TRUE(lookup.service_account_known);
  EXPECT_EQ(lookup.identity, std::nullopt);
}

TEST(IdentityResolver, RoleArnGivesWebIdentity) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "app", with_role());
  Defaults defaults;
  defaults.audience = "custom";
  IdentityResolver resolver(registry, defaults);
  auto lookup = resolver.resolve("default", "app");
  EXPECT_TRUE(lookup.service_account_known);
  ASSERT_TRUE(lookup.identity);
  EXPECT_EQ(lookup.identity->mode, Mode::kWebIdentity);
  EXPECT_EQ(lookup.identity->role_arn, kRoleArn);
  EXPECT_EQ(lookup.identity->audience, "custom");
  EXPECT_EQ(resolver.defaults().audience, "custom");
}

TEST(IdentityResolver, ContainerCredentialsConfigWinsAndCanBeSwapped) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "app", with_role());
  IdentityResolver resolver(registry, Defaults{});
  EXPECT_EQ(resolver.container_credentials(), nullptr);

  auto config = std::make_shared<ContainerCredentialsConfig>();
  config->add("default", "app");
  config->add("other", "unknown");
  resolver.set_container_credentials(config);
  EXPECT_EQ(resolver.container_credentials(), config);

  auto listed = resolver.resolve("default", "app");
  ASSERT_TRUE(listed.identity);
  EXPECT_EQ(listed.identity->mode, Mode::kContainerCredentials);
  EXPECT_EQ(listed.identity->audience, "pods.eks.amazonaws.com");
  EXPECT_TRUE(listed.identity->role_arn.empty());

  auto unknown = resolver.resolve("other", "unknown");
  EXPECT_FALSE(unknown.service_account_known);
  ASSERT_TRUE(unknown.identity);
  EXPECT_EQ(unknown.identity->mode, Mode::kContainerCredentials);

  resolver.set_container_credentials(nullptr);
  auto after = resolver.resolve("default", "app");
  ASSERT_TRUE(after.identity);
  EXPECT_EQ(after.identity->mode, Mode::kWebIdentity);
  EXPECT_EQ(resolver.resolve("other", "unknown").identity, std::nullopt);
}

TEST(IdentityResolver, ConcurrentResolvesWhileTheConfigIsSwapped) {
  ServiceAccountRegistry registry;
  registry.upsert("default", "app", with_role());
  IdentityResolver resolver(registry, Defaults{});
  auto listed = std::make_shared<ContainerCredentialsConfig>();
  listed->add("default", "app");
  std::atomic<bool> done{false};
  std::atomic<int> missing{0};

  std::thread reader([&] {
    for (int i = 0; i < 1000000 && !done.load(); ++i) {
      if (!resolver.resolve("default", "app").identity) ++missing;
    }
  });
  for (int i = 0; i < 5000; ++i) {
    resolver.set_container_credentials(i % 2 ? listed : nullptr);
  }
  done = true;
  reader.join();
  EXPECT_EQ(missing.load(), 0);
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

}  // namespace
}  // namespace irsa::identity
