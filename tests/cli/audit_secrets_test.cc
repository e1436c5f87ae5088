// audit's view of Secrets: key names and credentials-file shapes, never values.
#include "cli/audit_secrets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace irsa::cli {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(LooksLikeCredentialsFile, AnyProfileAnyCaseAnySpacing) {
  EXPECT_TRUE(looks_like_credentials_file("[default]\naws_access_key_id = AKIA\n"));
  EXPECT_TRUE(looks_like_credentials_file("[profile x]\r\n  AWS_Access_Key_Id=AKIA\r\n"));
  EXPECT_TRUE(looks_like_credentials_file("[minio]\naws_secret_access_key\t=\tsecret"));
  EXPECT_TRUE(looks_like_credentials_file("[a]\nregion=x\n[b]\naws_access_key_id =x"));
  EXPECT_FALSE(looks_like_credentials_file("[default]\nregion = us-east-1\n"));
  EXPECT_FALSE(looks_like_credentials_file("# aws_access_key_id = AKIA\n"));
  EXPECT_FALSE(looks_like_credentials_file("my_aws_access_key_id = x"));
  EXPECT_FALSE(looks_like_credentials_file("aws_access_key_id_file = /x"));
  EXPECT_FALSE(looks_like_credentials_file(""));
}

json secret(const std::string& name, const json& data, const json& string_data = nullptr) {
  json doc = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", name}}}};
  if (!data.is_null()) doc["data"] = data;
  if (!string_data.is_null()) doc["stringData"] = string_data;
  return doc;
}

TEST(SecretIndex, KeepsKeyNamesAndShapesOnly) {
  SecretIndex index;
  // "[default]\naws_access_key_id = AKIA\n" and "plain"
  EXPECT_TRUE(
      index.add(secret("creds", {{"cloud", "W2RlZmF1bHRdCmF3c19hY2Nlc3Nfa2V5X2lkID0gQUtJQQo="},
                                 {"other", "cGxhaW4="},
                                 {"broken", "not base64!"}})));
  EXPECT_TRUE(index.add(secret("keys", nullptr, {{"AWS_ACCESS_KEY_ID", "AKIA"}})));
  EXPECT_FALSE(index.add(json{{"kind", "ConfigMap"}, {"metadata", {{"name", "c"}}}}));
  const SecretFacts* creds = index.find("default", "creds");
  ASSERT_NE(creds, nullptr);
  EXPECT_THAT(creds->keys, ElementsAre("broken", "cloud", "other"));
  EXPECT_THAT(creds->credentials_file_keys, ElementsAre("cloud"));
  EXPECT_EQ(index.find("other", "creds"), nullptr);
  ASSERT_NE(index.find("default", "keys"), nullptr);
}

struct Resolved {
  std::vector<std::string> described;
};

std::vector<std::string> describe(const std::vector<credentials::Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) {
    EXPECT_EQ(f.handling, credentials::Handling::kSecretContent);
    out.push_back(f.describe());
  }
  return out;
}

TEST(SecretFindings, EnvFromSecretWithAwsKeyNamesAfterItsPrefix) {
  SecretIndex index;
  index.add(
      secret("aws", nullptr,
             {{"AWS_ACCESS_KEY_ID", "AKIAEXAMPLEVALUE"}, {"AWS_SECRET_ACCESS_KEY", "s3cr3t"}}));
  index.add(secret("prefixed", nullptr, {{"ACCESS_KEY_ID", "x"}}));
  index.add(secret("minio", nullptr, {{"accesskey", "x"}, {"secretkey", "y"}}));
  json pod = json::parse(R"({"spec":{"containers":[{"name":"app","envFrom":[
    {"secretRef":{"name":"aws"}},
    {"prefix":"AWS_","secretRef":{"name":"prefixed"}},
    {"secretRef":{"name":"minio"}},
    {"secretRef":{"name":"not-in-inputs"}},
    {"configMapRef":{"name":"aws"}}]}]}})");
  auto findings = secret_findings(pod, "default", index, {});
  EXPECT_THAT(
      describe(findings),
      ElementsAre("container app: envFrom Secret aws (Secret gives AWS_ACCESS_KEY_ID, "
                  "AWS_SECRET_ACCESS_KEY)",
                  "container app: envFrom Secret prefixed (Secret gives AWS_ACCESS_KEY_ID)"));
  // A workload in another namespace does not see them.
  EXPECT_THAT(secret_findings(pod, "prod", index, {}), IsEmpty());
}

