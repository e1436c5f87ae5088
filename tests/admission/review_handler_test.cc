// ReviewHandler end to end on bodies: a real registry and resolver, the real
// mutation core, both API versions, and every way a body can be wrong.
#include "admission/review_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "identity/role_mapping.h"
#include "log/log.h"

namespace irsa::admission {
namespace {

using nlohmann::json;

constexpr char kRoleArn[] = "arn:aws:iam::111122223333:role/app";
constexpr char kMountPath[] = "/var/run/secrets/eks.amazonaws.com/serviceaccount";

std::string base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) ADD_FAILURE() << "not base64: " << c;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

json pod(std::string_view service_account = "app") {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "web"}, {"namespace", "team-a"}}},
      {"spec",
       {{"serviceAccountName", service_account},
        {"initContainers", {{{"name", "init"}, {"image", "busybox"}}}},
        {"containers",
         {{{"name", "app"}, {"image", "nginx"}, {"env", {{{"name", "A"}, {"value", "1"}}}}},
          {{"name", "sidecar"}, {"image", "envoy"}}}}}},
  };
}

json review(const json& object, std::string_view api_version = "admission.k8s.io/v1") {
  return {
      {"apiVersion", api_version},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "b8c1a7e2-0000-4000-8000-000000000001"},
        {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
        {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
        {"namespace", "team-a"},
        {"operation", "CREATE"},
        {"object", object}}},
  };
}

class ReviewHandlerTest : public ::testing::Test {
 protected:
  ReviewHandlerTest() : resolver_(registry_, identity::Defaults{}) {
    identity::ServiceAccountSettings annotated;
    annotated.role_arn = kRoleArn;
    registry_.upsert("team-a", "app", annotated);
    registry_.upsert("team-a", "plain", identity::ServiceAccountSettings{});
  }

  HandleResult handle(const json& body) const { return handler_.handle(body.dump()); }

  // The response of a 200 answer.
  static json response_of(const HandleResult& result) {
    EXPECT_EQ(result.http_status, 200) << result.body;
    json out = json::parse(result.body);
    EXPECT_EQ(out["kind"], "AdmissionReview");
    return out;
  }

  // `object` with the answer's patch applied (an RFC 6902 implementation
  // other than the one that built it: nlohmann's).
  static json patched(const json& object, const json& response) {
    EXPECT_EQ(response["patchType"], "JSONPatch");
    json patch = json::parse(base64_decode(response["patch"].get<std::string>()));
    EXPECT_TRUE(patch.is_array());
    return object.patch(patch);
  }

  static void expect_identity_injected(const json& mutated) {
    const json& volumes = mutated["spec"]["volumes"];
    ASSERT_EQ(volumes.size(), 1u);
    EXPECT_EQ(volumes[0]["name"], "aws-iam-token");
    EXPECT_EQ(
        volumes[0]["projected"]["sources"][0]["serviceAccountToken"],
        json({{"audience", "sts.amazonaws.com"}, {"expirationSeconds", 86400}, {"path", "token"}}));
    for (const char* list : {"initContainers", "containers"}) {
      for (const json& container : mutated["spec"][list]) {
        json names = json::array();
        for (const json& env : container["env"]) names.push_back(env["name"]);
        EXPECT_NE(std::find(names.begin(), names.end(), "AWS_ROLE_ARN"), names.end()) << container;
        EXPECT_NE(std::find(names.begin(), names.end(), "AWS_WEB_IDENTITY_TOKEN_FILE"), names.end())
            << container;
        EXPECT_NE(
            std::find(
                container["volumeMounts"].begin(), container["volumeMounts"].end(),
                json({{"name", "aws-iam-token"}, {"mountPath", kMountPath}, {"readOnly", true}})),
            container["volumeMounts"].end())
            << container;
      }
    }
  }

  identity::ServiceAccountRegistry registry_;
  identity::IdentityResolver resolver_;
  ReviewHandler handler_{resolver_, mutation::Options{}, credentials::Policy{}, [] { return 0.0; }};
};

