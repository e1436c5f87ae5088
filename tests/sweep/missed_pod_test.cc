// The sweep's decision per Pod, the workload it names, the fix and the Event
// a user sees.
#include "sweep/missed_pod.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace irsa::sweep {
namespace {

using nlohmann::json;

constexpr char kRole[] = "arn:aws:iam::111122223333:role/app";
constexpr char kUid[] = "0b8e6f2a-1111-4c2d-9e8f-000000000001";

// A Deployment's Pod created without the webhook: no token, no env.
json deployment_pod() {
  return json::parse(R"({
    "metadata": {"name": "web-5d8f7c9b4-x2x9q", "namespace": "shop",
                 "uid": "0b8e6f2a-1111-4c2d-9e8f-000000000001",
                 "labels": {"app": "web", "pod-template-hash": "5d8f7c9b4"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                      "name": "web-5d8f7c9b4", "uid": "r1", "controller": true}]},
    "spec": {"serviceAccountName": "app", "containers": [{"name": "app", "image": "nginx"}]},
    "status": {"phase": "Running"}
  })");
}

// The same Pod as the webhook mutates it.
json injected(json pod) {
  pod["spec"]["volumes"] = json::parse(
      R"([{"name": "aws-iam-token", "projected": {"sources": [{"serviceAccountToken":
          {"audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}}]}}])");
  auto& container = pod["spec"]["containers"][0];
  container["env"] =
      json::array({json{{"name", "AWS_ROLE_ARN"}, {"value", kRole}},
                   json{{"name", "AWS_WEB_IDENTITY_TOKEN_FILE"},
                        {"value", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}}});
  container["volumeMounts"] =
      json::array({json{{"name", "aws-iam-token"},
                        {"mountPath", "/var/run/secrets/eks.amazonaws.com/serviceaccount"},
                        {"readOnly", true}}});
  return pod;
}

identity::Identity web_identity(const std::string& role = kRole) {
  identity::Identity id;
  id.role_arn = role;
  id.audience = "sts.amazonaws.com";
  return id;
}

// A cache that knows shop/app with `identity` (or no identity), and no other.
IdentityLookup cache(std::optional<identity::Identity> identity) {
  return [identity](std::string_view namespace_name, std::string_view service_account) {
    identity::IdentityResolver::Lookup lookup;
    if (namespace_name == "shop" && service_account == "app") {
      lookup.service_account_known = true;
      lookup.identity = identity;
    }
    return lookup;
  };
}

struct Checked {
  std::string text;
  simdjson::dom::parser parser;
  PodCheck check;
  Checked(const json& pod, const IdentityLookup& lookup) : text(pod.dump()) {
    check = check_pod(parser.parse(text).value(), lookup, mutation::Options{});
  }
};

TEST(SweepCheckPod, APodCreatedWithoutTheWebhookIsMissedWithItsDeployment) {
  Checked checked(deployment_pod(), cache(web_identity()));
  ASSERT_EQ(checked.check.verdict, PodVerdict::kMissed);
  const MissedPod& missed = *checked.check.missed;
  EXPECT_EQ(missed.check.problem, mutation::InjectionProblem::kMissingTokenVolume);
  EXPECT_EQ(missed.namespace_name, "shop");
  EXPECT_EQ(missed.name, "web-5d8f7c9b4-x2x9q");
  EXPECT_EQ(missed.uid, kUid);
  EXPECT_EQ(missed.role, kRole);
  EXPECT_EQ(missed.workload.kind, "Deployment");
  EXPECT_EQ(missed.workload.name, "web");
  EXPECT_EQ(fix_for(missed), "kubectl rollout restart deployment/web -n shop");
}

TEST(SweepCheckPod, AnInjectedPodIsFine) {
  Checked checked(injected(deployment_pod()), cache(web_identity()));
  EXPECT_EQ(checked.check.verdict, PodVerdict::kFine);
  EXPECT_FALSE(checked.check.missed);
}

TEST(SweepCheckPod, APodWithoutIdentityDueIsFine) {
  Checked checked(deployment_pod(), cache(std::nullopt));
  EXPECT_EQ(checked.check.verdict, PodVerdict::kFine);
}

TEST(SweepCheckPod, AnInjectedPodWhoseRoleWasRemovedIsMissed) {
  Checked checked(injected(deployment_pod()), cache(std::nullopt));
  ASSERT_EQ(checked.check.verdict, PodVerdict::kMissed);
  EXPECT_EQ(checked.check.missed->check.problem, mutation::InjectionProblem::kIdentityRemoved);
  EXPECT_EQ(checked.check.missed->check.carried_role, kRole);
}

TEST(SweepCheckPod, AnInjectedPodWhoseRoleChangedIsMissed) {
  Checked checked(injected(deployment_pod()),
                  cache(web_identity("arn:aws:iam::111122223333:role/other")));
  ASSERT_EQ(checked.check.verdict, PodVerdict::kMissed);
  EXPECT_EQ(checked.check.missed->check.problem, mutation::InjectionProblem::kRoleChanged);
}

TEST(SweepCheckPod, AServiceAccountTheCacheDoesNotKnowGivesNoVerdict) {
  json pod = injected(deployment_pod());
  pod["spec"]["serviceAccountName"] = "deleted";
  Checked checked(pod, cache(web_identity()));
  EXPECT_EQ(checked.check.verdict, PodVerdict::kUnknownAccount);
}

TEST(SweepCheckPod, FinishedAndDeletingPodsAreLeftOut) {
  json succeeded = deployment_pod();
  succeeded["status"]["phase"] = "Succeeded";
  EXPECT_EQ(Checked(succeeded, cache(web_identity())).check.verdict, PodVerdict::kNotRunning);
  json failed = deployment_pod();
  failed["status"]["phase"] = "Failed";
  EXPECT_EQ(Checked(failed, cache(web_identity())).check.verdict, PodVerdict::kNotRunning);
  json deleting = deployment_pod();
  deleting["metadata"]["deletionTimestamp"] = "2026-12-07T03:00:00Z";
  EXPECT_EQ(Checked(deleting, cache(web_identity())).check.verdict, PodVerdict::kNotRunning);
  json pending = deployment_pod();
  pending["status"]["phase"] = "Pending";
  EXPECT_EQ(Checked(pending, cache(web_identity())).check.verdict, PodVerdict::kMissed);
}

TEST(SweepCheckPod, AnUnreadablePodIsNotACrash) {
  for (const char* text : {R"({"metadata": {"name": "x", "namespace": "shop"}})",
                           R"({"metadata": {"name": "x", "namespace": "shop"},
                               "spec": {"containers": 3}})",
                           R"([1, 2])", R"({"spec": {"containers": []}})"}) {
    Checked checked(json::parse(text), cache(web_identity()));
    EXPECT_EQ(checked.check.verdict, PodVerdict::kUnreadable) << text;
  }
}

