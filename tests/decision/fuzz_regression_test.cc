// Bugs the fuzz targets found (fuzz/regressions/ holds the inputs), each
// reproduced at the unit that had it.
#include <gtest/gtest.h>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "decision/decision.h"
#include "mutation/pod_view.h"

namespace irsa::decision {
namespace {

using nlohmann::json;

Decision decide_on(const json& pod, const credentials::Policy& policy) {
  std::string text = pod.dump();
  simdjson::dom::parser parser;
  auto view = mutation::read_pod(parser.parse(text).value());
  EXPECT_TRUE(view.ok());
  identity::IdentityResolver::Lookup lookup;
  lookup.identity.emplace();
  lookup.identity->role_arn = "arn:aws:iam::111122223333:role/app";
  lookup.identity->audience = "sts.amazonaws.com";
  return decide(*view, lookup, Config{mutation::Options{}, policy}, 0.0);
}

// fuzz/regressions/admission_review-token-volume-clash.json: a Secret volume
// that happens to be called aws-iam-token, mounted at ~/.aws, is stripped as
// static credentials. The injection used to see the name as already present
// and add neither the token volume nor its mount, so the Pod pointed
// AWS_WEB_IDENTITY_TOKEN_FILE at a file that did not exist (no credentials),
// and a second review patched again.
TEST(FuzzRegression, StrippedVolumeWithTheTokenVolumeNameIsInjectedAgain) {
  json pod = json::parse(R"({"metadata":{"name":"p"},"spec":{
    "containers":[{"name":"app","volumeMounts":[{"name":"aws-iam-token","mountPath":"/root/.aws"}]}],
    "volumes":[{"name":"aws-iam-token","secret":{"secretName":"aws"}}]}})");
  credentials::Policy strip;  // default: strip
  Decision decision = decide_on(pod, strip);
  ASSERT_TRUE(decision.allowed);
  ASSERT_TRUE(decision.stripped);
  json mutated = pod.patch(decision.patch.to_json());

  const json& volumes = mutated["spec"]["volumes"];
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_EQ(volumes[0]["name"], "aws-iam-token");
  EXPECT_TRUE(volumes[0].contains("projected")) << volumes.dump();
  const json& mounts = mutated["spec"]["containers"][0]["volumeMounts"];
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0]["mountPath"], "/var/run/secrets/eks.amazonaws.com/serviceaccount");

  // Idempotent: the mutated Pod needs nothing more.
  EXPECT_EQ(decide_on(mutated, strip).patch.to_json(), json::array());
}

}  // namespace
}  // namespace irsa::decision