TEST_F(ReviewHandlerTest, MutatesAPodCreateInV1) {
  HandleResult result = handle(review(pod()));
  EXPECT_EQ(result.outcome, Outcome::kMutated);
  EXPECT_EQ(result.pod_name, "web");
  EXPECT_EQ(result.namespace_name, "team-a");
  EXPECT_EQ(result.service_account, "app");
  json out = response_of(result);
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(out["response"]["uid"], "b8c1a7e2-0000-4000-8000-000000000001");
  EXPECT_EQ(out["response"]["allowed"], true);
  json mutated = patched(pod(), out["response"]);
  expect_identity_injected(mutated);
  // What was there stays, first.
  EXPECT_EQ(mutated["spec"]["containers"][0]["env"][0], json({{"name", "A"}, {"value", "1"}}));
}

TEST_F(ReviewHandlerTest, MutatesAPodCreateInV1beta1AndEchoesIt) {
  json out = response_of(handle(review(pod(), "admission.k8s.io/v1beta1")));
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1beta1");
  EXPECT_EQ(out["response"]["uid"], "b8c1a7e2-0000-4000-8000-000000000001");
  expect_identity_injected(patched(pod(), out["response"]));
}

TEST_F(ReviewHandlerTest, ASecondReviewOfTheMutatedPodChangesNothing) {
  json mutated = patched(pod(), response_of(handle(review(pod())))["response"]);
  HandleResult again = handle(review(mutated));
  EXPECT_EQ(again.outcome, Outcome::kUnchanged);
  json out = response_of(again);
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_FALSE(out["response"].contains("patch"));
  EXPECT_FALSE(out["response"].contains("patchType"));
}

TEST_F(ReviewHandlerTest, AServiceAccountWithoutRoleGivesNoPatch) {
  HandleResult result = handle(review(pod("plain")));
  EXPECT_EQ(result.outcome, Outcome::kUnchanged);
  EXPECT_EQ(result.service_account, "plain");
  json out = response_of(result);
  EXPECT_EQ(out["response"],
            json({{"uid", "b8c1a7e2-0000-4000-8000-000000000001"}, {"allowed", true}}));
}

TEST_F(ReviewHandlerTest, AnUnknownServiceAccountGivesNoPatch) {
  HandleResult result = handle(review(pod("nobody")));
  EXPECT_EQ(result.outcome, Outcome::kUnchanged);
  EXPECT_EQ(result.reason, "ServiceAccount unknown");
  EXPECT_FALSE(response_of(result)["response"].contains("patch"));
}

// What AWS's pod_identity_webhook_pod_count and _missing_sa_count count.
TEST_F(ReviewHandlerTest, SaysWhichIdentityResolvedEvenWhenNothingChanges) {
  HandleResult first = handle(review(pod()));
  EXPECT_EQ(first.resolved_mode, identity::Mode::kWebIdentity);
  EXPECT_FALSE(first.service_account_missing);
  // The mutated Pod again: no patch, but AWS's counter counts it too.
  HandleResult again = handle(review(patched(pod(), response_of(first)["response"])));
  EXPECT_EQ(again.outcome, Outcome::kUnchanged);
  EXPECT_EQ(again.resolved_mode, identity::Mode::kWebIdentity);
}

TEST_F(ReviewHandlerTest, SaysWhenTheServiceAccountWasMissingFromTheCache) {
  HandleResult unknown = handle(review(pod("nobody")));
  EXPECT_TRUE(unknown.service_account_missing);
  EXPECT_FALSE(unknown.resolved_mode);
  // Known without a role: in the cache, so not missing (AWS's fix #247).
  HandleResult plain = handle(review(pod("plain")));
  EXPECT_FALSE(plain.service_account_missing);
  EXPECT_FALSE(plain.resolved_mode);
  // Not in the cache but in the ConfigMap mapping: found, as in AWS's cache.
  auto mapping = std::make_shared<identity::RoleMapping>();
  identity::ServiceAccountSettings mapped_settings;
  mapped_settings.role_arn = "arn:aws:iam::111122223333:role/mapped";
  mapping->add("team-a", "mapped", mapped_settings);
  resolver_.set_role_mapping(mapping);
  HandleResult mapped = handle(review(pod("mapped")));
  EXPECT_FALSE(mapped.service_account_missing);
  EXPECT_EQ(mapped.resolved_mode, identity::Mode::kWebIdentity);
}

