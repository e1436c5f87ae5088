// Static credential detection and index-safe removal, on Pod shapes seen in
// real charts and manifests.
#include "credentials/static_credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace irsa::credentials {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

struct Scan {
  std::vector<Finding> findings;
  json stripped;  // the Pod after plan_removal's patch
};

Scan scan(const json& pod, DetectOptions options = {}) {
  std::string text = pod.dump();
  simdjson::dom::parser parser;
  auto view = mutation::read_pod(parser.parse(text).value());
  EXPECT_TRUE(view.ok()) << (view.ok() ? "" : view.error());
  Scan out;
  out.findings = find_static_credentials(*view, options);
  out.stripped = pod.patch(plan_removal(out.findings).to_json());
  return out;
}

std::vector<std::string> keys(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.key());
  return out;
}

std::vector<std::string> env_names(const json& container) {
  std::vector<std::string> names;
  for (const auto& e : container.value("env", json::array())) names.push_back(e["name"]);
  return names;
}

std::vector<std::string> mount_paths(const json& container) {
  std::vector<std::string> paths;
  for (const auto& m : container.value("volumeMounts", json::array()))
    paths.push_back(m["mountPath"]);
  return paths;
}

std::vector<std::string> volume_names(const json& pod) {
  std::vector<std::string> names;
  for (const auto& v : pod["spec"].value("volumes", json::array())) names.push_back(v["name"]);
  return names;
}

TEST(FindStaticCredentials, AccessKeyEnvVarsLiteralOrFromSecret) {
  json pod = json::parse(R"({"spec":{"containers":[{"name":"app","env":[
    {"name":"AWS_ACCESS_KEY_ID","valueFrom":{"secretKeyRef":{"name":"aws","key":"id"}}},
    {"name":"KEEP","value":"1"},
    {"name":"AWS_SECRET_ACCESS_KEY","valueFrom":{"secretKeyRef":{"name":"aws","key":"secret"}}},
    {"name":"AWS_SESSION_TOKEN","value":"literal"},
    {"name":"AWS_ACCESS_KEY","value":"x"},
    {"name":"AWS_SECRET_KEY","valueFrom":{"configMapKeyRef":{"name":"c","key":"k"}}},
    {"name":"AWS_REGION","value":"us-east-1"}]}]}})");
  auto out = scan(pod);
  EXPECT_THAT(
      keys(out.findings),
      ElementsAre("app/env/AWS_ACCESS_KEY_ID", "app/env/AWS_SECRET_ACCESS_KEY",
                  "app/env/AWS_SESSION_TOKEN", "app/env/AWS_ACCESS_KEY", "app/env/AWS_SECRET_KEY"));
  EXPECT_THAT(env_names(out.stripped["spec"]["containers"][0]), ElementsAre("KEEP", "AWS_REGION"));
}

TEST(FindStaticCredentials, FindingsNeverCarryValues) {
  json pod = json::parse(R"({"spec":{"containers":[{"name":"app","env":[
    {"name":"AWS_SECRET_ACCESS_KEY","value":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}]}]}})");
  auto out = scan(pod);
  ASSERT_EQ(out.findings.size(), 1u);
  EXPECT_EQ(out.findings[0].describe().find("wJalr"), std::string::npos);
  EXPECT_EQ(out.findings[0].reason.find("wJalr"), std::string::npos);
}

TEST(FindStaticCredentials, DeploymentMountingCredentialsAndConfigSecretsWithSubPath) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","env":[{"name":"AWS_PROFILE","value":"prod"}],"volumeMounts":[
      {"name":"data","mountPath":"/data"},
      {"name":"aws-credentials","mountPath":"/root/.aws/credentials","subPath":"credentials"},
      {"name":"aws-config","mountPath":"/root/.aws/config","subPath":"config"}]}],
    "volumes":[{"name":"data","emptyDir":{}},
               {"name":"aws-credentials","secret":{"secretName":"aws-credentials"}},
               {"name":"aws-config","secret":{"secretName":"aws-config"}}]}})");
  auto out = scan(pod);
  // The config-only mount of another Secret stays, and with it the profile.
  EXPECT_THAT(keys(out.findings),
              UnorderedElementsAre("app/volumeMount/aws-credentials", "volume/aws-credentials"));
  EXPECT_THAT(mount_paths(out.stripped["spec"]["containers"][0]),
              ElementsAre("/data", "/root/.aws/config"));
  EXPECT_THAT(volume_names(out.stripped), ElementsAre("data", "aws-config"));
  EXPECT_THAT(env_names(out.stripped["spec"]["containers"][0]), ElementsAre("AWS_PROFILE"));
}

