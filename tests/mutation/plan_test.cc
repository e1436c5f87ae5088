// The mutation rules, each as a case: Pod in, patch applied, Pod checked.
#include "mutation/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace irsa::mutation {
namespace {

using identity::Identity;
using identity::Mode;
using nlohmann::json;

Identity web_identity() {
  Identity id;
  id.mode = Mode::kWebIdentity;
  id.role_arn = "arn:aws:iam::111122223333:role/app";
  id.audience = "sts.amazonaws.com";
  id.token_expiration = 86400;
  return id;
}

Identity container_credentials() {
  Identity id;
  id.mode = Mode::kContainerCredentials;
  id.audience = "pods.eks.amazonaws.com";
  id.token_expiration = 86400;
  return id;
}

struct Outcome {
  json patch;
  json pod;
  Plan plan;
};

// Plans on `pod` through the same simdjson path as the server, then applies
// the patch with nlohmann's RFC 6902 implementation.
Outcome run(const json& pod, const Identity& id, const Options& options = {}, double jitter = 0) {
  std::string text = pod.dump();
  simdjson::dom::parser parser;
  simdjson::dom::element element = parser.parse(text).value();
  auto view = read_pod(element);
  EXPECT_TRUE(view.ok()) << (view.ok() ? "" : view.error());
  Outcome outcome;
  outcome.plan = plan_mutation(*view, id, options, jitter);
  outcome.patch = outcome.plan.patch.to_json();
  outcome.pod = pod.patch(outcome.patch);
  return outcome;
}

json basic_pod() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "app", "namespace": "shop"},
    "spec": {
      "serviceAccountName": "app",
      "initContainers": [{"name": "init", "image": "busybox"}],
      "containers": [{"name": "main", "image": "app:1"}, {"name": "sidecar", "image": "envoy"}]
    }
  })");
}

std::optional<json> env_of(const json& container, const std::string& name) {
  if (!container.contains("env")) return std::nullopt;
  for (const auto& entry : container["env"]) {
    if (entry["name"] == name) return entry;
  }
  return std::nullopt;
}

int count_env(const json& container, const std::string& name) {
  int count = 0;
  if (container.contains("env")) {
    for (const auto& entry : container["env"]) count += entry["name"] == name;
  }
  return count;
}

std::string env_value(const json& container, const std::string& name) {
  auto entry = env_of(container, name);
  return entry ? entry->value("value", "") : "<absent>";
}

int count_mounts(const json& container, const std::string& name) {
  int count = 0;
  if (container.contains("volumeMounts")) {
    for (const auto& mount : container["volumeMounts"]) count += mount["name"] == name;
  }
  return count;
}

const json* volume_named(const json& pod, const std::string& name) {
  if (!pod["spec"].contains("volumes")) return nullptr;
  for (const auto& volume : pod["spec"]["volumes"]) {
    if (volume["name"] == name) return &volume;
  }
  return nullptr;
}

TEST(PlanMutation, InjectsTokenVolumeMountAndEnvIntoEveryContainer) {
  auto out = run(basic_pod(), web_identity());
  const json* volume = volume_named(out.pod, "aws-iam-token");
  ASSERT_NE(volume, nullptr);
  EXPECT_EQ(
      (*volume)["projected"]["sources"][0]["serviceAccountToken"],
      json::parse(R"({"audience":"sts.amazonaws.com","expirationSeconds":86400,"path":"token"})"));
  for (const char* list : {"containers", "initContainers"}) {
    for (const auto& container : out.pod["spec"][list]) {
      SCOPED_TRACE(container["name"].get<std::string>());
      EXPECT_EQ(env_value(container, "AWS_ROLE_ARN"), "arn:aws:iam::111122223333:role/app");
      EXPECT_EQ(env_value(container, "AWS_WEB_IDENTITY_TOKEN_FILE"),
                "/var/run/secrets/eks.amazonaws.com/serviceaccount/token");
      ASSERT_EQ(count_mounts(container, "aws-iam-token"), 1);
      EXPECT_EQ(container["volumeMounts"][0],
                json::parse(R"({"name":"aws-iam-token","readOnly":true,
                  "mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"})"));
      EXPECT_FALSE(env_of(container, "AWS_REGION"));
      EXPECT_FALSE(env_of(container, "AWS_STS_REGIONAL_ENDPOINTS"));
    }
  }
  EXPECT_EQ(out.plan.token_expiration, 86400);
}

TEST(PlanMutation, PatchesAreSurgical) {
  auto out = run(basic_pod(), web_identity());
  std::regex allowed(
      R"(^/spec/volumes(/-)?$|^/spec/(initC|c)ontainers/[0-9]+/(env|volumeMounts)(/-)?$)");
  for (const auto& op : out.patch) {
    EXPECT_EQ(op["op"], "add");
    EXPECT_TRUE(std::regex_match(op["path"].get<std::string>(), allowed)) << op.dump();
  }
}

TEST(PlanMutation, SecondRunOnMutatedPodYieldsNoPatch) {
  Options options;
  options.region = "eu-west-1";
  Identity id = web_identity();
  id.regional_sts = true;
  id.role_session_name = true;
  auto first = run(basic_pod(), id, options);
  ASSERT_FALSE(first.patch.empty());
  auto second = run(first.pod, id, options);
  EXPECT_EQ(second.patch, json::array());
}

