// The combined decision: identity injection plus each static-credentials mode.
#include "decision/decision.h"

#include <algorithm>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/utf8.h"

namespace irsa::decision {
namespace {

using credentials::ManagedMode;
using credentials::Policy;
using credentials::UnmanagedMode;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

identity::Identity role() {
  identity::Identity id;
  id.role_arn = "arn:aws:iam::111122223333:role/app";
  id.audience = "sts.amazonaws.com";
  return id;
}

json keyed_pod() {
  return json::parse(R"({"metadata":{"name":"p","annotations":{}},"spec":{
    "containers":[{"name":"app","env":[
        {"name":"AWS_ACCESS_KEY_ID","valueFrom":{"secretKeyRef":{"name":"k","key":"id"}}},
        {"name":"AWS_SECRET_ACCESS_KEY","valueFrom":{"secretKeyRef":{"name":"k","key":"secret"}}}],
      "volumeMounts":[{"name":"aws","mountPath":"/root/.aws"}]}],
    "volumes":[{"name":"aws","secret":{"secretName":"aws"}}]}})");
}

identity::IdentityResolver::Lookup lookup_of(const std::optional<identity::Identity>& id,
                                             std::vector<std::string> problems = {}) {
  identity::IdentityResolver::Lookup lookup;
  lookup.identity = id;
  lookup.service_account_known = true;
  lookup.problems = std::move(problems);
  return lookup;
}

struct Run {
  Decision decision;
  json pod;  // the Pod after the decision's patch
};

Run run(const json& pod, const std::optional<identity::Identity>& id, Policy policy) {
  std::string text = pod.dump();
  simdjson::dom::parser parser;
  auto view = mutation::read_pod(parser.parse(text).value());
  EXPECT_TRUE(view.ok());
  Run out;
  out.decision = decide(*view, lookup_of(id), Config{mutation::Options{}, policy}, 0.0);
  out.pod = pod.patch(out.decision.patch.to_json());
  return out;
}

std::vector<std::string> env_names(const json& container) {
  std::vector<std::string> names;
  for (const auto& e : container.value("env", json::array())) names.push_back(e["name"]);
  return names;
}

TEST(Decide, StripRemovesKeysAndInjectsInOnePatch) {
  Policy policy;  // default: strip
  auto out = run(keyed_pod(), role(), policy);
  ASSERT_TRUE(out.decision.allowed);
  EXPECT_TRUE(out.decision.stripped);
  const json& app = out.pod["spec"]["containers"][0];
  EXPECT_THAT(env_names(app),
              ::testing::ElementsAre("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"));
  ASSERT_EQ(app["volumeMounts"].size(), 1u);
  EXPECT_EQ(app["volumeMounts"][0]["name"], "aws-iam-token");
  ASSERT_EQ(out.pod["spec"]["volumes"].size(), 1u);
  EXPECT_EQ(out.pod["spec"]["volumes"][0]["name"], "aws-iam-token");
  EXPECT_EQ(
      out.decision.audit_annotations.at(kAuditRemovedKey),
      "app/env/AWS_ACCESS_KEY_ID,app/env/AWS_SECRET_ACCESS_KEY,app/volumeMount/aws,volume/aws");
  EXPECT_EQ(out.decision.warnings.size(), 4u);
  EXPECT_THAT(out.decision.warnings[0], HasSubstr("removed container app: env AWS_ACCESS_KEY_ID"));
  // Idempotent: the result needs nothing more.
  auto again = run(out.pod, role(), policy);
  EXPECT_EQ(again.decision.patch.to_json(), json::array());
  EXPECT_THAT(again.decision.warnings, IsEmpty());
}

// What the removed-credentials metric counts: only what the patch removes,
// not the keys kept in a container left out of the identity.
TEST(Decide, RemovedCountsOnlyWhatThePatchRemoves) {
  json pod = keyed_pod();
  auto sidecar = pod["spec"]["containers"][0];
  sidecar["name"] = "sidecar";
  sidecar.erase("volumeMounts");
  pod["spec"]["containers"].push_back(sidecar);
  pod["metadata"]["annotations"]["eks.amazonaws.com/skip-containers"] = "sidecar";
  auto out = run(pod, role(), Policy{});
  ASSERT_TRUE(out.decision.stripped);
  EXPECT_EQ(out.decision.kept.size(), 2u);
  EXPECT_EQ(out.decision.removed, out.decision.findings.size() - 2);
  EXPECT_EQ(out.pod["spec"]["containers"][1]["env"].size(), 2u);
}