TEST_F(ReviewHandlerTest, FallsBackToThePodNamespaceAndNamesGenerateNamePods) {
  json object = pod();
  object["metadata"] = {{"generateName", "web-7d9f-"}, {"namespace", "team-a"}};
  json body = review(object);
  body["request"].erase("namespace");
  HandleResult result = handle(body);
  EXPECT_EQ(result.outcome, Outcome::kMutated);
  EXPECT_EQ(result.namespace_name, "team-a");
  EXPECT_EQ(result.pod_name, "web-7d9f-");
}

TEST_F(ReviewHandlerTest, TheRequestNamespaceWinsOverThePods) {
  json object = pod();
  object["metadata"]["namespace"] = "elsewhere";
  HandleResult result = handle(review(object));
  EXPECT_EQ(result.namespace_name, "team-a");
  EXPECT_EQ(result.outcome, Outcome::kMutated);
}

TEST_F(ReviewHandlerTest, LeavesOtherOperationsAndKindsAlone) {
  json update = review(pod());
  update["request"]["operation"] = "UPDATE";
  HandleResult result = handle(update);
  EXPECT_EQ(result.outcome, Outcome::kUnchanged);
  EXPECT_FALSE(response_of(result)["response"].contains("patch"));

  json deployment = review({{"kind", "Deployment"}});
  deployment["request"]["kind"] = {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}};
  result = handle(deployment);
  EXPECT_EQ(result.outcome, Outcome::kUnchanged);
  EXPECT_EQ(response_of(result)["response"]["allowed"], true);

  json binding = review(pod());
  binding["request"]["subResource"] = "binding";
  EXPECT_EQ(handle(binding).outcome, Outcome::kUnchanged);
}

TEST_F(ReviewHandlerTest, DeniesAReviewWhoseObjectIsNotAPod) {
  for (const json& object :
       {json({{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"data", {{"a", "b"}}}}),
        json("a string"), json::array(), json({{"metadata", {{"name", "x"}}}})}) {
    HandleResult result = handle(review(object));
    EXPECT_EQ(result.outcome, Outcome::kDenied) << object;
    json out = response_of(result);
    EXPECT_EQ(out["response"]["uid"], "b8c1a7e2-0000-4000-8000-000000000001");
    EXPECT_EQ(out["response"]["allowed"], false);
    EXPECT_EQ(out["response"]["status"]["code"], 400);
    EXPECT_FALSE(out["response"]["status"]["message"].get<std::string>().empty());
    EXPECT_FALSE(out["response"].contains("patch"));
  }
}

TEST_F(ReviewHandlerTest, DeniesAPodCreateWithoutObject) {
  json body = review(pod());
  body["request"].erase("object");
  HandleResult result = handle(body);
  EXPECT_EQ(result.outcome, Outcome::kDenied);
  EXPECT_EQ(response_of(result)["response"]["status"]["code"], 400);
}

TEST_F(ReviewHandlerTest, AnswersHttp400ToBodiesThatAreNotReviews) {
  std::string truncated = review(pod()).dump();
  truncated.resize(truncated.size() - 10);
  for (std::string body : {std::string("garbage"), std::string(), truncated, std::string("[]"),
                           std::string(R"({"apiVersion":"v1","kind":"Pod"})"),
                           std::string(R"({"apiVersion":"admission.k8s.io/v1",)"
                                       R"("kind":"AdmissionReview","request":{}})")}) {
    HandleResult result = handler_.handle(body);
    EXPECT_EQ(result.http_status, 400) << body;
    EXPECT_EQ(result.outcome, Outcome::kBadRequest) << body;
    ASSERT_FALSE(result.body.empty());
    EXPECT_EQ(result.body.find('\n'), result.body.size() - 1) << "one line: " << result.body;
  }
}

TEST_F(ReviewHandlerTest, ReadsLargeReviewsToo) {
  json object = pod();
  object["metadata"]["annotations"] = {{"big", std::string(400 * 1024, 'x')}};
  EXPECT_EQ(handle(review(object)).outcome, Outcome::kMutated);
  // And the per-thread parser still works afterwards.
  EXPECT_EQ(handle(review(pod())).outcome, Outcome::kMutated);
}

