// The missed-identity check: a Pod the webhook mutated passes it, whatever
// the options; each way a Pod can miss its identity is named.
#include "mutation/injected.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "mutation/plan.h"

namespace irsa::mutation {
namespace {

using identity::Identity;
using identity::Mode;
using nlohmann::json;

constexpr char kRole[] = "arn:aws:iam::111122223333:role/app";

Identity web_identity(std::string role = kRole) {
  Identity id;
  id.mode = Mode::kWebIdentity;
  id.role_arn = std::move(role);
  id.audience = "sts.amazonaws.com";
  return id;
}

Identity container_credentials() {
  Identity id;
  id.mode = Mode::kContainerCredentials;
  id.audience = "pods.eks.amazonaws.com";
  return id;
}

json pod_json() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "app-7d9f-x2", "namespace": "shop"},
    "spec": {
      "serviceAccountName": "app",
      "initContainers": [{"name": "init", "image": "busybox"}],
      "containers": [
        {"name": "app", "image": "nginx", "env": [{"name": "A", "value": "1"}]},
        {"name": "sidecar", "image": "envoy"}
      ]
    }
  })");
}

// Holds the parsed document the view points into.
struct Parsed {
  std::string text;
  simdjson::dom::parser parser;
  PodView view;
  explicit Parsed(const json& pod) : text(pod.dump()) {
    auto element = parser.parse(text).value();
    auto read = read_pod(element);
    EXPECT_TRUE(read.ok()) << (read.ok() ? "" : read.error());
    if (read) view = *read;
  }
};

// The Pod as the webhook would admit it with `id`.
json mutated(const json& pod, const Identity& id, const Options& options = {}) {
  Parsed parsed(pod);
  Plan plan = plan_mutation(parsed.view, id, options, 0);
  return pod.patch(plan.patch.to_json());
}

InjectionCheck check(const json& pod, const std::optional<Identity>& id,
                     const Options& options = {}) {
  Parsed parsed(pod);
  return check_injection(parsed.view, id, options);
}

TEST(InjectionCheck, AMutatedPodHasItsIdentity) {
  EXPECT_FALSE(check(mutated(pod_json(), web_identity()), web_identity()).missed());
  EXPECT_FALSE(
      check(mutated(pod_json(), container_credentials()), container_credentials()).missed());
}

TEST(InjectionCheck, AMutatedWindowsPodHasItsIdentity) {
  json pod = pod_json();
  pod["spec"]["nodeSelector"] = {{"kubernetes.io/os", "windows"}};
  json windows = mutated(pod, web_identity());
  ASSERT_NE(windows.dump().find("C:\\\\var"), std::string::npos);
  EXPECT_FALSE(check(windows, web_identity()).missed());
}

TEST(InjectionCheck, AMutatedPodWithOtherPathsHasItsIdentity) {
  Options options;
  options.token_mount_path = "/custom/token";
  EXPECT_FALSE(
      check(mutated(pod_json(), web_identity(), options), web_identity(), options).missed());
}

TEST(InjectionCheck, APodAdmittedWithoutTheWebhookMissesTheVolume) {
  auto result = check(pod_json(), web_identity());
  EXPECT_EQ(result.problem, InjectionProblem::kMissingTokenVolume);
  EXPECT_EQ(injection_problem_name(result.problem), "missing-token-volume");
  EXPECT_EQ(check(pod_json(), container_credentials()).problem,
            InjectionProblem::kMissingTokenVolume);
}

TEST(InjectionCheck, APodWithoutAnIdentityAndNoneDueIsFine) {
  EXPECT_FALSE(check(pod_json(), std::nullopt).missed());
}

TEST(InjectionCheck, SkippedContainersNeedNothing) {
  json pod = pod_json();
  pod["metadata"]["annotations"] = {{"eks.amazonaws.com/skip-containers", "sidecar"}};
  json admitted = mutated(pod, web_identity());
  EXPECT_FALSE(check(admitted, web_identity()).missed());
  // The same Pod read without the annotation: the sidecar misses it.
  admitted["metadata"].erase("annotations");
  auto result = check(admitted, web_identity());
  EXPECT_EQ(result.problem, InjectionProblem::kMissingIdentityEnv);
  EXPECT_EQ(result.container, "sidecar");
}