TEST(FindStaticCredentials, WholeAwsDirectoryTakesTheProfileWithIt) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","env":[{"name":"AWS_PROFILE","value":"prod"},{"name":"X","value":"y"}],
      "volumeMounts":[{"name":"aws","mountPath":"/home/app/.aws/"}]}],
    "volumes":[{"name":"aws","secret":{"secretName":"aws"}}]}})");
  auto out = scan(pod);
  EXPECT_THAT(keys(out.findings),
              UnorderedElementsAre("app/volumeMount/aws", "app/env/AWS_PROFILE", "volume/aws"));
  EXPECT_THAT(env_names(out.stripped["spec"]["containers"][0]), ElementsAre("X"));
  EXPECT_THAT(volume_names(out.stripped), IsEmpty());
}

// Found by fuzz/admission_review_fuzzer (regressions/admission_review-unnamed-volumes.json):
// a mount without a name at ~/.aws matched the first unnamed Secret volume,
// and then every unnamed volume, an emptyDir among them, was removed.
TEST(FindStaticCredentials, UnnamedMountsAndVolumesReferToNothing) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","volumeMounts":[{"mountPath":"/root/.aws"},
                                               {"name":"data","mountPath":"/data"}]}],
    "volumes":[{"projected":{"sources":[{"secret":{"name":"creds"}}]}},
               {"emptyDir":{}}, {"name":"data","emptyDir":{}}]}})");
  auto out = scan(pod);
  EXPECT_THAT(out.findings, IsEmpty());
  EXPECT_EQ(out.stripped["spec"]["volumes"].size(), 3u);
}

TEST(FindStaticCredentials, ConfigMountOfTheSameSecretGoesToo) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","volumeMounts":[
      {"name":"aws","mountPath":"/root/.aws/credentials","subPath":"credentials"},
      {"name":"aws","mountPath":"/root/.aws/config","subPath":"config"}]}],
    "volumes":[{"name":"aws","secret":{"secretName":"aws"}}]}})");
  auto out = scan(pod);
  EXPECT_EQ(out.findings.size(), 3u);
  EXPECT_THAT(mount_paths(out.stripped["spec"]["containers"][0]), IsEmpty());
  EXPECT_THAT(volume_names(out.stripped), IsEmpty());
}

TEST(FindStaticCredentials, SharedCredentialsFileAnywhere) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"velero","env":[
        {"name":"AWS_SHARED_CREDENTIALS_FILE","value":"/credentials/cloud"}],
      "volumeMounts":[{"name":"plugins","mountPath":"/plugins"},
                      {"name":"cloud-credentials","mountPath":"/credentials"}]}],
    "volumes":[{"name":"plugins","emptyDir":{}},
               {"name":"cloud-credentials","secret":{"secretName":"velero"}}]}})");
  auto out = scan(pod);
  EXPECT_THAT(keys(out.findings), UnorderedElementsAre("velero/env/AWS_SHARED_CREDENTIALS_FILE",
                                                       "velero/volumeMount/cloud-credentials",
                                                       "volume/cloud-credentials"));
  EXPECT_THAT(mount_paths(out.stripped["spec"]["containers"][0]), ElementsAre("/plugins"));
}

TEST(FindStaticCredentials, ProjectedVolumeWithSecretSource) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","volumeMounts":[{"name":"p","mountPath":"/root/.aws"}]}],
    "volumes":[{"name":"p","projected":{"sources":[{"secret":{"name":"aws"}}]}}]}})");
  EXPECT_EQ(scan(pod).findings.size(), 2u);
}