TEST_F(ReviewHandlerTest, TurnsAnExceptionIntoADenial) {
  ReviewHandler throwing(resolver_, mutation::Options{}, credentials::Policy{},
                         []() -> double { throw std::runtime_error("no randomness"); });
  HandleResult result = throwing.handle(review(pod()).dump());
  EXPECT_EQ(result.outcome, Outcome::kDenied);
  json out = response_of(result);
  EXPECT_EQ(out["response"]["uid"], "b8c1a7e2-0000-4000-8000-000000000001");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 400);
  EXPECT_NE(out["response"]["status"]["message"].get<std::string>().find("no randomness"),
            std::string::npos);
}

// `body` with the first `marker` followed by `marker` then `twin`: the same
// key twice.
std::string doubled(std::string body, const std::string& marker, const std::string& twin) {
  auto at = body.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  if (at != std::string::npos) body.insert(at + marker.size(), "," + twin);
  return body;
}

TEST_F(ReviewHandlerTest, RefusesDuplicateServiceAccountName) {
  // The webhook would read "plain" (no role), the API server "app".
  std::string body = doubled(review(pod("plain")).dump(), R"("serviceAccountName":"plain")",
                             R"("serviceAccountName":"app")");
  HandleResult result = handler_.handle(body);
  EXPECT_EQ(result.outcome, Outcome::kDenied);
  EXPECT_EQ(result.refusal, Refusal::kDuplicateKey);
  json out = response_of(result);
  EXPECT_EQ(out["response"]["uid"], "b8c1a7e2-0000-4000-8000-000000000001");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 400);
  EXPECT_THAT(out["response"]["status"]["message"].get<std::string>(),
              ::testing::HasSubstr(
                  R"(duplicate key "serviceAccountName" at /request/object/spec: the API server)"));
  EXPECT_FALSE(out["response"].contains("patch"));
}

TEST_F(ReviewHandlerTest, RefusesTwoContainersKeysInStaticCredentialDenyMode) {
  credentials::Policy policy;
  policy.managed = credentials::ManagedMode::kDeny;
  ReviewHandler deny_mode(resolver_, mutation::Options{}, policy, [] { return 0.0; });
  // The first `containers` is clean, the last (the API server's) has keys.
  json keyed = {{{"name", "app"},
                 {"image", "nginx"},
                 {"env", {{{"name", "AWS_SECRET_ACCESS_KEY"}, {"value", "secret"}}}}}};
  json clean = {{{"name", "app"}, {"image", "nginx"}}};
  json object = pod();
  object["spec"] = {{"serviceAccountName", "app"}, {"containers", clean}};
  std::string body = doubled(review(object).dump(), R"("containers":)" + clean.dump(),
                             R"("containers":)" + keyed.dump());
  HandleResult result = deny_mode.handle(body);
  json out = response_of(result);
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 400);
  EXPECT_THAT(out["response"]["status"]["message"].get<std::string>(),
              ::testing::HasSubstr(R"(duplicate key "containers" at /request/object/spec)"));
  // The keyed Pod alone is refused by the policy, as before.
  object["spec"]["containers"] = keyed;
  EXPECT_EQ(response_of(deny_mode.handle(review(object).dump()))["response"]["status"]["code"],
            403);
}

TEST_F(ReviewHandlerTest, RefusesAKeyTwiceAnywhereInThePodOrRequest) {
  const std::string body = review(pod()).dump();
  for (auto [marker, twin, where] :
       {std::tuple<std::string, std::string, std::string>{
            R"("value":"1")", R"("value":"2")", "/request/object/spec/containers/0/env/0"},
        {R"("name":"web")", R"("name":"other")", "/request/object/metadata"},
        {R"("operation":"CREATE")", R"("operation":"UPDATE")", "/request"},
        {R"("group":"")", R"("group":"apps")", "/request/kind"}}) {
    HandleResult result = handler_.handle(doubled(body, marker, twin));
    json out = response_of(result);
    EXPECT_EQ(out["response"]["allowed"], false) << marker;
    EXPECT_THAT(out["response"]["status"]["message"].get<std::string>(),
                ::testing::HasSubstr(" at " + where + ":"))
        << marker;
  }
}

