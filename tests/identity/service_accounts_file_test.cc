// ServiceAccounts from manifest files: shapes, defaults, errors, duplicates.
#include "identity/service_accounts_file.h"

#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "manifest/documents.h"

namespace irsa::identity {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kPrefix = "eks.amazonaws.com";

Result<std::vector<ServiceAccountRecord>> from_text(std::string_view text,
                                                    std::string_view prefix = kPrefix) {
  auto docs = manifest::parse_documents(text, "sa.yaml");
  if (!docs) return Error{docs.error()};
  return service_accounts_from_documents(*docs, prefix, "sa.yaml");
}

std::vector<ServiceAccountRecord> records_ok(std::string_view text,
                                             std::string_view prefix = kPrefix) {
  auto records = from_text(text, prefix);
  EXPECT_TRUE(records.ok()) << records.error();
  return records.ok() ? *records : std::vector<ServiceAccountRecord>{};
}

std::string error_of(std::string_view text) {
  auto records = from_text(text);
  EXPECT_FALSE(records.ok());
  return records.ok() ? std::string() : records.error();
}

TEST(ServiceAccountsFromDocuments, ReadsOneServiceAccount) {
  auto records = records_ok(R"(
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: prod
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/app
    eks.amazonaws.com/sts-regional-endpoints: "true"
    eks.amazonaws.com/token-expiration: "3600"
)");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].namespace_name, "prod");
  EXPECT_EQ(records[0].name, "app");
  EXPECT_EQ(records[0].settings.role_arn, "arn:aws:iam::111122223333:role/app");
  EXPECT_EQ(records[0].settings.regional_sts, true);
  EXPECT_EQ(records[0].settings.token_expiration, 3600);
}

TEST(ServiceAccountsFromDocuments, NamespaceDefaultsToDefault) {
  auto records = records_ok("kind: ServiceAccount\nmetadata: {name: app}\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].namespace_name, "default");
  EXPECT_TRUE(records[0].settings.empty());
}

TEST(ServiceAccountsFromDocuments, ReadsSeveralDocumentsAndLists) {
  auto records = records_ok(R"(
kind: ServiceAccount
metadata: {name: a}
---
---
apiVersion: v1
kind: ServiceAccountList
items:
- kind: ServiceAccount
  metadata: {name: b, namespace: x}
- kind: ServiceAccount
  metadata: {name: c, namespace: y}
)");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].name, "a");
  EXPECT_EQ(records[1].namespace_name + "/" + records[1].name, "x/b");
  EXPECT_EQ(records[2].namespace_name + "/" + records[2].name, "y/c");
}

TEST(ServiceAccountsFromDocuments, ReadsJsonList) {
  auto records = records_ok(R"({"apiVersion": "v1", "kind": "List", "items": [
      {"kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "n",
        "annotations": {"eks.amazonaws.com/audience": "aud"}}}]})");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].settings.audience, "aud");
}

TEST(ServiceAccountsFromDocuments, UsesTheGivenAnnotationPrefix) {
  auto records = records_ok(R"(
kind: ServiceAccount
metadata:
  name: app
  annotations:
    example.com/role-arn: arn:custom
    eks.amazonaws.com/role-arn: arn:ignored
)",
                            "example.com");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].settings.role_arn, "arn:custom");
}

TEST(ServiceAccountsFromDocuments, KeepsAnnotationProblems) {
  auto records = records_ok(R"(
kind: ServiceAccount
metadata:
  name: app
  annotations: {eks.amazonaws.com/token-expiration: "soon"}
)");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_THAT(records[0].settings.problems, ::testing::ElementsAre(HasSubstr("\"soon\"")));
}

TEST(ServiceAccountsFromDocuments, LaterDuplicateWins) {
  auto records = records_ok(R"(
kind: ServiceAccount
metadata: {name: app, annotations: {eks.amazonaws.com/role-arn: arn:first}}
---
kind: ServiceAccount
metadata: {name: other}
---
kind: ServiceAccount
metadata: {name: app, namespace: default, annotations: {eks.amazonaws.com/role-arn: arn:second}}
)");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].name, "app");
  EXPECT_EQ(records[0].settings.role_arn, "arn:second");
  EXPECT_EQ(records[1].name, "other");
}