MissedPod missed_with(const std::string& kind, const std::string& name) {
  Checked checked(deployment_pod(), cache(web_identity()));
  MissedPod missed = *checked.check.missed;
  missed.workload = {kind, name};
  return missed;
}

TEST(SweepFix, SaysWhatToRestartForEachKindOfOwner) {
  EXPECT_EQ(fix_for(missed_with("StatefulSet", "db")),
            "kubectl rollout restart statefulset/db -n shop");
  EXPECT_EQ(fix_for(missed_with("DaemonSet", "agent")),
            "kubectl rollout restart daemonset/agent -n shop");
  EXPECT_EQ(fix_for(missed_with("Pod", "web-5d8f7c9b4-x2x9q")),
            "kubectl delete pod web-5d8f7c9b4-x2x9q -n shop, then create it again (a bare Pod "
            "is not recreated)");
  EXPECT_EQ(fix_for(missed_with("Job", "backup-28911")),
            "kubectl delete pod web-5d8f7c9b4-x2x9q -n shop (its Job creates a new one)");
  EXPECT_EQ(fix_for(missed_with("Rollout", "canary")),
            "restart it through its owner Rollout canary, or kubectl delete pod "
            "web-5d8f7c9b4-x2x9q -n shop");
}

TEST(SweepWorkload, AReplicaSetWithoutTheTemplateHashStaysAReplicaSet) {
  json pod = deployment_pod();
  pod["metadata"]["labels"].erase("pod-template-hash");
  simdjson::dom::parser parser;
  std::string text = pod.dump();
  Workload workload = workload_of(parser.parse(text).value());
  EXPECT_EQ(workload.kind, "ReplicaSet");
  EXPECT_EQ(workload.name, "web-5d8f7c9b4");

  pod = deployment_pod();
  pod["metadata"].erase("ownerReferences");
  text = pod.dump();
  workload = workload_of(parser.parse(text).value());
  EXPECT_EQ(workload.kind, "Pod");
  EXPECT_EQ(workload.name, "web-5d8f7c9b4-x2x9q");
}