TEST_F(ReviewHandlerTest, AnswersHttp400ToADuplicateKeyInTheEnvelope) {
  std::string body = review(pod()).dump();
  std::string twice = R"({"kind":"AdmissionReview",)" + body.substr(1);
  HandleResult result = handler_.handle(twice);
  EXPECT_EQ(result.http_status, 400);
  EXPECT_EQ(result.outcome, Outcome::kBadRequest);
  EXPECT_THAT(result.body, ::testing::HasSubstr(R"(duplicate key "kind" at the top level)"));
  EXPECT_EQ(result.body.find('\n'), result.body.size() - 1);
}

class ReplyBudgetTest : public ReviewHandlerTest {
 protected:
  static json pod_with_containers(int count) {
    json object = pod();
    object["spec"]["containers"] = json::array();
    for (int i = 0; i < count; ++i) {
      object["spec"]["containers"].push_back({{"name", "c" + std::to_string(i)}, {"image", "x"}});
    }
    return object;
  }
  ReviewHandler budgeted(std::size_t max_response_bytes) const {
    return ReviewHandler(
        resolver_, mutation::Options{}, credentials::Policy{}, [] { return 0.0; }, {},
        ReviewLimits{max_response_bytes});
  }
};

TEST_F(ReplyBudgetTest, RefusesAReplyOverTheBudgetWithItsReason) {
  ReviewHandler handler = budgeted(20000);
  log::configure(log::Format::kText, 0);
  ::testing::internal::CaptureStderr();
  HandleResult result = handler.handle(review(pod_with_containers(300)).dump());
  std::string log_text = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(result.outcome, Outcome::kDenied);
  EXPECT_EQ(result.refusal, Refusal::kResponseTooLarge);
  EXPECT_LT(result.body.size(), 2000u);
  json out = response_of(result);
  EXPECT_EQ(out["response"]["uid"], "b8c1a7e2-0000-4000-8000-000000000001");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 413);
  const std::string message = out["response"]["status"]["message"];
  for (const char* part : {"response too large", "300 containers", "1 init containers",
                           "--max-response-bytes of 20000 bytes", "raise --max-response-bytes"}) {
    EXPECT_THAT(message, ::testing::HasSubstr(part));
  }
  EXPECT_FALSE(out["response"].contains("patch"));
  // One warning line, even at verbosity 0.
  EXPECT_THAT(log_text, ::testing::HasSubstr("warning review refused: response too large"));
  EXPECT_EQ(std::count(log_text.begin(), log_text.end(), '\n'), 1) << log_text;
}

TEST_F(ReplyBudgetTest, AnswersAReviewJustUnderTheBudgetNormally) {
  const std::string body = review(pod_with_containers(40)).dump();
  HandleResult unlimited = budgeted(0).handle(body);
  ASSERT_EQ(unlimited.outcome, Outcome::kMutated);
  const std::size_t size = unlimited.body.size();
  HandleResult exact = budgeted(size).handle(body);
  EXPECT_EQ(exact.outcome, Outcome::kMutated) << exact.reason;
  EXPECT_TRUE(exact.body == unlimited.body);
  HandleResult over = budgeted(size - 1).handle(body);
  EXPECT_EQ(over.outcome, Outcome::kDenied);
  EXPECT_EQ(over.refusal, Refusal::kResponseTooLarge);
}

TEST_F(ReplyBudgetTest, TheDefaultBudgetAnswersUsualPods) {
  HandleResult result = handler_.handle(review(pod_with_containers(50)).dump());
  EXPECT_EQ(result.outcome, Outcome::kMutated);
  EXPECT_EQ(result.refusal, Refusal::kNone);
}