TEST(Decide, WarnChangesNothingButReports) {
  Policy policy;
  policy.managed = ManagedMode::kWarn;
  auto out = run(keyed_pod(), role(), policy);
  EXPECT_TRUE(out.decision.allowed);
  EXPECT_FALSE(out.decision.stripped);
  EXPECT_THAT(env_names(out.pod["spec"]["containers"][0]),
              ::testing::ElementsAre("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ROLE_ARN",
                                     "AWS_WEB_IDENTITY_TOKEN_FILE"));
  EXPECT_EQ(out.decision.warnings.size(), 4u);
  EXPECT_TRUE(out.decision.audit_annotations.count(kAuditFoundKey));
  for (const auto& op : out.decision.patch.to_json()) EXPECT_EQ(op["op"], "add");
}

TEST(Decide, DenyListsEachFindingAndHowToFix) {
  Policy policy;
  policy.managed = ManagedMode::kDeny;
  auto out = run(keyed_pod(), role(), policy);
  EXPECT_FALSE(out.decision.allowed);
  EXPECT_THAT(out.decision.denial, HasSubstr("container app: env AWS_ACCESS_KEY_ID"));
  EXPECT_THAT(out.decision.denial, HasSubstr("container app: env AWS_SECRET_ACCESS_KEY"));
  EXPECT_THAT(out.decision.denial, HasSubstr("/root/.aws"));
  EXPECT_THAT(out.decision.denial, HasSubstr("Remove them from the Pod spec"));
}

TEST(Decide, OffLooksAtNothing) {
  Policy policy;
  policy.managed = ManagedMode::kOff;
  auto out = run(keyed_pod(), role(), policy);
  EXPECT_THAT(out.decision.findings, IsEmpty());
  EXPECT_THAT(out.decision.warnings, IsEmpty());
  EXPECT_EQ(out.pod["spec"]["containers"][0]["env"].size(), 4u);
}

TEST(Decide, PodsWithoutIdentityAreNeverStripped) {
  Policy policy;  // unmanaged: allow
  auto allow = run(keyed_pod(), std::nullopt, policy);
  EXPECT_TRUE(allow.decision.allowed);
  EXPECT_EQ(allow.decision.patch.to_json(), json::array());
  EXPECT_THAT(allow.decision.warnings, IsEmpty());

  policy.unmanaged = UnmanagedMode::kWarn;
  auto warn = run(keyed_pod(), std::nullopt, policy);
  EXPECT_EQ(warn.decision.patch.to_json(), json::array());
  EXPECT_EQ(warn.decision.warnings.size(), 4u);
  EXPECT_TRUE(warn.decision.audit_annotations.count(kAuditFoundKey));

  policy.unmanaged = UnmanagedMode::kDeny;
  auto deny = run(keyed_pod(), std::nullopt, policy);
  EXPECT_FALSE(deny.decision.allowed);
  EXPECT_THAT(deny.decision.denial, HasSubstr("has no IAM role"));
  EXPECT_THAT(deny.decision.denial, HasSubstr("eks.amazonaws.com/role-arn"));
}

TEST(Decide, OptOutHonouredOnlyWhenAllowed) {
  json pod = keyed_pod();
  pod["metadata"]["annotations"]["eks.amazonaws.com/keep-static-credentials"] = "true";
  Policy policy;
  policy.managed = ManagedMode::kDeny;
  EXPECT_FALSE(run(pod, role(), policy).decision.allowed);
  policy.allow_opt_out = true;
  auto out = run(pod, role(), policy);
  EXPECT_TRUE(out.decision.allowed);
  EXPECT_TRUE(out.decision.opted_out);
  EXPECT_EQ(out.pod["spec"]["containers"][0]["env"].size(), 4u);
  EXPECT_EQ(out.decision.warnings.size(), 4u);
}