TEST(FindStaticCredentials, TokenAndConfigAreNoFindingsOtherVolumesAtAwsReportedOnly) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","env":[
        {"name":"AWS_CONFIG_FILE","value":"/etc/aws/config"},
        {"name":"AWS_REGION","value":"eu-west-1"},
        {"name":"AWS_ROLE_ARN","value":"arn:aws:iam::1:role/x"},
        {"name":"AWS_PROFILE","value":"p"}],
      "volumeMounts":[
        {"name":"aws-iam-token","mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"},
        {"name":"csi","mountPath":"/root/.aws"},
        {"name":"cm","mountPath":"/home/app/.aws/credentials"},
        {"name":"cfg","mountPath":"/root/.aws/config","subPath":"config"}]}],
    "volumes":[
      {"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}},
      {"name":"csi","csi":{"driver":"secrets-store.csi.k8s.io"}},
      {"name":"cm","configMap":{"name":"x"}},
      {"name":"cfg","secret":{"secretName":"config-only"}}]}})");
  // A CSI volume or ConfigMap at .aws is reported (issue #19: any volume at
  // .aws counts) but never removed; the token and a config-only mount are
  // not findings at all.
  auto out = scan(pod);
  EXPECT_THAT(keys(out.findings), ElementsAre("app/volumeMount/csi", "app/volumeMount/cm"));
  for (const auto& finding : out.findings) EXPECT_EQ(finding.handling, Handling::kReportOnly);
  EXPECT_EQ(out.stripped, pod);
}

TEST(FindStaticCredentials, EnvFromSecretsMatchingConfiguredNames) {
  json pod = json::parse(R"({"spec":{"containers":[{"name":"job","envFrom":[
    {"configMapRef":{"name":"settings"}},
    {"secretRef":{"name":"aws-keys-prod"}},
    {"secretRef":{"name":"db"}},
    {"secretRef":{"name":"legacy-aws"}}]}]}})");
  EXPECT_THAT(scan(pod).findings, IsEmpty());  // nothing configured: Secrets are opaque
  DetectOptions options{{"aws-keys-*", "legacy-aws"}};
  auto out = scan(pod, options);
  EXPECT_THAT(keys(out.findings),
              ElementsAre("job/envFrom/aws-keys-prod", "job/envFrom/legacy-aws"));
  ASSERT_EQ(out.stripped["spec"]["containers"][0]["envFrom"].size(), 2u);
  EXPECT_EQ(out.stripped["spec"]["containers"][0]["envFrom"][1]["secretRef"]["name"], "db");
}

TEST(FindStaticCredentials, VolumeKeptWhileAnotherContainerStillMountsIt) {
  json pod = json::parse(R"({"spec":{
    "initContainers":[{"name":"init","volumeMounts":[{"name":"s","mountPath":"/etc/app"}]}],
    "containers":[{"name":"app","volumeMounts":[{"name":"s","mountPath":"/root/.aws/credentials",
                                                 "subPath":"credentials"}]}],
    "volumes":[{"name":"s","secret":{"secretName":"mixed"}}]}})");
  auto out = scan(pod);
  EXPECT_THAT(keys(out.findings), ElementsAre("app/volumeMount/s"));
  EXPECT_THAT(volume_names(out.stripped), ElementsAre("s"));
}

TEST(FindStaticCredentials, OnlyTheSecretVolumeOfADuplicatedNameGoes) {
  // Found by the admission fuzzer: two volumes named "creds", a projected
  // Secret and an emptyDir; the emptyDir was removed with the Secret.
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","volumeMounts":[{"name":"creds","mountPath":"/root/.aws"}]}],
    "volumes":[{"name":"creds","projected":{"sources":[{"secret":{"name":"creds"}}]}},
               {"name":"creds","emptyDir":{}}]}})");
  auto out = scan(pod);
  EXPECT_THAT(keys(out.findings), ElementsAre("app/volumeMount/creds", "volume/creds"));
  ASSERT_EQ(out.stripped["spec"]["volumes"].size(), 1u);
  EXPECT_TRUE(out.stripped["spec"]["volumes"][0].contains("emptyDir"));
}