TEST(PlanMutation, ContainerCredentialsSecondRunYieldsNoPatch) {
  auto first = run(basic_pod(), container_credentials(), {}, 0.3);
  auto second = run(first.pod, container_credentials(), {}, 0.9);
  EXPECT_EQ(second.patch, json::array());
}

TEST(PlanMutation, UnknownFieldsSurvive) {
  json pod = basic_pod();
  pod["spec"]["containers"][0]["futureField"] = {{"nested", {1, 2, 3}}};
  pod["spec"]["containers"][0]["env"] = json::parse(R"([{"name":"X","value":"1","extra":true}])");
  pod["metadata"]["x-unknown"] = "kept";
  pod["status"] = {{"phase", "Pending"}};
  auto out = run(pod, web_identity());
  EXPECT_EQ(out.pod["spec"]["containers"][0]["futureField"],
            pod["spec"]["containers"][0]["futureField"]);
  EXPECT_EQ(out.pod["spec"]["containers"][0]["env"][0], pod["spec"]["containers"][0]["env"][0]);
  EXPECT_EQ(out.pod["metadata"]["x-unknown"], "kept");
  EXPECT_EQ(out.pod["status"], pod["status"]);
}

TEST(PlanMutation, KeepsRoleArnTheUserSet) {
  json pod = basic_pod();
  pod["spec"]["containers"][0]["env"] =
      json::parse(R"([{"name":"AWS_ROLE_ARN","value":"arn:aws:iam::1:role/mine"}])");
  auto out = run(pod, web_identity());
  const json& main = out.pod["spec"]["containers"][0];
  EXPECT_EQ(count_env(main, "AWS_ROLE_ARN"), 1);
  EXPECT_EQ(env_value(main, "AWS_ROLE_ARN"), "arn:aws:iam::1:role/mine");
  // Any web-identity key counts as present, as in AWS's webhook.
  EXPECT_FALSE(env_of(main, "AWS_WEB_IDENTITY_TOKEN_FILE"));
  EXPECT_EQ(count_mounts(main, "aws-iam-token"), 1);
  // Other containers are unaffected by one container's env.
  EXPECT_EQ(env_value(out.pod["spec"]["containers"][1], "AWS_ROLE_ARN"),
            "arn:aws:iam::111122223333:role/app");
}

TEST(PlanMutation, LeavesContainerAloneWhenIdentityRegionAndStsAreSet) {
  json pod = basic_pod();
  pod["spec"]["containers"][0]["env"] = json::parse(R"([
    {"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/mine"},
    {"name":"AWS_DEFAULT_REGION","value":"us-east-2"},
    {"name":"AWS_STS_REGIONAL_ENDPOINTS","value":"legacy"}])");
  Options options;
  options.region = "eu-west-1";
  auto out = run(pod, web_identity(), options);
  EXPECT_EQ(out.pod["spec"]["containers"][0], pod["spec"]["containers"][0]);
  EXPECT_NE(volume_named(out.pod, "aws-iam-token"), nullptr);
}

TEST(PlanMutation, RegionFlagAddsBothRegionVariables) {
  Options options;
  options.region = "eu-west-1";
  auto out = run(basic_pod(), web_identity(), options);
  const json& main = out.pod["spec"]["containers"][0];
  EXPECT_EQ(env_value(main, "AWS_REGION"), "eu-west-1");
  EXPECT_EQ(env_value(main, "AWS_DEFAULT_REGION"), "eu-west-1");
}

TEST(PlanMutation, EitherRegionVariableSetMeansNeitherIsAdded) {
  json pod = basic_pod();
  pod["spec"]["containers"][0]["env"] =
      json::parse(R"([{"name":"AWS_DEFAULT_REGION","value":"us-east-2"}])");
  Options options;
  options.region = "eu-west-1";
  auto out = run(pod, web_identity(), options);
  const json& main = out.pod["spec"]["containers"][0];
  EXPECT_FALSE(env_of(main, "AWS_REGION"));
  EXPECT_EQ(env_value(main, "AWS_DEFAULT_REGION"), "us-east-2");
  EXPECT_EQ(env_value(out.pod["spec"]["containers"][1], "AWS_REGION"), "eu-west-1");
}

TEST(PlanMutation, RegionalStsAddsEnvUnlessSet) {
  Identity id = web_identity();
  id.regional_sts = true;
  json pod = basic_pod();
  pod["spec"]["containers"][1]["env"] =
      json::parse(R"([{"name":"AWS_STS_REGIONAL_ENDPOINTS","value":"legacy"}])");
  auto out = run(pod, id);
  EXPECT_EQ(env_value(out.pod["spec"]["containers"][0], "AWS_STS_REGIONAL_ENDPOINTS"), "regional");
  EXPECT_EQ(env_value(out.pod["spec"]["containers"][1], "AWS_STS_REGIONAL_ENDPOINTS"), "legacy");
  EXPECT_EQ(count_env(out.pod["spec"]["containers"][1], "AWS_STS_REGIONAL_ENDPOINTS"), 1);
}