TEST(Decide, WarningsStayWithinKubernetesLimits) {
  json pod = json::parse(R"({"spec":{"containers":[]}})");
  for (int c = 0; c < 80; ++c) {
    pod["spec"]["containers"].push_back(
        {{"name", "container-with-a-rather-long-name-" + std::to_string(c)},
         {"env", json::parse(R"([{"name":"AWS_ACCESS_KEY_ID","value":"x"},
                                 {"name":"AWS_SECRET_ACCESS_KEY","value":"y"}])")}});
  }
  Policy policy;
  auto out = run(pod, role(), policy);
  std::size_t total = 0;
  for (const auto& warning : out.decision.warnings) {
    EXPECT_LT(warning.size(), 120u);
    EXPECT_EQ(warning.rfind("Warning", 0), std::string::npos);
    total += warning.size();
  }
  EXPECT_LT(total, 4096u);
  EXPECT_THAT(out.decision.warnings.back(), HasSubstr("more static AWS credentials"));
  // Every finding is still removed.
  for (const auto& container : out.pod["spec"]["containers"]) {
    EXPECT_THAT(env_names(container),
                ::testing::ElementsAre("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"));
  }
}

TEST(Decide, InjectionWarningsComeFirstAndCountTowardsTheLimits) {
  json pod = json::parse(R"({"metadata":{"name":""},"spec":{"containers":[]}})");
  pod["metadata"]["name"] = std::string(100, 'n');
  for (int c = 0; c < 80; ++c) {
    pod["spec"]["containers"].push_back(
        {{"name", "container-with-a-rather-long-name-" + std::to_string(c)},
         {"env", json::parse(R"([{"name":"AWS_ACCESS_KEY_ID","value":"x"}])")}});
  }
  identity::Identity id = role();
  id.role_session_name = true;  // the name is over STS's 64
  id.regional_sts = true;       // and no region is known
  auto out = run(pod, id, Policy{});
  ASSERT_GE(out.decision.warnings.size(), 3u);
  EXPECT_THAT(out.decision.warnings[0], HasSubstr("AWS_ROLE_SESSION_NAME"));
  EXPECT_THAT(out.decision.warnings[1], HasSubstr("regional STS without a region"));
  EXPECT_THAT(out.decision.warnings[2], HasSubstr("removed"));
  std::size_t total = 0;
  for (const auto& warning : out.decision.warnings) {
    EXPECT_LT(warning.size(), 120u);
    total += warning.size();
  }
  EXPECT_LT(total, 4096u);
  EXPECT_THAT(out.decision.warnings.back(), HasSubstr("more static AWS credentials"));
}

TEST(Decide, LongWarningsAreCutBetweenCharactersAndKeptOnOneLine) {
  // Found by the admission fuzzer: a cut inside a UTF-8 sequence went out as
  // U+FFFD and the warning grew past the API server's 120-byte limit.
  for (int pad = 0; pad < 4; ++pad) {
    std::string name = std::string(pad, 'x') + "app\n";
    for (int i = 0; i < 40; ++i) name += "\xc3\xa9";  // é
    json pod = {
        {"spec",
         {{"containers",
           {{{"name", name}, {"env", {{{"name", "AWS_ACCESS_KEY_ID"}, {"value", "x"}}}}}}}}}};
    auto out = run(pod, role(), Policy{});
    ASSERT_FALSE(out.decision.warnings.empty());
    for (const auto& warning : out.decision.warnings) {
      SCOPED_TRACE(warning);
      EXPECT_LT(warning.size(), 120u);
      EXPECT_FALSE(find_invalid_utf8(warning).has_value());
      EXPECT_EQ(warning.find('\n'), std::string::npos);
      EXPECT_THAT(warning, HasSubstr("app\\x0a"));
    }
  }
}

// Issue 20: two containers with keys; only `app` receives the identity.
json two_keyed_containers(const char* annotation_key, const char* value) {
  json pod = keyed_pod();
  json sidecar = pod["spec"]["containers"][0];
  sidecar["name"] = "legacy";
  pod["spec"]["containers"].push_back(sidecar);
  pod["metadata"]["annotations"][annotation_key] = value;
  return pod;
}

TEST(Decide, KeysInContainersLeftOutAreKeptAndReported) {
  for (auto [key, value] : {std::pair{"eks.amazonaws.com/skip-containers", "legacy"},
                            std::pair{"eks.amazonaws.com/include-containers", "app"}}) {
    SCOPED_TRACE(key);
    Policy policy;  // strip
    auto out = run(two_keyed_containers(key, value), role(), policy);
    ASSERT_TRUE(out.decision.allowed);
    const json& app = out.pod["spec"]["containers"][0];
    const json& legacy = out.pod["spec"]["containers"][1];
    EXPECT_THAT(env_names(app),
                ::testing::ElementsAre("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"));
    // The container that gets no identity keeps its keys, and so the volume
    // it mounts stays.
    EXPECT_THAT(env_names(legacy),
                ::testing::ElementsAre("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"));
    EXPECT_EQ(legacy["volumeMounts"].size(), 1u);
    ASSERT_EQ(out.pod["spec"]["volumes"].size(), 2u);
    EXPECT_EQ(out.decision.audit_annotations.at(kAuditRemovedKey),
              "app/env/AWS_ACCESS_KEY_ID,app/env/AWS_SECRET_ACCESS_KEY,app/volumeMount/aws");
    EXPECT_EQ(out.decision.audit_annotations.at(kAuditFoundKey),
              "legacy/env/AWS_ACCESS_KEY_ID,legacy/env/AWS_SECRET_ACCESS_KEY,"
              "legacy/volumeMount/aws,volume/aws");
    int kept = 0;
    for (const auto& warning : out.decision.warnings) {
      kept += warning.rfind("kept (container gets no AWS identity): container legacy", 0) == 0;
    }
    EXPECT_EQ(kept, 3);
    // Deny is only for keys the identity replaces.
    policy.managed = ManagedMode::kDeny;
    auto deny = run(two_keyed_containers(key, value), role(), policy);
    EXPECT_FALSE(deny.decision.allowed);
    EXPECT_THAT(deny.decision.denial, ::testing::Not(HasSubstr("legacy")));
  }
  // Only keys in left-out containers: allowed even with deny.
  Policy deny;
  deny.managed = ManagedMode::kDeny;
  json pod = keyed_pod();
  pod["metadata"]["annotations"]["eks.amazonaws.com/skip-containers"] = "app";
  auto out = run(pod, role(), deny);
  EXPECT_TRUE(out.decision.allowed);
  EXPECT_EQ(out.pod["spec"]["containers"][0]["env"].size(), 2u);
}

// Issue #19: keys beside a non-AWS endpoint and volumes strip keeps are set
// aside in every mode: never removed, never denied for, always reported.
json mixed_pod() {
  return json::parse(R"({"metadata":{"name":"p","annotations":{}},"spec":{
    "containers":[
      {"name":"minio","env":[
        {"name":"AWS_ACCESS_KEY_ID","value":"minio"},
        {"name":"AWS_ENDPOINT_URL","value":"http://minio.storage:9000"}]},
      {"name":"app","env":[{"name":"AWS_SECRET_ACCESS_KEY","value":"s"}],
       "volumeMounts":[{"name":"cache","mountPath":"/home/app/.aws"}]}],
    "volumes":[{"name":"cache","emptyDir":{}}]}})");
}