TEST(InjectionCheck, IncludeContainersSelectingNoneNeedsNothing) {
  json pod = pod_json();
  pod["metadata"]["annotations"] = {{"eks.amazonaws.com/include-containers", "nosuch"}};
  EXPECT_FALSE(check(pod, web_identity()).missed());
  pod["metadata"]["annotations"] = {{"eks.amazonaws.com/include-containers", "app"}};
  EXPECT_EQ(check(pod, web_identity()).problem, InjectionProblem::kMissingTokenVolume);
  EXPECT_FALSE(check(mutated(pod, web_identity()), web_identity()).missed());
}

TEST(InjectionCheck, AContainerWithoutTheMountIsNamed) {
  json admitted = mutated(pod_json(), web_identity());
  admitted["spec"]["containers"][1].erase("volumeMounts");
  auto result = check(admitted, web_identity());
  EXPECT_EQ(result.problem, InjectionProblem::kMissingTokenMount);
  EXPECT_EQ(result.container, "sidecar");
  EXPECT_EQ(injection_problem_name(result.problem), "missing-token-mount");
}

TEST(InjectionCheck, AContainerThatSetsItsOwnRoleIsLeftAlone) {
  json admitted = mutated(pod_json(), web_identity());
  // The webhook leaves a container that names a role itself alone.
  auto& env = admitted["spec"]["initContainers"][0]["env"];
  env = json::array({{{"name", "AWS_WEB_IDENTITY_TOKEN_FILE"}, {"value", "/elsewhere"}}});
  EXPECT_FALSE(check(admitted, web_identity()).missed());
  env = json::array({{{"name", "OTHER"}, {"value", "x"}}});
  EXPECT_EQ(check(admitted, web_identity()).problem, InjectionProblem::kMissingIdentityEnv);
}

TEST(InjectionCheck, AnIdentityTheServiceAccountNoLongerHas) {
  json admitted = mutated(pod_json(), web_identity());
  auto result = check(admitted, std::nullopt);
  EXPECT_EQ(result.problem, InjectionProblem::kIdentityRemoved);
  EXPECT_EQ(result.carried_role, kRole);
  EXPECT_EQ(injection_problem_name(result.problem), "identity-removed");
  EXPECT_EQ(check(mutated(pod_json(), container_credentials()), std::nullopt).problem,
            InjectionProblem::kIdentityRemoved);
}

TEST(InjectionCheck, AnotherRole) {
  json admitted = mutated(pod_json(), web_identity("arn:aws:iam::111122223333:role/old"));
  auto result = check(admitted, web_identity());
  EXPECT_EQ(result.problem, InjectionProblem::kRoleChanged);
  EXPECT_EQ(result.carried_role, "arn:aws:iam::111122223333:role/old");
  EXPECT_EQ(injection_problem_name(result.problem), "role-changed");
}

TEST(InjectionCheck, TheOtherMode) {
  EXPECT_EQ(check(mutated(pod_json(), web_identity()), container_credentials()).problem,
            InjectionProblem::kRoleChanged);
  EXPECT_EQ(check(mutated(pod_json(), container_credentials()), web_identity()).problem,
            InjectionProblem::kRoleChanged);
}

TEST(InjectionCheck, EveryProblemHasItsOwnName) {
  std::set<std::string_view> names;
  for (auto problem : {InjectionProblem::kNone, InjectionProblem::kMissingTokenVolume,
                       InjectionProblem::kMissingTokenMount, InjectionProblem::kMissingIdentityEnv,
                       InjectionProblem::kIdentityRemoved, InjectionProblem::kRoleChanged}) {
    names.insert(injection_problem_name(problem));
  }
  EXPECT_EQ(names.size(), 6u);
}

}  // namespace
}  // namespace irsa::mutation