TEST(FindStaticCredentials, SidecarsAndInitContainersToo) {
  json pod = json::parse(R"({"spec":{
    "initContainers":[{"name":"sidecar","restartPolicy":"Always",
                       "env":[{"name":"AWS_ACCESS_KEY_ID","value":"a"}]}],
    "containers":[{"name":"app","env":[{"name":"AWS_SECRET_ACCESS_KEY","value":"b"}]}]}})");
  auto out = scan(pod);
  ASSERT_EQ(out.findings.size(), 2u);
  EXPECT_TRUE(out.findings[0].init_container);
  EXPECT_FALSE(out.stripped["spec"]["initContainers"][0]["env"].size());
}

TEST(PlanRemoval, ManyRemovalsKeepEveryIndexValid) {
  // Interleaved keepers and credentials in several arrays and containers.
  json pod = json::parse(R"({"spec":{
    "containers":[
      {"name":"a","env":[{"name":"AWS_ACCESS_KEY_ID","value":"1"},{"name":"K1","value":"1"},
                         {"name":"AWS_SECRET_ACCESS_KEY","value":"1"},{"name":"K2","value":"1"},
                         {"name":"AWS_SESSION_TOKEN","value":"1"}],
       "volumeMounts":[{"name":"v1","mountPath":"/root/.aws"},{"name":"keep","mountPath":"/k"},
                       {"name":"v2","mountPath":"/home/x/.aws/credentials"}]},
      {"name":"b","env":[{"name":"K3","value":"1"},{"name":"AWS_SECRET_KEY","value":"1"}],
       "volumeMounts":[{"name":"v1","mountPath":"/root/.aws"}]}],
    "volumes":[{"name":"v1","secret":{"secretName":"s1"}},{"name":"keep","emptyDir":{}},
               {"name":"v2","secret":{"secretName":"s2"}}]}})");
  auto out = scan(pod);
  const json& a = out.stripped["spec"]["containers"][0];
  const json& b = out.stripped["spec"]["containers"][1];
  EXPECT_THAT(env_names(a), ElementsAre("K1", "K2"));
  EXPECT_THAT(env_names(b), ElementsAre("K3"));
  EXPECT_THAT(mount_paths(a), ElementsAre("/k"));
  EXPECT_THAT(mount_paths(b), IsEmpty());
  EXPECT_THAT(volume_names(out.stripped), ElementsAre("keep"));
  // Within one array, the patch removes from the highest index down.
  json patch = plan_removal(out.findings).to_json();
  std::map<std::string, int> last;
  for (const auto& op : patch) {
    std::string path = op["path"];
    auto slash = path.rfind('/');
    int index = std::stoi(path.substr(slash + 1));
    std::string array = path.substr(0, slash);
    if (last.count(array)) {
      EXPECT_LT(index, last[array]) << path;
    }
    last[array] = index;
  }
  // And a second scan of the stripped Pod finds nothing.
  EXPECT_THAT(scan(out.stripped).findings, IsEmpty());
}

std::vector<Handling> handlings(const std::vector<Finding>& findings) {
  std::vector<Handling> out;
  for (const auto& f : findings) out.push_back(f.handling);
  return out;
}

TEST(FindStaticCredentials, KeysForANonAwsEndpointAreKeptNotRemoved) {
  json pod = json::parse(R"({"spec":{"containers":[
    {"name":"minio-client","env":[
      {"name":"AWS_ACCESS_KEY_ID","value":"minio"},
      {"name":"AWS_SECRET_ACCESS_KEY","valueFrom":{"secretKeyRef":{"name":"m","key":"s"}}},
      {"name":"AWS_ENDPOINT_URL","value":"http://minio.storage:9000"}]},
    {"name":"aws-client","env":[{"name":"AWS_ACCESS_KEY_ID","value":"AKIA"}]}]}})");
  auto out = scan(pod);
  ASSERT_EQ(out.findings.size(), 3u);
  EXPECT_THAT(
      handlings(out.findings),
      ElementsAre(Handling::kNonAwsEndpoint, Handling::kNonAwsEndpoint, Handling::kRemovable));
  EXPECT_EQ(out.findings[0].endpoint, "AWS_ENDPOINT_URL minio.storage");
  // Only the AWS container loses its key; the endpoint's container keeps all.
  EXPECT_THAT(env_names(out.stripped["spec"]["containers"][0]),
              ElementsAre("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"));
  EXPECT_THAT(env_names(out.stripped["spec"]["containers"][1]), IsEmpty());
}