TEST(Decide, KeysForANonAwsEndpointAreKeptInEveryModeThatLooks) {
  for (auto mode : {ManagedMode::kWarn, ManagedMode::kStrip, ManagedMode::kDeny}) {
    Policy policy;
    policy.managed = mode;
    json pod = json::parse(R"({"metadata":{"name":"p","annotations":{}},"spec":{
      "containers":[{"name":"minio","env":[
        {"name":"AWS_ACCESS_KEY_ID","value":"minio"},
        {"name":"AWS_ENDPOINT_URL","value":"http://minio.storage:9000"}]}]}})");
    auto out = run(pod, role(), policy);
    ASSERT_TRUE(out.decision.allowed) << static_cast<int>(mode);
    EXPECT_FALSE(out.decision.stripped);
    EXPECT_EQ(out.decision.action, Action::kWarn);
    EXPECT_THAT(out.decision.action_detail, HasSubstr("non-AWS endpoint"));
    EXPECT_EQ(env_names(out.pod["spec"]["containers"][0])[0], "AWS_ACCESS_KEY_ID");
    EXPECT_EQ(env_names(out.pod["spec"]["containers"][0]).back(), "AWS_WEB_IDENTITY_TOKEN_FILE");
    ASSERT_EQ(out.decision.warnings.size(), 1u);
    // Cut to the API server's limit: the container and variable come first.
    EXPECT_THAT(out.decision.warnings[0],
                ::testing::StartsWith("kept (keys for a non-AWS endpoint, AWS_ENDPOINT_URL "
                                      "minio.storage): container minio: env AWS_ACCESS_KEY_ID"));
    EXPECT_LT(out.decision.warnings[0].size(), 120u);
    EXPECT_EQ(out.decision.audit_annotations,
              (std::map<std::string, std::string>{
                  {kAuditNonAwsEndpointKey, "minio/env/AWS_ACCESS_KEY_ID"}}));
  }
  Policy off;
  off.managed = ManagedMode::kOff;
  auto quiet = run(mixed_pod(), role(), off);
  EXPECT_THAT(quiet.decision.warnings, IsEmpty());
  EXPECT_THAT(quiet.decision.audit_annotations, IsEmpty());
}