TEST(SweepEvent, IsAWarningOnThePodThatSaysHowToFixIt) {
  Checked checked(deployment_pod(), cache(web_identity()));
  EventSource source;
  source.instance = "irsa-webhook-6c9f-abcde";
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1796612400));
  json event = json::parse(event_json(*checked.check.missed, source, now));
  EXPECT_EQ(event["apiVersion"], "v1");
  EXPECT_EQ(event["kind"], "Event");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["reason"], "IdentityNotInjected");
  EXPECT_EQ(event["metadata"]["namespace"], "shop");
  EXPECT_EQ(event["metadata"]["name"], std::string("web-5d8f7c9b4-x2x9q.") + kUid);
  EXPECT_EQ(event["involvedObject"], json({{"apiVersion", "v1"},
                                           {"kind", "Pod"},
                                           {"namespace", "shop"},
                                           {"name", "web-5d8f7c9b4-x2x9q"},
                                           {"uid", kUid}}));
  EXPECT_EQ(event["source"]["component"], "irsa-webhook");
  EXPECT_EQ(event["reportingComponent"], "irsa-webhook");
  EXPECT_EQ(event["reportingInstance"], "irsa-webhook-6c9f-abcde");
  EXPECT_EQ(event["action"], "CheckIdentity");
  EXPECT_EQ(event["firstTimestamp"], "2026-12-07T03:00:00Z");
  EXPECT_EQ(event["eventTime"], "2026-12-07T03:00:00.000000Z");
  const std::string message = event["message"];
  EXPECT_NE(message.find("no AWS identity token"), std::string::npos) << message;
  EXPECT_NE(message.find(kRole), std::string::npos) << message;
  EXPECT_NE(message.find("Fix: kubectl rollout restart deployment/web -n shop"), std::string::npos)
      << message;
}

TEST(SweepEvent, TheMessageIsBoundedAndEscaped) {
  MissedPod missed = missed_with("Deployment", "web");
  missed.check.problem = mutation::InjectionProblem::kMissingIdentityEnv;
  missed.check.container = "app\n\x1b[31mforged";
  missed.role = std::string(3000, 'r');
  const std::string message = event_message(missed);
  EXPECT_LE(message.size(), 1024U);
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(message.find('\x1b'), std::string::npos);
}

TEST(SweepEvent, TheNameIsAValidNameForLongPods) {
  MissedPod missed = missed_with("Pod", "x");
  missed.name = std::string(240, 'a') + "-b";
  const std::string name = event_name(missed);
  EXPECT_LE(name.size(), 253U);
  EXPECT_EQ(name.substr(name.size() - 37), std::string(".") + kUid);
  missed.name = std::string(215, 'a') + "-" + std::string(30, 'b');
  const std::string cut = event_name(missed);
  EXPECT_LE(cut.size(), 253U);
  EXPECT_EQ(cut.find("-."), std::string::npos) << cut;
}

}  // namespace
}  // namespace irsa::sweep
