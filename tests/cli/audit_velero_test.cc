// Velero BackupStorageLocations: which ones send keys to a non-AWS endpoint,
// and which of a Velero Pod's findings they set apart.
#include "cli/audit_velero.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace irsa::cli {
namespace {

using credentials::Finding;
using credentials::FindingKind;
using credentials::Handling;
using nlohmann::json;

json location(const std::string& s3_url, const std::string& provider = "aws",
              const std::string& api = "velero.io/v1") {
  json doc = {{"apiVersion", api},
              {"kind", "BackupStorageLocation"},
              {"metadata", {{"name", "default"}, {"namespace", "velero"}}},
              {"spec",
               {{"provider", provider},
                {"objectStorage", {{"bucket", "velero"}}},
                {"config", {{"region", "minio"}, {"s3ForcePathStyle", "true"}}}}}};
  if (!s3_url.empty()) doc["spec"]["config"]["s3Url"] = s3_url;
  return doc;
}

TEST(BackupLocations, RecordsOnlyAwsPluginLocationsWithANonAwsHost) {
  BackupLocations locations;
  EXPECT_TRUE(locations.add(location("http://minio.velero.svc:9000")));
  EXPECT_TRUE(locations.add(location("https://s3.nl-ams.scw.cloud", "velero.io/aws")));
  EXPECT_TRUE(
      locations.add(location("http://minio.heptio-ark.svc:9000", "aws", "ark.heptio.com/v1")));
  // Seen, not recorded: AWS's own endpoints, no s3Url, another provider,
  // an s3Url that is a $(VAR).
  EXPECT_TRUE(locations.add(location("https://s3.eu-west-1.amazonaws.com")));
  EXPECT_TRUE(locations.add(location("https://bucket.vpce-1a2b.s3.us-east-1.vpce.amazonaws.com")));
  EXPECT_TRUE(locations.add(location("")));
  EXPECT_TRUE(locations.add(location("http://minio:9000", "gcp")));
  EXPECT_TRUE(locations.add(location("$(S3_URL)")));
  // Not a location at all.
  EXPECT_FALSE(locations.add(json{{"apiVersion", "v1"}, {"kind", "Secret"}}));
  EXPECT_FALSE(
      locations.add(json{{"apiVersion", "example.com/v1"}, {"kind", "BackupStorageLocation"}}));
  EXPECT_FALSE(locations.add(json::array()));
  ASSERT_EQ(locations.locations().size(), 3u);
  const auto& minio = locations.locations()[0];
  EXPECT_EQ(minio.namespace_name, "velero");
  EXPECT_EQ(minio.name, "default");
  EXPECT_EQ(minio.secret, "cloud-credentials");
  EXPECT_EQ(minio.host, "minio.velero.svc");
  EXPECT_EQ(locations.locations()[1].host, "s3.nl-ams.scw.cloud");
}

TEST(BackupLocations, TheCredentialSecretAndTheDefaultNamespace) {
  BackupLocations locations;
  json doc = location("http://10.0.0.5:9000");
  doc["metadata"].erase("namespace");
  doc["spec"]["credential"] = {{"name", "minio-keys"}, {"key", "cloud"}};
  EXPECT_TRUE(locations.add(doc));
  ASSERT_EQ(locations.locations().size(), 1u);
  EXPECT_EQ(locations.locations()[0].namespace_name, "velero");
  EXPECT_EQ(locations.locations()[0].secret, "minio-keys");
  EXPECT_EQ(locations.locations()[0].host, "10.0.0.5");
}

// Velero's Deployment as its examples write it: the credentials Secret at
// /credentials and AWS_SHARED_CREDENTIALS_FILE pointing into it, plus a
// sidecar that reads other keys.
json velero_pod(const std::string& secret = "cloud-credentials") {
  return json::parse(R"({"spec": {
    "initContainers": [{"name": "plugin", "image": "velero/velero-plugin-for-aws"}],
    "containers": [
      {"name": "velero",
       "env": [{"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/credentials/cloud"}],
       "volumeMounts": [{"name": "cloud-credentials", "mountPath": "/credentials"}]},
      {"name": "uploader",
       "env": [{"name": "AWS_ACCESS_KEY_ID",
                "valueFrom": {"secretKeyRef": {"name": "other", "key": "id"}}}]}],
    "volumes": [{"name": "cloud-credentials", "secret": {"secretName": ")" +
                     secret + R"("}}]}})");
}