TEST(FindStaticCredentials, AwsEndpointsAndEmptyOnesLeaveKeysRemovable) {
  for (const char* endpoint : {"https://s3.eu-west-1.amazonaws.com", "", "https://sts.api.aws."}) {
    json pod = {{"spec",
                 {{"containers",
                   {{{"name", "app"},
                     {"env",
                      {{{"name", "AWS_ACCESS_KEY_ID"}, {"value", "AKIA"}},
                       {{"name", "AWS_ENDPOINT_URL_S3"}, {"value", endpoint}}}}}}}}}};
    auto out = scan(pod);
    EXPECT_THAT(handlings(out.findings), ElementsAre(Handling::kRemovable)) << endpoint;
  }
}

TEST(FindStaticCredentials, EndpointFromAReferenceIsNotVerifiableAndKept) {
  json pod = json::parse(R"({"spec":{"containers":[{"name":"app","env":[
      {"name":"AWS_ACCESS_KEY_ID","value":"k"},
      {"name":"S3_ENDPOINT","valueFrom":{"configMapKeyRef":{"name":"c","key":"endpoint"}}}]}]}})");
  auto out = scan(pod);
  EXPECT_THAT(handlings(out.findings), ElementsAre(Handling::kEndpointNotVerifiable));
  EXPECT_EQ(out.findings[0].endpoint, "S3_ENDPOINT");
  EXPECT_THAT(env_names(out.stripped["spec"]["containers"][0]),
              ElementsAre("AWS_ACCESS_KEY_ID", "S3_ENDPOINT"));
}

TEST(FindStaticCredentials, NonAwsContainerKeepsItsSecretVolumeThatAnotherContainerShares) {
  // The credentials volume is mounted by an AWS container and a MinIO one:
  // the AWS container's mount goes, the volume stays for the MinIO one.
  json pod = json::parse(R"({"spec":{"containers":[
      {"name":"aws","volumeMounts":[{"name":"creds","mountPath":"/root/.aws"}]},
      {"name":"minio","env":[{"name":"AWS_ENDPOINT","value":"http://minio:9000"}],
       "volumeMounts":[{"name":"creds","mountPath":"/root/.aws"}]}],
    "volumes":[{"name":"creds","secret":{"secretName":"creds"}}]}})");
  auto out = scan(pod);
  EXPECT_THAT(keys(out.findings), ElementsAre("aws/volumeMount/creds", "minio/volumeMount/creds"));
  EXPECT_THAT(handlings(out.findings),
              ElementsAre(Handling::kRemovable, Handling::kNonAwsEndpoint));
  EXPECT_THAT(mount_paths(out.stripped["spec"]["containers"][0]), IsEmpty());
  EXPECT_THAT(mount_paths(out.stripped["spec"]["containers"][1]), ElementsAre("/root/.aws"));
  EXPECT_THAT(volume_names(out.stripped), ElementsAre("creds"));
}

TEST(FindStaticCredentials, HostPathAtAwsIsRemovedWithItsVolume) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","volumeMounts":[
      {"name":"node-aws","mountPath":"/root/.aws"},
      {"name":"node-creds","mountPath":"/home/app/.aws/credentials"},
      {"name":"kubelet","mountPath":"/var/lib/kubelet"}]}],
    "volumes":[{"name":"node-aws","hostPath":{"path":"/root/.aws","type":"Directory"}},
               {"name":"node-creds","hostPath":{"path":"/etc/aws/credentials"}},
               {"name":"kubelet","hostPath":{"path":"/var/lib/kubelet"}}]}})");
  auto out = scan(pod);
  EXPECT_THAT(keys(out.findings),
              UnorderedElementsAre("app/volumeMount/node-aws", "app/volumeMount/node-creds",
                                   "volume/node-aws", "volume/node-creds"));
  EXPECT_EQ(out.findings[0].reason, "node's files (hostPath) mounted as AWS credentials");
  EXPECT_THAT(mount_paths(out.stripped["spec"]["containers"][0]), ElementsAre("/var/lib/kubelet"));
  EXPECT_THAT(volume_names(out.stripped), ElementsAre("kubelet"));
}