TEST(PlanMutation, EnvPresentInSomeContainersOnly) {
  json pod = basic_pod();
  pod["spec"]["containers"][0]["env"] = json::parse(R"([{"name":"A","value":"1"}])");
  auto out = run(pod, web_identity());
  // Existing env keeps its order; the new entries are appended.
  EXPECT_EQ(out.pod["spec"]["containers"][0]["env"][0]["name"], "A");
  EXPECT_EQ(out.pod["spec"]["containers"][0]["env"].size(), 3u);
  EXPECT_EQ(out.pod["spec"]["containers"][1]["env"].size(), 2u);
}

TEST(PlanMutation, MissingEmptyAndNullArrays) {
  json pod = basic_pod();
  pod["spec"]["containers"][0]["env"] = json::array();
  pod["spec"]["containers"][0]["volumeMounts"] = json::array();
  pod["spec"]["containers"][1]["env"] = nullptr;
  pod["spec"]["volumes"] = json::array();
  auto out = run(pod, web_identity());
  bool appended_env = false, whole_env = false, appended_volume = false;
  for (const auto& op : out.patch) {
    appended_env |= op["path"] == "/spec/containers/0/env/-";
    whole_env |= op["path"] == "/spec/containers/1/env";
    appended_volume |= op["path"] == "/spec/volumes/-";
  }
  EXPECT_TRUE(appended_env);
  EXPECT_TRUE(whole_env);
  EXPECT_TRUE(appended_volume);
  EXPECT_EQ(out.pod["spec"]["containers"][1]["env"].size(), 2u);
  EXPECT_EQ(out.pod["spec"]["volumes"].size(), 1u);
}

TEST(PlanMutation, ExistingTokenVolumeAndMountAreKept) {
  json pod = basic_pod();
  pod["spec"]["volumes"] = json::parse(R"([{"name":"aws-iam-token","hostPath":{"path":"/x"}}])");
  pod["spec"]["containers"][0]["volumeMounts"] =
      json::parse(R"([{"name":"aws-iam-token","mountPath":"/custom"}])");
  auto out = run(pod, web_identity());
  EXPECT_EQ(out.pod["spec"]["volumes"], pod["spec"]["volumes"]);
  EXPECT_EQ(out.pod["spec"]["containers"][0]["volumeMounts"],
            pod["spec"]["containers"][0]["volumeMounts"]);
  EXPECT_EQ(count_mounts(out.pod["spec"]["containers"][1], "aws-iam-token"), 1);
  EXPECT_EQ(out.plan.token_expiration, 0);
}