TEST(ServiceAccountsFromDocuments, OtherKindIsAnErrorNamingTheDocument) {
  EXPECT_EQ(error_of("kind: ServiceAccount\nmetadata: {name: a}\n---\nkind: Pod\n"
                     "metadata: {name: p}\n"),
            "sa.yaml: document 2 (kind Pod): expected kind ServiceAccount");
  EXPECT_THAT(error_of("metadata: {name: a}\n"), HasSubstr("document 1: no kind"));
  EXPECT_THAT(error_of("[1, 2]\n"), HasSubstr("document 1: expected a ServiceAccount object"));
}

TEST(ServiceAccountsFromDocuments, KindAndAnnotationKeyAreQuotedWhenNotPlainNames) {
  // Found by the manifest fuzzer: a carriage return in the kind split the
  // message that names the document.
  EXPECT_EQ(error_of("kind: \"Pod\\rInjected: yes\"\n"),
            "sa.yaml: document 1 (kind \"Pod\\x0dInjected: yes\"): expected kind ServiceAccount");
  EXPECT_EQ(error_of("kind: ServiceAccount\nmetadata: {name: a, annotations: {\"a\\nb\": 1}}\n"),
            "sa.yaml: document 1 (kind ServiceAccount): annotation \"a\\x0ab\" must be a string, "
            "found a number (quote it)");
}

TEST(ServiceAccountsFromDocuments, MissingNameIsAnError) {
  EXPECT_THAT(error_of("kind: ServiceAccount\nmetadata: {namespace: x}\n"),
              HasSubstr("metadata.name"));
  EXPECT_THAT(error_of("kind: ServiceAccount\nmetadata: {name: 5}\n"), HasSubstr("metadata.name"));
  EXPECT_THAT(error_of("kind: ServiceAccount\n"), HasSubstr("no metadata"));
}

TEST(ServiceAccountsFromDocuments, NonStringNamespaceIsAnError) {
  EXPECT_THAT(error_of("kind: ServiceAccount\nmetadata: {name: a, namespace: [x]}\n"),
              HasSubstr("metadata.namespace"));
}

TEST(ServiceAccountsFromDocuments, NonStringAnnotationIsAnError) {
  std::string error = error_of(R"(
kind: ServiceAccount
metadata:
  name: app
  annotations:
    eks.amazonaws.com/sts-regional-endpoints: true
)");
  EXPECT_THAT(error, StartsWith("sa.yaml: document 1 (kind ServiceAccount): annotation "
                                "eks.amazonaws.com/sts-regional-endpoints must be a string"));
  EXPECT_THAT(error_of("kind: ServiceAccount\nmetadata: {name: a, annotations: [x]}\n"),
              HasSubstr("metadata.annotations must be a map"));
}

TEST(ServiceAccountsFromDocuments, EmptyInputHasNoServiceAccounts) {
  EXPECT_TRUE(records_ok("").empty());
  EXPECT_TRUE(records_ok("---\n---\n").empty());
}

class LoadServiceAccounts : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = std::filesystem::temp_directory_path() /
           ("irsa-sa-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string write(const std::string& name, const std::string& content) {
    auto path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(LoadServiceAccounts, ReadsYamlFile) {
  auto path = write("sa.yaml",
                    "kind: ServiceAccount\nmetadata:\n  name: app\n  annotations:\n"
                    "    eks.amazonaws.com/role-arn: arn:aws:iam::1:role/a\n");
  auto records = load_service_accounts(path, kPrefix);
  ASSERT_TRUE(records.ok()) << records.error();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].settings.role_arn, "arn:aws:iam::1:role/a");
}

TEST_F(LoadServiceAccounts, ErrorsNameTheFile) {
  auto bad_yaml = write("bad.yaml", "kind: ServiceAccount\nmetadata: {name: [\n");
  auto result = load_service_accounts(bad_yaml, kPrefix);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error(), StartsWith(bad_yaml + ": line "));

  auto pod = write("pod.json", R"({"kind": "Pod", "metadata": {"name": "p"}})");
  result = load_service_accounts(pod, kPrefix);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error(), StartsWith(pod + ": document 1 (kind Pod)"));

  result = load_service_accounts((dir_ / "absent.yaml").string(), kPrefix);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error(), StartsWith("cannot read "));
}

}  // namespace
}  // namespace irsa::identity