TEST(Decide, KeptKeysOfManyEndpointsStayWithinKubernetesLimits) {
  json pod = json::parse(R"({"spec":{"containers":[]}})");
  for (int c = 0; c < 80; ++c) {
    json env = json::array({{{"name", "AWS_ACCESS_KEY_ID"}, {"value", "x"}},
                            {{"name", "AWS_ENDPOINT_URL"},
                             {"value", "http://minio-" + std::to_string(c) + ".storage:9000"}}});
    pod["spec"]["containers"].push_back(
        {{"name", "container-with-a-rather-long-name-" + std::to_string(c)}, {"env", env}});
  }
  auto out = run(pod, role(), Policy{});
  std::size_t total = 0;
  for (const auto& warning : out.decision.warnings) {
    EXPECT_LT(warning.size(), 120u);
    total += warning.size();
  }
  EXPECT_LT(total, 4096u);
  EXPECT_EQ(std::count_if(out.decision.warnings.begin(), out.decision.warnings.end(),
                          [](const std::string& w) { return w.starts_with("... and "); }),
            1);
}

TEST(Decide, DenyRefusesOnlyForRemovableKeysAndListsOnlyThose) {
  Policy policy;
  policy.managed = ManagedMode::kDeny;
  auto out = run(mixed_pod(), role(), policy);
  ASSERT_FALSE(out.decision.allowed);
  EXPECT_THAT(out.decision.denial, HasSubstr("container app: env AWS_SECRET_ACCESS_KEY"));
  EXPECT_EQ(out.decision.denial.find("minio"), std::string::npos);
  EXPECT_EQ(out.decision.denial.find("cache"), std::string::npos);
}

TEST(Decide, StripRemovesTheAwsKeysAndReportsTheRestApart) {
  auto out = run(mixed_pod(), role(), Policy{});
  ASSERT_TRUE(out.decision.allowed);
  EXPECT_TRUE(out.decision.stripped);
  EXPECT_EQ(env_names(out.pod["spec"]["containers"][0])[0], "AWS_ACCESS_KEY_ID");
  EXPECT_EQ(env_names(out.pod["spec"]["containers"][1])[0], "AWS_ROLE_ARN");
  EXPECT_EQ(out.pod["spec"]["containers"][1]["volumeMounts"][0]["name"], "cache");
  EXPECT_EQ(out.decision.audit_annotations[kAuditRemovedKey], "app/env/AWS_SECRET_ACCESS_KEY");
  EXPECT_EQ(out.decision.audit_annotations[kAuditNonAwsEndpointKey], "minio/env/AWS_ACCESS_KEY_ID");
  EXPECT_EQ(out.decision.audit_annotations[kAuditFoundKey], "app/volumeMount/cache");
  EXPECT_THAT(out.decision.warnings.back(),
              HasSubstr("not removed (volume kind strip keeps): container app: volume cache"));
}

TEST(Decide, PodsWithoutIdentityWarnOfNonAwsKeysButAreNotDeniedForThem) {
  Policy policy;
  policy.unmanaged = UnmanagedMode::kDeny;
  json pod = json::parse(R"({"metadata":{"name":"p","annotations":{}},"spec":{
    "containers":[{"name":"minio","env":[
      {"name":"AWS_ACCESS_KEY_ID","value":"minio"},
      {"name":"S3_ENDPOINT","valueFrom":{"configMapKeyRef":{"name":"c","key":"k"}}}]}]}})");
  auto out = run(pod, std::nullopt, policy);
  ASSERT_TRUE(out.decision.allowed);
  ASSERT_EQ(out.decision.warnings.size(), 1u);
  EXPECT_THAT(out.decision.warnings[0],
              HasSubstr("kept (endpoint not verifiable, S3_ENDPOINT): container minio"));
  policy.unmanaged = UnmanagedMode::kAllow;
  EXPECT_THAT(run(pod, std::nullopt, policy).decision.warnings, IsEmpty());
}