Finding finding(FindingKind kind, const std::string& container, const std::string& name) {
  Finding f;
  f.kind = kind;
  f.container = container;
  f.name = name;
  return f;
}

std::vector<Finding> velero_findings() {
  return {finding(FindingKind::kEnv, "velero", "AWS_SHARED_CREDENTIALS_FILE"),
          finding(FindingKind::kVolumeMount, "velero", "cloud-credentials"),
          finding(FindingKind::kVolume, "", "cloud-credentials"),
          finding(FindingKind::kEnv, "uploader", "AWS_ACCESS_KEY_ID")};
}

BackupLocations minio_location() {
  BackupLocations locations;
  EXPECT_TRUE(locations.add(location("http://minio.velero.svc:9000")));
  return locations;
}

TEST(MarkBackupLocationKeys, SetsApartWhatComesFromTheLocationsSecret) {
  auto findings = velero_findings();
  EXPECT_EQ(mark_backup_location_keys(velero_pod(), "velero", minio_location(), findings), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(findings[i].handling, Handling::kNonAwsEndpointOutsidePod) << i;
    EXPECT_EQ(findings[i].endpoint, "BackupStorageLocation velero/default s3Url minio.velero.svc");
  }
  // The sidecar's keys come from another Secret: still AWS keys.
  EXPECT_EQ(findings[3].handling, Handling::kRemovable);
  EXPECT_EQ(findings[3].endpoint, "");
}

TEST(MarkBackupLocationKeys, OnlyTheSameNamespaceAndTheNamedSecret) {
  auto findings = velero_findings();
  EXPECT_EQ(mark_backup_location_keys(velero_pod(), "heptio-ark", minio_location(), findings), 0u);
  EXPECT_EQ(mark_backup_location_keys(velero_pod("aws-keys"), "velero", minio_location(), findings),
            0u);
  EXPECT_EQ(mark_backup_location_keys(velero_pod(), "velero", BackupLocations{}, findings), 0u);
  for (const auto& f : findings) EXPECT_EQ(f.handling, Handling::kRemovable);
}

TEST(MarkBackupLocationKeys, EnvFromAndProjectedSecretsAndKeptFindingsAlone) {
  json pod = json::parse(R"({"spec": {"containers": [
      {"name": "a", "envFrom": [{"secretRef": {"name": "cloud-credentials"}}]},
      {"name": "b", "volumeMounts": [{"name": "p", "mountPath": "/root/.aws"}]}],
    "volumes": [{"name": "p", "projected": {"sources": [
      {"secret": {"name": "cloud-credentials"}}]}}]}})");
  std::vector<Finding> findings = {finding(FindingKind::kEnvFrom, "a", "cloud-credentials"),
                                   finding(FindingKind::kVolumeMount, "b", "p"),
                                   finding(FindingKind::kEnv, "b", "AWS_ACCESS_KEY_ID")};
  // A finding the container's own endpoint already keeps stays as it is.
  findings[2].handling = Handling::kNonAwsEndpoint;
  findings[2].endpoint = "AWS_ENDPOINT_URL minio";
  EXPECT_EQ(mark_backup_location_keys(pod, "velero", minio_location(), findings), 2u);
  EXPECT_EQ(findings[0].handling, Handling::kNonAwsEndpointOutsidePod);
  EXPECT_EQ(findings[1].handling, Handling::kNonAwsEndpointOutsidePod);
  EXPECT_EQ(findings[2].handling, Handling::kNonAwsEndpoint);
  EXPECT_EQ(findings[2].endpoint, "AWS_ENDPOINT_URL minio");
}

TEST(MarkBackupLocationKeys, MalformedPodsAreNotACrash) {
  auto findings = velero_findings();
  for (const char* text : {R"({})", R"({"spec": []})", R"({"spec": {"volumes": 3}})",
                           R"({"spec": {"containers": [1, "x", {"name": 5}]}})",
                           R"({"spec": {"volumes": [{"secret": "x"}, 7]}})"}) {
    EXPECT_EQ(mark_backup_location_keys(json::parse(text), "velero", minio_location(), findings),
              0u)
        << text;
  }
}

}  // namespace
}  // namespace irsa::cli