TEST(FindStaticCredentials, HostPathHoldingTheSharedCredentialsFileIsRemoved) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","env":[
        {"name":"AWS_SHARED_CREDENTIALS_FILE","value":"/node/aws/credentials"}],
      "volumeMounts":[{"name":"node","mountPath":"/node/aws"}]}],
    "volumes":[{"name":"node","hostPath":{"path":"/etc/aws"}}]}})");
  auto out = scan(pod);
  EXPECT_THAT(keys(out.findings), UnorderedElementsAre("app/env/AWS_SHARED_CREDENTIALS_FILE",
                                                       "app/volumeMount/node", "volume/node"));
  EXPECT_THAT(volume_names(out.stripped), IsEmpty());
}

TEST(FindStaticCredentials, OtherVolumesAtAwsAreReportedNotRemoved) {
  json pod = json::parse(R"({"spec":{
    "containers":[{"name":"app","env":[{"name":"AWS_PROFILE","value":"p"}],"volumeMounts":[
      {"name":"scratch","mountPath":"/root/.aws"},
      {"name":"home","mountPath":"/home/app/.aws/credentials","subPath":"creds"},
      {"name":"cm","mountPath":"/srv/.aws"},
      {"name":"csi","mountPath":"/opt/.aws"},
      {"name":"token","mountPath":"/x/.aws"}]}],
    "volumes":[{"name":"scratch","emptyDir":{}},
               {"name":"home","persistentVolumeClaim":{"claimName":"home"}},
               {"name":"cm","configMap":{"name":"aws"}},
               {"name":"csi","csi":{"driver":"secrets-store.csi.k8s.io"}},
               {"name":"token","projected":{"sources":[{"serviceAccountToken":{"path":"t"}}]}}]}})");
  auto out = scan(pod);
  EXPECT_THAT(keys(out.findings), ElementsAre("app/volumeMount/scratch", "app/volumeMount/home",
                                              "app/volumeMount/cm", "app/volumeMount/csi"));
  EXPECT_THAT(handlings(out.findings), ElementsAre(Handling::kReportOnly, Handling::kReportOnly,
                                                   Handling::kReportOnly, Handling::kReportOnly));
  // Nothing removed, and the profile stays with the files it names.
  EXPECT_EQ(out.stripped, pod);
}

TEST(PlanRemoval, SkipsFindingsThatAreNotRemovable) {
  Finding kept;
  kept.kind = FindingKind::kEnv;
  kept.handling = Handling::kNonAwsEndpoint;
  Finding gone;
  gone.kind = FindingKind::kEnv;
  gone.index = 1;
  auto patch = plan_removal({kept, gone}).to_json();
  ASSERT_EQ(patch.size(), 1u);
  EXPECT_EQ(patch[0]["path"], "/spec/containers/0/env/1");
}

TEST(GlobMatch, StarAndQuestionMark) {
  EXPECT_TRUE(glob_match("aws-*", "aws-keys"));
  EXPECT_TRUE(glob_match("aws-*", "aws-"));
  EXPECT_TRUE(glob_match("*-creds", "team-a-creds"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_match("aws-*", "my-aws-keys"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_FALSE(glob_match("exact", "exactly"));
  EXPECT_FALSE(glob_match("", "x"));
}

TEST(Finding, DescribeStaysUnder120Characters) {
  Finding finding;
  finding.kind = FindingKind::kVolumeMount;
  finding.container = std::string(63, 'c');
  finding.name = std::string(63, 'v');
  finding.mount_path = "/root/.aws/" + std::string(200, 'p');
  finding.reason = "Secret mounted as AWS credentials";
  EXPECT_LT(finding.describe().size(), 120u);
}

}  // namespace
}  // namespace irsa::credentials