TEST(PlanMutation, PodAnnotationTokenExpirationWins) {
  json pod = basic_pod();
  pod["metadata"]["annotations"] = {{"eks.amazonaws.com/token-expiration", "3600"}};
  Identity id = web_identity();
  id.token_expiration = 7200;
  auto out = run(pod, id);
  EXPECT_EQ(volume_named(out.pod, "aws-iam-token")
                ->at("projected")["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3600);
}

TEST(PlanMutation, PodAnnotationTokenExpirationIsClampedOrIgnored) {
  struct Case {
    const char* annotation;
    int64_t expected;
    bool noted;
  };
  for (const Case& c : {Case{"0", 600, false}, Case{"599", 600, false}, Case{"abc", 7200, true},
                        Case{" 3600", 7200, true}, Case{"99999999999", 7200, true}}) {
    SCOPED_TRACE(c.annotation);
    json pod = basic_pod();
    pod["metadata"]["annotations"] = {{"eks.amazonaws.com/token-expiration", c.annotation}};
    Identity id = web_identity();
    id.token_expiration = 7200;
    auto out = run(pod, id);
    EXPECT_EQ(out.plan.token_expiration, c.expected);
    EXPECT_EQ(!out.plan.warnings.empty(), c.noted);
  }
}

TEST(PlanMutation, AnnotationPrefixIsHonoured) {
  json pod = basic_pod();
  pod["metadata"]["annotations"] = {{"example.com/skip-containers", "sidecar"},
                                    {"eks.amazonaws.com/skip-containers", "main"}};
  Options options;
  options.annotation_prefix = "example.com";
  auto out = run(pod, web_identity(), options);
  EXPECT_TRUE(env_of(out.pod["spec"]["containers"][0], "AWS_ROLE_ARN"));
  EXPECT_FALSE(env_of(out.pod["spec"]["containers"][1], "AWS_ROLE_ARN"));
}

TEST(PlanMutation, SkipContainersTrimsSpaces) {
  json pod = basic_pod();
  pod["metadata"]["annotations"] = {{"eks.amazonaws.com/skip-containers", " init ,  sidecar"}};
  auto out = run(pod, web_identity());
  EXPECT_EQ(out.pod["spec"]["initContainers"][0], pod["spec"]["initContainers"][0]);
  EXPECT_EQ(out.pod["spec"]["containers"][1], pod["spec"]["containers"][1]);
  EXPECT_TRUE(env_of(out.pod["spec"]["containers"][0], "AWS_ROLE_ARN"));
}

TEST(PlanMutation, NativeSidecarInitContainerIsMutated) {
  json pod = basic_pod();
  pod["spec"]["initContainers"][0]["restartPolicy"] = "Always";
  auto out = run(pod, web_identity());
  EXPECT_TRUE(env_of(out.pod["spec"]["initContainers"][0], "AWS_ROLE_ARN"));
  EXPECT_EQ(out.pod["spec"]["initContainers"][0]["restartPolicy"], "Always");
}

TEST(PlanMutation, WindowsPodsGetWindowsTokenPath) {
  for (const char* key : {"kubernetes.io/os", "beta.kubernetes.io/os"}) {
    json pod = basic_pod();
    pod["spec"]["nodeSelector"] = {{key, "windows"}};
    auto out = run(pod, web_identity());
    const json& main = out.pod["spec"]["containers"][0];
    EXPECT_EQ(env_value(main, "AWS_WEB_IDENTITY_TOKEN_FILE"),
              R"(C:\var\run\secrets\eks.amazonaws.com\serviceaccount\token)");
    EXPECT_EQ(main["volumeMounts"][0]["mountPath"],
              "/var/run/secrets/eks.amazonaws.com/serviceaccount");
  }
}

TEST(PlanMutation, TokenMountPathIsCleanedLikeGoFilepathJoin) {
  Options options;
  options.token_mount_path = "/var/run//aws/./sa/";
  auto out = run(basic_pod(), web_identity(), options);
  EXPECT_EQ(env_value(out.pod["spec"]["containers"][0], "AWS_WEB_IDENTITY_TOKEN_FILE"),
            "/var/run/aws/sa/token");
}

TEST(PlanMutation, AudienceComesFromIdentity) {
  Identity id = web_identity();
  id.audience = "custom-aud";
  auto out = run(basic_pod(), id);
  EXPECT_EQ(volume_named(out.pod, "aws-iam-token")
                ->at("projected")["sources"][0]["serviceAccountToken"]["audience"],
            "custom-aud");
}

TEST(PlanMutation, RoleSessionNameFromDownwardApi) {
  Identity id = web_identity();
  id.role_session_name = true;
  auto out = run(basic_pod(), id);
  auto entry = env_of(out.pod["spec"]["containers"][0], "AWS_ROLE_SESSION_NAME");
  ASSERT_TRUE(entry);
  EXPECT_EQ((*entry)["valueFrom"], json::parse(R"({"fieldRef":{"fieldPath":"metadata.name"}})"));
  // Without the option there is none.
  auto plain = run(basic_pod(), web_identity());
  EXPECT_FALSE(env_of(plain.pod["spec"]["containers"][0], "AWS_ROLE_SESSION_NAME"));
}

json pod_named(const std::string& name) {
  json pod = basic_pod();
  pod["metadata"]["name"] = name;
  return pod;
}

Identity with_session_name() {
  Identity id = web_identity();
  id.role_session_name = true;
  return id;
}

// STS's RoleSessionName constraint, as its API reference states it.
bool sts_takes(const std::string& session_name) {
  return std::regex_match(session_name, std::regex(R"([\w+=,.@-]{2,64})"));
}

TEST(PlanMutation, RoleSessionNameIsTheLiteralShortFormWhenThePodNameIsTooLongForSts) {
  // 65 characters: the CLI sent it whole and STS answered ValidationError.
  const std::string name = "statefulset-of-a-very-long-name-for-the-orders-database-replica-0";
  ASSERT_EQ(name.size(), 65u);
  auto out = run(pod_named(name), with_session_name());
  for (const auto& container : out.pod["spec"]["containers"]) {
    auto entry = env_of(container, "AWS_ROLE_SESSION_NAME");
    ASSERT_TRUE(entry);
    EXPECT_FALSE(entry->contains("valueFrom"));
    // The first 55 characters, '-', the FNV-1a hash's high 32 bits (computed
    // independently in Python): pinned, so CloudTrail names stay stable
    // across releases.
    EXPECT_EQ(entry->value("value", ""),
              "statefulset-of-a-very-long-name-for-the-orders-database-a90a6314");
    EXPECT_TRUE(sts_takes(entry->value("value", "")));
  }
  ASSERT_EQ(out.plan.warnings.size(), 1u);
  EXPECT_LT(out.plan.warnings[0].size(), 120u);
  EXPECT_THAT(out.plan.warnings[0], testing::HasSubstr("65 characters"));
  ASSERT_EQ(out.plan.notes.size(), 1u);
  EXPECT_THAT(out.plan.notes[0], testing::HasSubstr("a90a6314"));
  // Idempotent: the second run finds the variable and adds nothing.
  auto again = run(out.pod, with_session_name());
  EXPECT_TRUE(again.patch.empty());
  EXPECT_TRUE(again.plan.warnings.empty());
}

TEST(PlanMutation, EveryPodNameGivesASessionNameStsTakes) {
  for (std::size_t length : {1u, 2u, 63u, 64u, 65u, 100u, 253u}) {
    std::string name(length, 'a');
    if (length > 2) name[length / 2] = '.';
    if (length > 4) name[length / 3] = '-';
    auto out = run(pod_named(name), with_session_name());
    auto entry = env_of(out.pod["spec"]["containers"][0], "AWS_ROLE_SESSION_NAME");
    ASSERT_TRUE(entry) << length;
    bool fits = length >= 2 && length <= 64;
    // What fits stays the downward API (as before, and what the Pod's name
    // becomes is what CloudTrail shows); only what STS would refuse changes.
    EXPECT_EQ(entry->contains("valueFrom"), fits) << length;
    EXPECT_EQ(out.plan.warnings.size(), fits ? 0u : 1u) << length;
    for (const auto& warning : out.plan.warnings) EXPECT_LT(warning.size(), 120u) << warning;
    if (!fits) {
      EXPECT_TRUE(sts_takes(entry->value("value", ""))) << entry->dump();
    }
  }
  // generateName: the name is made after admission and always fits.
  json generated = basic_pod();
  generated["metadata"].erase("name");
  generated["metadata"]["generateName"] = std::string(200, 'g');
  auto out = run(generated, with_session_name());
  EXPECT_TRUE(
      env_of(out.pod["spec"]["containers"][0], "AWS_ROLE_SESSION_NAME")->contains("valueFrom"));
  EXPECT_TRUE(out.plan.warnings.empty());
}

TEST(PlanMutation, ShortSessionNamesOfDistinctPodsStayDistinctAndStable) {
  // StatefulSet Pods of a long name differ only in their last characters:
  // a cut at 64 would give every replica the same session name.
  const std::string base(70, 'x');
  std::set<std::string> seen;
  for (int ordinal = 0; ordinal < 200; ++ordinal) {
    std::string value = session_name_for(base + "-" + std::to_string(ordinal));
    EXPECT_EQ(value.size(), 64u);
    EXPECT_TRUE(seen.insert(value).second) << value;
    EXPECT_EQ(value, session_name_for(base + "-" + std::to_string(ordinal)));
  }
  EXPECT_EQ(session_name_for("a"), session_name_for("a"));
  EXPECT_TRUE(sts_takes(session_name_for("a")));
}

TEST(PlanMutation, ContainersWithTheirOwnSessionNameGetNoWarning) {
  json pod = pod_named(std::string(80, 'p'));
  for (auto* list : {&pod["spec"]["containers"], &pod["spec"]["initContainers"]}) {
    for (auto& container : *list) {
      container["env"] = json::array({{{"name", "AWS_ROLE_SESSION_NAME"}, {"value", "mine"}}});
    }
  }
  auto out = run(pod, with_session_name());
  EXPECT_EQ(env_value(out.pod["spec"]["containers"][0], "AWS_ROLE_SESSION_NAME"), "mine");
  EXPECT_TRUE(out.plan.warnings.empty());
  EXPECT_TRUE(out.plan.notes.empty());
}

TEST(PlanMutation, RegionalStsWithoutARegionIsWarned) {
  Identity regional = web_identity();
  regional.regional_sts = true;
  auto out = run(basic_pod(), regional);
  ASSERT_EQ(out.plan.warnings.size(), 1u);
  EXPECT_LT(out.plan.warnings[0].size(), 120u);
  EXPECT_THAT(out.plan.warnings[0], testing::HasSubstr("global STS"));
  // A region from the flag, or in every container, makes it regional.
  Options with_region;
  with_region.region = "eu-west-1";
  EXPECT_TRUE(run(basic_pod(), regional, with_region).plan.warnings.empty());
  json own_region = basic_pod();
  for (auto* list : {&own_region["spec"]["containers"], &own_region["spec"]["initContainers"]}) {
    for (auto& container : *list) {
      container["env"] = json::array({{{"name", "AWS_REGION"}, {"value", "eu-west-1"}}});
    }
  }
  EXPECT_TRUE(run(own_region, regional).plan.warnings.empty());
  // Without regional STS asked for, or in Pod Identity mode (no STS call by
  // the SDK), nothing to say.
  EXPECT_TRUE(run(basic_pod(), web_identity()).plan.warnings.empty());
  Identity pod_identity = container_credentials();
  pod_identity.regional_sts = true;
  EXPECT_TRUE(run(basic_pod(), pod_identity).plan.warnings.empty());
}

TEST(PlanMutation, ContainerCredentialsInjectsFullUriTokenFileAndLabel) {
  auto out = run(basic_pod(), container_credentials());
  const json& main = out.pod["spec"]["containers"][0];
  EXPECT_EQ(env_value(main, "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            "http://169.254.170.23/v1/credentials");
  EXPECT_EQ(env_value(main, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
            "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token");
  EXPECT_FALSE(env_of(main, "AWS_ROLE_ARN"));
  EXPECT_EQ(count_mounts(main, "eks-pod-identity-token"), 1);
  const json* volume = volume_named(out.pod, "eks-pod-identity-token");
  ASSERT_NE(volume, nullptr);
  EXPECT_EQ((*volume)["projected"]["sources"][0]["serviceAccountToken"]["audience"],
            "pods.eks.amazonaws.com");
  EXPECT_EQ(out.pod["metadata"]["labels"]["eks.amazonaws.com/pod-identity"], "enabled");
}

TEST(PlanMutation, PodIdentityLabelPathIsEscapedWhenLabelsExist) {
  json pod = basic_pod();
  pod["metadata"]["labels"] = {{"app", "shop"}};
  auto out = run(pod, container_credentials());
  EXPECT_EQ(out.patch[0]["path"], "/metadata/labels/eks.amazonaws.com~1pod-identity");
  EXPECT_EQ(out.pod["metadata"]["labels"]["app"], "shop");
  EXPECT_EQ(out.pod["metadata"]["labels"]["eks.amazonaws.com/pod-identity"], "enabled");
}

TEST(PlanMutation, ContainerCredentialsJitterOnlyForDefaultLifetime) {
  EXPECT_EQ(run(basic_pod(), container_credentials(), {}, 0).plan.token_expiration, 79200);
  EXPECT_EQ(run(basic_pod(), container_credentials(), {}, 0.5).plan.token_expiration, 82800);
  EXPECT_LT(run(basic_pod(), container_credentials(), {}, 0.9999999).plan.token_expiration, 86400);
  Identity custom = container_credentials();
  custom.token_expiration = 10000;
  EXPECT_EQ(run(basic_pod(), custom, {}, 0.5).plan.token_expiration, 10000);
  // Web identity never jitters.
  EXPECT_EQ(run(basic_pod(), web_identity(), {}, 0.5).plan.token_expiration, 86400);
}

TEST(EscapePointerToken, EscapesTildeBeforeSlash) {
  EXPECT_EQ(escape_pointer_token("a/b~c"), "a~1b~0c");
  EXPECT_EQ(escape_pointer_token("~1"), "~01");
  EXPECT_EQ(escape_pointer_token("plain"), "plain");
}

TEST(ReadPod, RefusesWhatIsNotAnInterpretablePod) {
  struct Case {
    const char* json;
    const char* reason;
  };
  for (const Case& c : {
           Case{R"([])", "not a JSON object"},
           Case{R"({"kind":"Deployment","spec":{"containers":[]}})", "not a Pod"},
           Case{R"({"kind":"Pod"})", "no spec"},
           Case{R"({"spec":{}})", "spec.containers is missing"},
           Case{R"({"spec":{"containers":{}}})", "spec.containers must be an array"},
           Case{R"({"spec":{"containers":[{"image":"x"}]}})", "has no name"},
           Case{R"({"spec":{"containers":[{"name":"a","env":[1]}]}})", "must be an object"},
           Case{R"({"spec":{"containers":[{"name":"a","env":[{"value":"1"}]}]}})", "has no name"},
           Case{R"({"metadata":{"labels":{"a":1}},"spec":{"containers":[]}})", "must be a string"},
           Case{R"({"metadata":"x","spec":{"containers":[]}})", "metadata must be an object"},
           Case{R"({"spec":{"containers":[],"volumes":[3]}})", "must be an object"},
       }) {
    SCOPED_TRACE(c.json);
    simdjson::dom::parser parser;
    auto pod = read_pod(parser.parse(std::string_view(c.json)).value());
    ASSERT_FALSE(pod.ok());
    EXPECT_THAT(pod.error(), ::testing::HasSubstr(c.reason));
  }
}

TEST(ReadPod, TextFromThePodIsQuotedInErrors) {
  // Found by the manifest fuzzer: a label key with a line break split the
  // message mutate and audit print.
  struct Case {
    const char* json;
    const char* error;
  };
  for (const Case& c : {
           Case{R"({"metadata":{"labels":{"a\nb":1}},"spec":{"containers":[]}})",
                R"(metadata.labels["a\x0ab"] must be a string)"},
           Case{R"({"kind":"Pod\r","spec":{"containers":[]}})",
                R"(the object is a "Pod\x0d", not a Pod)"},
           Case{R"({"spec":{"containers":[{"name":"a\nb","env":[1]}]}})",
                R"(spec.containers[0] ("a\x0ab").env[0] must be an object)"},
           Case{R"({"spec":{"containers":[{"name":"app","env":[1]}]}})",
                R"(spec.containers[0] (app).env[0] must be an object)"},
       }) {
    SCOPED_TRACE(c.json);
    simdjson::dom::parser parser;
    auto pod = read_pod(parser.parse(std::string_view(c.json)).value());
    ASSERT_FALSE(pod.ok());
    EXPECT_EQ(pod.error(), c.error);
  }
}

TEST(ReadPod, DefaultsServiceAccountName) {
  simdjson::dom::parser parser;
  auto pod = read_pod(parser.parse(std::string_view(R"({"spec":{"containers":[]}})")).value());
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(pod->service_account_name, "default");
  auto alias = read_pod(
      parser.parse(std::string_view(R"({"spec":{"serviceAccount":"old","containers":[]}})"))
          .value());
  ASSERT_TRUE(alias.ok());
  EXPECT_EQ(alias->service_account_name, "old");
}

// --- issue 20: container lists, Windows, region per ServiceAccount, fsGroup ---

namespace issue20 {

bool injected(const json& container) { return env_of(container, "AWS_ROLE_ARN").has_value(); }

bool any_warning_contains(const Plan& plan, const std::string& text) {
  for (const auto& warning : plan.warnings) {
    if (warning.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(PlanMutation, SkipContainersIsOneCsvRecordWithQuotes) {
  json pod = basic_pod();
  pod["metadata"]["annotations"] = {{"eks.amazonaws.com/skip-containers", R"("init","sidecar")"}};
  auto out = run(pod, web_identity());
  EXPECT_FALSE(injected(out.pod["spec"]["initContainers"][0]));
  EXPECT_TRUE(injected(out.pod["spec"]["containers"][0]));
  EXPECT_FALSE(injected(out.pod["spec"]["containers"][1]));
  EXPECT_TRUE(out.plan.warnings.empty());
}

TEST(PlanMutation, MalformedSkipContainersSkipsNoneAndWarns) {
  json pod = basic_pod();
  // A space before the quote makes ` "sidecar"` a non-quoted field with a
  // bare quote: Go's reader fails, and AWS's webhook then skips nothing.
  pod["metadata"]["annotations"] = {{"eks.amazonaws.com/skip-containers", R"("init", "sidecar")"}};
  auto out = run(pod, web_identity());
  EXPECT_TRUE(injected(out.pod["spec"]["initContainers"][0]));
  EXPECT_TRUE(injected(out.pod["spec"]["containers"][1]));
  ASSERT_EQ(out.plan.warnings.size(), 1u);
  EXPECT_EQ(out.plan.warnings[0],
            "eks.amazonaws.com/skip-containers is not valid CSV (bare \" at line 1, column 9): "
            "no container is skipped");
}

TEST(PlanMutation, IncludeContainersSelectsOnlyTheNamedOnesAndIgnoresSkip) {
  json pod = basic_pod();
  pod["metadata"]["annotations"] = {{"eks.amazonaws.com/include-containers", "init, sidecar"},
                                    {"eks.amazonaws.com/skip-containers", "sidecar"}};
  auto out = run(pod, web_identity());
  EXPECT_TRUE(injected(out.pod["spec"]["initContainers"][0]));
  EXPECT_EQ(count_mounts(out.pod["spec"]["initContainers"][0], "aws-iam-token"), 1);
  EXPECT_EQ(out.pod["spec"]["containers"][0], pod["spec"]["containers"][0]);
  EXPECT_TRUE(injected(out.pod["spec"]["containers"][1]));
  EXPECT_NE(volume_named(out.pod, "aws-iam-token"), nullptr);
  EXPECT_TRUE(any_warning_contains(out.plan, "skip-containers is ignored"));
  // Idempotent.
  EXPECT_EQ(run(out.pod, web_identity()).patch, json::array());
}

TEST(PlanMutation, MalformedOrEmptyIncludeContainersSelectsNone) {
  for (const char* value : {"\"main", "", "nobody"}) {
    SCOPED_TRACE(value);
    json pod = basic_pod();
    pod["metadata"]["annotations"] = {{"eks.amazonaws.com/include-containers", value}};
    auto out = run(pod, web_identity());
    for (const char* list : {"containers", "initContainers"}) {
      for (std::size_t i = 0; i < pod["spec"][list].size(); ++i) {
        EXPECT_EQ(out.pod["spec"][list][i], pod["spec"][list][i]);
      }
    }
    ASSERT_EQ(out.plan.warnings.size(), 1u);
    EXPECT_THAT(out.plan.warnings[0], ::testing::HasSubstr("include-containers"));
  }
}

TEST(PlanMutation, IncludeContainersFollowsThePrefix) {
  json pod = basic_pod();
  pod["metadata"]["annotations"] = {{"example.com/include-containers", "main"},
                                    {"eks.amazonaws.com/include-containers", "sidecar"}};
  Options options;
  options.annotation_prefix = "example.com";
  auto out = run(pod, web_identity(), options);
  EXPECT_TRUE(injected(out.pod["spec"]["containers"][0]));
  EXPECT_FALSE(injected(out.pod["spec"]["containers"][1]));
}

TEST(PlanMutation, WindowsBySpecOsName) {
  json pod = basic_pod();
  pod["spec"]["os"] = {{"name", "windows"}};
  auto out = run(pod, web_identity());
  EXPECT_EQ(env_value(out.pod["spec"]["containers"][0], "AWS_WEB_IDENTITY_TOKEN_FILE"),
            R"(C:\var\run\secrets\eks.amazonaws.com\serviceaccount\token)");
  pod["spec"]["os"] = {{"name", "linux"}};
  EXPECT_EQ(env_value(run(pod, web_identity()).pod["spec"]["containers"][0],
                      "AWS_WEB_IDENTITY_TOKEN_FILE"),
            "/var/run/secrets/eks.amazonaws.com/serviceaccount/token");
}

json affinity(const json& terms,
              const char* kind = "requiredDuringSchedulingIgnoredDuringExecution") {
  json node_affinity;
  if (std::string(kind) == "requiredDuringSchedulingIgnoredDuringExecution") {
    node_affinity[kind] = {{"nodeSelectorTerms", terms}};
  } else {
    node_affinity[kind] = json::array({{{"weight", 1}, {"preference", terms[0]}}});
  }
  return {{"nodeAffinity", node_affinity}};
}

json os_term(const json& values, const char* op = "In", const char* key = "kubernetes.io/os") {
  return {
      {"matchExpressions", json::array({{{"key", key}, {"operator", op}, {"values", values}}})}};
}

TEST(PlanMutation, WindowsByRequiredNodeAffinityOnlyWhenEveryTermPinsWindows) {
  const std::string windows_path = R"(C:\var\run\secrets\eks.amazonaws.com\serviceaccount\token)";
  const std::string linux_path = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";
  json arch = {{"key", "kubernetes.io/arch"}, {"operator", "In"}, {"values", {"amd64"}}};
  json pinned_with_arch = os_term({"windows"});
  pinned_with_arch["matchExpressions"].push_back(arch);
  struct Case {
    const char* name;
    json affinity;
    std::string path;
  } cases[] = {
      {"one term", affinity(json::array({os_term({"windows"})})), windows_path},
      {"beta label", affinity(json::array({os_term({"windows"}, "In", "beta.kubernetes.io/os")})),
       windows_path},
      {"two terms, both windows", affinity(json::array({os_term({"windows"}), pinned_with_arch})),
       windows_path},
      {"mixed terms", affinity(json::array({os_term({"windows"}), os_term({"linux"})})),
       linux_path},
      {"a term without os",
       affinity(json::array({os_term({"windows"}), {{"matchExpressions", json::array({arch})}}})),
       linux_path},
      {"windows or linux", affinity(json::array({os_term({"windows", "linux"})})), linux_path},
      {"NotIn linux", affinity(json::array({os_term({"linux"}, "NotIn")})), linux_path},
      {"preferred only",
       affinity(json::array({os_term({"windows"})}),
                "preferredDuringSchedulingIgnoredDuringExecution"),
       linux_path},
      {"no terms", affinity(json::array()), linux_path},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json pod = basic_pod();
    pod["spec"]["affinity"] = c.affinity;
    auto out = run(pod, web_identity());
    EXPECT_EQ(env_value(out.pod["spec"]["containers"][0], "AWS_WEB_IDENTITY_TOKEN_FILE"), c.path);
  }
}

TEST(PlanMutation, ServiceAccountRegionWinsOverTheFlag) {
  Options options;
  options.region = "us-east-1";
  Identity id = web_identity();
  id.region = "eu-central-1";
  auto out = run(basic_pod(), id, options);
  const json& main = out.pod["spec"]["containers"][0];
  EXPECT_EQ(env_value(main, "AWS_REGION"), "eu-central-1");
  EXPECT_EQ(env_value(main, "AWS_DEFAULT_REGION"), "eu-central-1");
  // Without a flag, the ServiceAccount's region alone.
  auto alone = run(basic_pod(), id);
  EXPECT_EQ(env_value(alone.pod["spec"]["containers"][0], "AWS_REGION"), "eu-central-1");
  // Container credentials too.
  Identity cc = container_credentials();
  cc.region = "ap-south-1";
  EXPECT_EQ(env_value(run(basic_pod(), cc, options).pod["spec"]["containers"][0], "AWS_REGION"),
            "ap-south-1");
}

TEST(PlanMutation, InjectFsGroupOnlyWhereUnset) {
  Options options;
  options.inject_fs_group = 2000;
  // No securityContext: the whole object is added.
  auto bare = run(basic_pod(), web_identity(), options);
  EXPECT_EQ(bare.pod["spec"]["securityContext"], json::parse(R"({"fsGroup":2000})"));
  EXPECT_EQ(run(bare.pod, web_identity(), options).patch, json::array());
  // A securityContext without fsGroup: only the member, the rest kept.
  json pod = basic_pod();
  pod["spec"]["securityContext"] = {{"runAsUser", 1000}};
  auto partial = run(pod, web_identity(), options);
  EXPECT_EQ(partial.pod["spec"]["securityContext"],
            json::parse(R"({"runAsUser":1000,"fsGroup":2000})"));
  // A null securityContext is replaced.
  pod["spec"]["securityContext"] = nullptr;
  EXPECT_EQ(run(pod, web_identity(), options).pod["spec"]["securityContext"],
            json::parse(R"({"fsGroup":2000})"));
  // An fsGroup the Pod sets is kept.
  pod["spec"]["securityContext"] = {{"fsGroup", 5}};
  EXPECT_EQ(run(pod, web_identity(), options).pod["spec"]["securityContext"]["fsGroup"], 5);
  // Off by default; never on Windows Pods (the API server refuses fsGroup there).
  EXPECT_FALSE(run(basic_pod(), web_identity()).pod["spec"].contains("securityContext"));
  json windows = basic_pod();
  windows["spec"]["os"] = {{"name", "windows"}};
  EXPECT_FALSE(run(windows, web_identity(), options).pod["spec"].contains("securityContext"));
  // Nor when no container receives the identity.
  json none = basic_pod();
  none["metadata"]["annotations"] = {{"eks.amazonaws.com/include-containers", "nobody"}};
  EXPECT_FALSE(run(none, web_identity(), options).pod["spec"].contains("securityContext"));
}

TEST(PlanMutation, WarnsWhenAContainerCannotReadAnExistingRestrictiveTokenVolume) {
  json pod = basic_pod();
  pod["spec"]["volumes"] = json::parse(R"([{"name":"aws-iam-token","projected":{
      "defaultMode":384,"sources":[{"serviceAccountToken":{"audience":"sts.amazonaws.com",
      "expirationSeconds":86400,"path":"token"}}]}}])");
  pod["spec"]["containers"][0]["securityContext"] = {{"runAsUser", 1000}};
  pod["spec"]["containers"][1]["securityContext"] = {{"runAsUser", 1001}};
  auto out = run(pod, web_identity());
  ASSERT_EQ(out.plan.warnings.size(), 1u);
  EXPECT_EQ(out.plan.warnings[0],
            "the AWS token file (mode 0600) is unreadable for container(s) main, sidecar: set "
            "spec.securityContext.fsGroup");
  // With an fsGroup (the Pod's or injected) the token is group-readable.
  Options options;
  options.inject_fs_group = 3000;
  EXPECT_TRUE(run(pod, web_identity(), options).plan.warnings.empty());
  // The injected volume (defaultMode 0644) is readable by every user.
  json fresh = basic_pod();
  fresh["spec"]["containers"][0]["securityContext"] = {{"runAsUser", 1000}};
  EXPECT_TRUE(run(fresh, web_identity()).plan.warnings.empty());
}

}  // namespace issue20

}  // namespace
}  // namespace irsa::mutation
