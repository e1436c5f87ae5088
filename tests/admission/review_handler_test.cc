// ReviewHandler end to end on bodies: a real registry and resolver, the real
// mutation core, both API versions, and every way a body can be wrong.
#include "admission/review_handler.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

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

TEST(OutcomeName, NamesEveryOutcome) {
  EXPECT_EQ(outcome_name(Outcome::kMutated), "mutated");
  EXPECT_EQ(outcome_name(Outcome::kUnchanged), "unchanged");
  EXPECT_EQ(outcome_name(Outcome::kDenied), "denied");
  EXPECT_EQ(outcome_name(Outcome::kBadRequest), "bad_request");
}

}  // namespace
}  // namespace irsa::admission