TEST(SecretFindings, CredentialsFilesInSecretVolumesAndSecretKeyRefs) {
  SecretIndex index;
  index.add(secret("cloud-credentials", nullptr,
                   {{"cloud", "[default]\naws_access_key_id=minio\naws_secret_access_key=minio123"},
                    {"ca.crt", "-----BEGIN CERTIFICATE-----"}}));
  json pod = json::parse(R"({"spec":{
    "initContainers":[{"name":"setup","env":[
      {"name":"CREDS","valueFrom":{"secretKeyRef":{"name":"cloud-credentials","key":"cloud"}}},
      {"name":"CA","valueFrom":{"secretKeyRef":{"name":"cloud-credentials","key":"ca.crt"}}}]}],
    "containers":[{"name":"app","volumeMounts":[
      {"name":"creds","mountPath":"/credentials"},
      {"name":"ca-only","mountPath":"/ca"},
      {"name":"proj","mountPath":"/etc/proj"},
      {"name":"creds","mountPath":"/etc/ca.crt","subPath":"ca.crt"}]}],
    "volumes":[
      {"name":"creds","secret":{"secretName":"cloud-credentials"}},
      {"name":"ca-only","secret":{"secretName":"cloud-credentials","items":[{"key":"ca.crt","path":"ca"}]}},
      {"name":"proj","projected":{"sources":[{"secret":{"name":"cloud-credentials"}}]}}]}})");
  auto findings = secret_findings(pod, "default", index, {});
  EXPECT_THAT(describe(findings),
              ElementsAre("container setup: env CREDS (an AWS credentials file from Secret "
                          "cloud-credentials)",
                          "container app: volume creds at /credentials (Secret cloud-credentials "
                          "holds an AWS credentials file (cloud))",
                          "container app: volume proj at /etc/proj (Secret cloud-credentials holds "
                          "an AWS credentials file (cloud))"));

  // What the webhook already found is not listed twice.
  credentials::Finding seen;
  seen.kind = credentials::FindingKind::kVolumeMount;
  seen.container_index = 0;
  seen.index = 0;
  EXPECT_EQ(secret_findings(pod, "default", index, {seen}).size(), 2u);
}

TEST(SecretFindings, NoValueEverReachesAFinding) {
  SecretIndex index;
  index.add(secret("aws", {{"AWS_ACCESS_KEY_ID", "QUtJQVNFQ1JFVFZBTFVF"}},  // AKIASECRETVALUE
                   {{"creds", "[p]\naws_access_key_id = AKIASECRETVALUE"}}));
  json pod = json::parse(R"({"spec":{"containers":[{"name":"app",
    "envFrom":[{"secretRef":{"name":"aws"}}],
    "volumeMounts":[{"name":"v","mountPath":"/v"}]}],
    "volumes":[{"name":"v","secret":{"secretName":"aws"}}]}})");
  auto findings = secret_findings(pod, "default", index, {});
  ASSERT_EQ(findings.size(), 2u);
  for (const auto& f : findings) {
    EXPECT_EQ(f.describe().find("AKIASECRETVALUE"), std::string::npos) << f.describe();
    EXPECT_EQ(f.describe().find("QUtJQ"), std::string::npos) << f.describe();
  }
}

}  // namespace
}  // namespace irsa::cli