TEST_F(ReviewHandlerTest, TryHandleAnswersACacheHitWithoutWaiting) {
  std::atomic<int> calls{0};
  UnknownServiceAccounts unknown;
  unknown.lookup = [&](std::string_view, std::string_view) {
    ++calls;
    return std::optional<identity::ServiceAccountSettings>();
  };
  ReviewHandler handler(
      resolver_, mutation::Options{}, credentials::Policy{}, [] { return 0.0; }, unknown);
  auto result = handler.try_handle(review(pod()).dump());
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, Outcome::kMutated);
  EXPECT_EQ(result->body, handler.handle(review(pod()).dump()).body);
  // Whatever needs no lookup is answered too: bad bodies, other kinds.
  EXPECT_EQ(handler.try_handle("garbage")->http_status, 400);
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(ReviewHandlerTest, TryHandleLeavesACacheMissWithALookupToHandle) {
  std::atomic<int> calls{0};
  UnknownServiceAccounts unknown;
  unknown.lookup = [&](std::string_view, std::string_view) {
    ++calls;
    identity::ServiceAccountSettings settings;
    settings.role_arn = kRoleArn;
    return std::optional<identity::ServiceAccountSettings>(settings);
  };
  ReviewHandler handler(
      resolver_, mutation::Options{}, credentials::Policy{}, [] { return 0.0; }, unknown);
  const std::string body = review(pod("fresh")).dump();
  log::configure(log::Format::kText, 3);
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(handler.try_handle(body).has_value());
  std::string log_text = ::testing::internal::GetCapturedStderr();
  log::configure(log::Format::kText, 0);
  EXPECT_EQ(calls.load(), 0) << "try_handle must not call the lookup";
  EXPECT_EQ(log_text, "") << "nothing logged for a review not answered";
  HandleResult result = handler.handle(body);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(result.outcome, Outcome::kMutated);
}

TEST_F(ReviewHandlerTest, TryHandleAnswersACacheMissWithoutALookup) {
  auto result = handler_.try_handle(review(pod("nobody")).dump());
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, Outcome::kUnchanged);
  EXPECT_EQ(result->reason, "ServiceAccount unknown");
}

TEST_F(ReviewHandlerTest, LargeReviewsTakeTurnsAndTryHandleDoesNotWaitForOne) {
  // Two large reviews hold both slots, blocked in a lookup until released.
  std::mutex mutex;
  std::condition_variable changed;
  int waiting = 0;
  bool release = false;
  UnknownServiceAccounts unknown;
  unknown.lookup = [&](std::string_view, std::string_view) {
    std::unique_lock lock(mutex);
    ++waiting;
    changed.notify_all();
    changed.wait_for(lock, std::chrono::seconds(20), [&] { return release; });
    return std::optional<identity::ServiceAccountSettings>();
  };
  ReviewHandler handler(
      resolver_, mutation::Options{}, credentials::Policy{}, [] { return 0.0; }, unknown,
      ReviewLimits{kDefaultMaxResponseBytes, 2});
  auto large = [](std::string_view service_account) {
    json object = pod(service_account);
    object["metadata"]["annotations"] = {{"big", std::string(300 * 1024, 'x')}};
    return review(object).dump();
  };
  const std::string blocked = large("fresh");
  std::thread first([&] { handler.handle(blocked); });
  std::thread second([&] { handler.handle(blocked); });
  {
    std::unique_lock lock(mutex);
    EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(20), [&] { return waiting == 2; }));
  }
  EXPECT_FALSE(handler.try_handle(large("app")).has_value()) << "a third large review waits";
  auto small = handler.try_handle(review(pod()).dump());
  ASSERT_TRUE(small.has_value()) << "small reviews never wait for large ones";
  EXPECT_EQ(small->outcome, Outcome::kMutated);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  first.join();
  second.join();
  auto after = handler.try_handle(large("app"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->outcome, Outcome::kMutated);
}

TEST(OutcomeName, NamesEveryOutcome) {
  EXPECT_EQ(outcome_name(Outcome::kMutated), "mutated");
  EXPECT_EQ(outcome_name(Outcome::kUnchanged), "unchanged");
  EXPECT_EQ(outcome_name(Outcome::kDenied), "denied");
  EXPECT_EQ(outcome_name(Outcome::kBadRequest), "bad_request");
}

}  // namespace
}  // namespace irsa::admission
