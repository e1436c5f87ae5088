#include "oidc/trust_policy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace irsa::oidc {
namespace {

using nlohmann::json;

Provider provider() {
  return *parse_provider_arn("arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1");
}

ServiceAccountRef account(const char* ns, const char* name) {
  auto ref = make_service_account_ref(ns, name, true);
  EXPECT_TRUE(ref) << ref.error();
  return *ref;
}

TEST(TrustPolicy, OneServiceAccountGetsStringEqualsOnSubAndAud) {
  json policy = render_trust_policy(provider(), {account("shop", "orders")}, {"sts.amazonaws.com"});
  EXPECT_EQ(policy, json::parse(R"({
    "Version": "2012-10-17",
    "Statement": [{
      "Effect": "Allow",
      "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {"StringEquals": {
        "oidc.example.com/c1:sub": "system:serviceaccount:shop:orders",
        "oidc.example.com/c1:aud": "sts.amazonaws.com"}}
    }]})"));
}

TEST(TrustPolicy, SeveralExactAccountsShareOneStatementAsAList) {
  json policy = render_trust_policy(
      provider(),
      {account("shop", "orders"), account("billing", "orders"), account("shop", "orders")},
      {"sts.amazonaws.com"});
  ASSERT_EQ(policy["Statement"].size(), 1u);
  EXPECT_EQ(policy["Statement"][0]["Condition"]["StringEquals"]["oidc.example.com/c1:sub"],
            json::parse(R"(["system:serviceaccount:shop:orders",
                            "system:serviceaccount:billing:orders"])"));
}

TEST(TrustPolicy, WildcardNamesGetTheirOwnStringLikeStatement) {
  json policy = render_trust_policy(provider(), {account("shop", "orders"), account("web", "*")},
                                    {"sts.amazonaws.com", "other"});
  ASSERT_EQ(policy["Statement"].size(), 2u);
  const json& like = policy["Statement"][1]["Condition"];
  EXPECT_EQ(like["StringLike"]["oidc.example.com/c1:sub"], "system:serviceaccount:web:*");
  EXPECT_EQ(like["StringEquals"]["oidc.example.com/c1:aud"], json::parse(R"(["sts.amazonaws.com",
                                                                             "other"])"));
  EXPECT_FALSE(like["StringEquals"].contains("oidc.example.com/c1:sub"));
}

TEST(ServiceAccountRef, ChecksKubernetesNames) {
  EXPECT_TRUE(make_service_account_ref("kube-system", "aws-node.v2", false));
  EXPECT_TRUE(parse_service_account_ref("shop/orders", false));
  EXPECT_TRUE(make_service_account_ref("team-*", "*", true));
  EXPECT_FALSE(make_service_account_ref("team-*", "x", false));
  EXPECT_FALSE(make_service_account_ref("Shop", "orders", false));
  EXPECT_FALSE(make_service_account_ref("shop.eu", "orders", false));
  EXPECT_FALSE(make_service_account_ref("shop", "", false));
  EXPECT_FALSE(make_service_account_ref("shop", "-orders", false));
  EXPECT_FALSE(make_service_account_ref("shop", "or:ders", false));
  EXPECT_FALSE(parse_service_account_ref("orders", false));
  EXPECT_FALSE(parse_service_account_ref("a/b/c", false));
}

}  // namespace
}  // namespace irsa::oidc