TEST(Decide, IdentityProblemsBecomeShortWarningsFirst) {
  std::string text = keyed_pod().dump();
  simdjson::dom::parser parser;
  json pod = keyed_pod();
  pod["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = "on the pod";
  pod["metadata"]["annotations"]["eks.amazonaws.com/token-expiration"] = "soon";
  pod["spec"]["serviceAccountName"] = "app";
  text = pod.dump();
  auto view = mutation::read_pod(parser.parse(text).value());
  ASSERT_TRUE(view.ok());
  std::vector<std::string> problems = {
      "annotation eks.amazonaws.com/role-arn \"x\" is not an IAM role ARN "
      "(arn:aws:iam::<12 digits>:role/<name>) and this text goes on and on past the limit"};
  Decision decision = decide(*view, lookup_of(role(), problems), Config{}, 0.0);
  ASSERT_EQ(decision.problems.size(), 3u);
  EXPECT_EQ(decision.problem_warnings, 3u);
  EXPECT_THAT(decision.problems[0], ::testing::StartsWith("ServiceAccount app: annotation"));
  EXPECT_EQ(decision.problems[1],
            "Pod annotation eks.amazonaws.com/role-arn belongs on the ServiceAccount: here it is "
            "ignored");
  EXPECT_THAT(decision.problems[2], HasSubstr("token-expiration \"soon\" is not a valid number"));
  for (std::size_t i = 0; i < decision.warnings.size(); ++i) {
    EXPECT_LT(decision.warnings[i].size(), 120u) << decision.warnings[i];
  }
  EXPECT_THAT(decision.warnings[0], ::testing::EndsWith("..."));
  EXPECT_THAT(decision.warnings[3], HasSubstr("removed container app"));
  // Without an identity, the ServiceAccount's problems still reach the Pod.
  Decision none = decide(*view, lookup_of(std::nullopt, problems), Config{}, 0.0);
  EXPECT_EQ(none.problems.size(), 2u);
  EXPECT_EQ(none.warnings.size(), 2u);
}

// Regression: the opt-out's note was overwritten by the injection's notes
// (`decision.notes = std::move(plan.notes)`), so the log never said why the
// keys stayed. Both must be there.
TEST(Decide, OptOutNoteSurvivesTheInjectionsNotes) {
  json pod = keyed_pod();
  pod["metadata"]["name"] = std::string(70, 'n');  // the session name gets a note
  pod["metadata"]["annotations"]["eks.amazonaws.com/keep-static-credentials"] = "true";
  identity::Identity id = role();
  id.role_session_name = true;
  Policy policy;
  policy.allow_opt_out = true;
  auto out = run(pod, id, policy);
  ASSERT_TRUE(out.decision.opted_out);
  EXPECT_THAT(
      out.decision.notes,
      ::testing::Contains(HasSubstr("opts out with eks.amazonaws.com/keep-static-credentials")));
  EXPECT_THAT(out.decision.notes, ::testing::Contains(HasSubstr("AWS_ROLE_SESSION_NAME")));
  EXPECT_EQ(out.decision.action, Action::kWarn);
  EXPECT_THAT(out.decision.action_detail, HasSubstr("keep-static-credentials"));
}

// The verdict audit prints is the decision's action, for every mode.
TEST(Decide, ActionNamesWhatTheWebhookDoes) {
  struct Case {
    bool identity;
    ManagedMode managed;
    UnmanagedMode unmanaged;
    Action review, audit;  // the action in each scope
  };
  const Case cases[] = {
      {true, ManagedMode::kStrip, UnmanagedMode::kAllow, Action::kStrip, Action::kStrip},
      {true, ManagedMode::kWarn, UnmanagedMode::kAllow, Action::kWarn, Action::kWarn},
      {true, ManagedMode::kDeny, UnmanagedMode::kAllow, Action::kDeny, Action::kDeny},
      {true, ManagedMode::kOff, UnmanagedMode::kDeny, Action::kNone, Action::kIgnore},
      {false, ManagedMode::kStrip, UnmanagedMode::kAllow, Action::kNone, Action::kAllow},
      {false, ManagedMode::kStrip, UnmanagedMode::kWarn, Action::kWarn, Action::kWarn},
      {false, ManagedMode::kDeny, UnmanagedMode::kDeny, Action::kDeny, Action::kDeny},
  };
  std::string text = keyed_pod().dump();
  simdjson::dom::parser parser;
  auto view = mutation::read_pod(parser.parse(text).value());
  ASSERT_TRUE(view.ok());
  for (const auto& c : cases) {
    Config config;
    config.static_credentials.managed = c.managed;
    config.static_credentials.unmanaged = c.unmanaged;
    auto lookup = lookup_of(c.identity ? std::optional(role()) : std::nullopt);
    auto review = decide(*view, lookup, config, 0.0, Scope::kReview);
    auto audit = decide(*view, lookup, config, 0.0, Scope::kAudit);
    SCOPED_TRACE(std::string(c.identity ? "identity, " : "no identity, ") +
                 std::string(action_name(c.audit)));
    EXPECT_EQ(review.action, c.review);
    EXPECT_EQ(audit.action, c.audit);
    // Audit sees every finding; what the webhook does is the same in both.
    EXPECT_EQ(audit.findings.size(), 4u);
    EXPECT_EQ(review.allowed, audit.allowed);
    EXPECT_EQ(review.warnings, audit.warnings);
    EXPECT_EQ(review.patch.text(), audit.patch.text());
    EXPECT_EQ(review.audit_annotations, audit.audit_annotations);
  }
}

// Keys only in a container left out of the identity: the webhook warns and
// keeps them, whatever the mode; audit said "strip" before issue 22.
TEST(Decide, KeysOnlyInContainersLeftOutAreAWarningNotAStrip) {
  json pod = keyed_pod();
  pod["metadata"]["annotations"]["eks.amazonaws.com/skip-containers"] = "app";
  pod["spec"]["containers"].push_back({{"name", "main"}});
  for (ManagedMode mode : {ManagedMode::kStrip, ManagedMode::kDeny}) {
    Policy policy;
    policy.managed = mode;
    auto out = run(pod, role(), policy);
    EXPECT_TRUE(out.decision.allowed);
    EXPECT_EQ(out.decision.action, Action::kWarn);
    EXPECT_THAT(out.decision.action_detail, HasSubstr("gets no AWS identity"));
    EXPECT_EQ(out.decision.kept.size(), out.decision.findings.size());
    EXPECT_EQ(out.decision.removed, 0u);
    EXPECT_EQ(out.pod["spec"]["containers"][0]["env"].size(), 2u);  // the keys stay
  }
}

TEST(Decide, JitterOutsideItsRangeCountsAsZero) {
  std::string text = R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]}})";
  simdjson::dom::parser parser;
  auto view = mutation::read_pod(parser.parse(text).value());
  ASSERT_TRUE(view.ok());
  auto lookup = lookup_of(role());
  lookup.identity->mode = identity::Mode::kContainerCredentials;
  std::string zero = decide(*view, lookup, Config{}, 0.0).patch.text();
  for (double jitter : {std::nan(""), -0.5, 1.0, 7.0}) {
    EXPECT_EQ(decide(*view, lookup, Config{}, jitter).patch.text(), zero) << jitter;
  }
  EXPECT_NE(decide(*view, lookup, Config{}, 0.9).patch.text(), zero);
}

TEST(DecisionNamespace, TheGivenOneThenThePodsThenTheFallback) {
  std::string text = R"({"metadata":{"namespace":"team"},"spec":{"containers":[]}})";
  simdjson::dom::parser parser;
  auto pod = mutation::read_pod(parser.parse(text).value());
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(decision_namespace("review-ns", *pod, "default"), "review-ns");
  EXPECT_EQ(decision_namespace("", *pod, "default"), "team");
  std::string bare = R"({"spec":{"containers":[]}})";
  simdjson::dom::parser parser2;
  auto none = mutation::read_pod(parser2.parse(bare).value());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(decision_namespace("", *none, "default"), "default");
  EXPECT_EQ(decision_namespace("", *none, ""), "");
}

}  // namespace
}  // namespace irsa::decision
