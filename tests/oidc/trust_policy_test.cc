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

TEST(TrustPolicy, EachClusterGetsItsOwnStatementsWithItsOwnConditionKeys) {
  Provider blue = provider();
  Provider green =
      *parse_provider_arn("arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2");
  json policy = render_trust_policy(
      {blue, green, blue}, {account("shop", "orders"), account("web", "*")}, {"sts.amazonaws.com"});
  // Two providers (the repeated one once) x (StringEquals, StringLike).
  ASSERT_EQ(policy["Statement"].size(), 4u) << policy.dump(2);
  for (std::size_t i = 0; i < 4; ++i) {
    const json& statement = policy["Statement"][i];
    const std::string host_path = i < 2 ? "oidc.example.com/c1" : "oidc.example.com/c2";
    EXPECT_EQ(statement["Principal"]["Federated"],
              "arn:aws:iam::111122223333:oidc-provider/" + host_path);
    // Only this provider's keys: a statement with another's would need a
    // token carrying both providers' claims.
    for (const auto& [op, keys] : statement["Condition"].items()) {
      for (const auto& [key, value] : keys.items()) {
        EXPECT_EQ(key.rfind(host_path + ":", 0), 0u) << op << " " << key;
      }
    }
  }
  EXPECT_EQ(policy["Statement"][2]["Condition"]["StringEquals"]["oidc.example.com/c2:sub"],
            "system:serviceaccount:shop:orders");
  EXPECT_EQ(policy["Statement"][3]["Condition"]["StringLike"]["oidc.example.com/c2:sub"],
            "system:serviceaccount:web:*");
}

TEST(TrustPolicy, LengthIsCountedAsIamDoesWithoutWhiteSpace) {
  nlohmann::ordered_json policy = render_trust_policy(
      std::vector<Provider>{provider()}, {account("shop", "orders")}, {"sts.amazonaws.com"});
  const std::string compact = policy.dump();
  EXPECT_EQ(iam_policy_length(policy), compact.size());
  EXPECT_LT(compact.size(), policy.dump(2).size());
  // Characters, not bytes.
  nlohmann::ordered_json accented = {{"Sid", "caf\u00e9 au lait"}};
  EXPECT_EQ(iam_policy_length(accented), std::string(R"({"Sid":"caféaulait"})").size() - 1);
}

TEST(TrustPolicy, WarnsWhenThePolicyWillNotFitTheQuota) {
  EXPECT_FALSE(trust_policy_size_warning(2048));
  auto over_default = trust_policy_size_warning(2049);
  ASSERT_TRUE(over_default);
  EXPECT_NE(over_default->find("2049 characters"), std::string::npos) << *over_default;
  EXPECT_NE(over_default->find("default"), std::string::npos) << *over_default;
  EXPECT_NE(over_default->find("4096"), std::string::npos) << *over_default;
  auto over_max = trust_policy_size_warning(4097);
  ASSERT_TRUE(over_max);
  EXPECT_NE(over_max->find("will refuse it."), std::string::npos) << *over_max;
  // Five EKS-like clusters with three exact ServiceAccounts each pass the
  // default quota; the warning is what tells the user.
  std::vector<Provider> clusters;
  for (int i = 0; i < 5; ++i) {
    clusters.push_back(*parse_provider_arn(
        "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/"
        "0123456789ABCDEF0123456789ABCDE" +
        std::to_string(i)));
  }
  auto policy = render_trust_policy(
      clusters, {account("shop", "orders"), account("shop", "billing"), account("web", "front")},
      {"sts.amazonaws.com"});
  EXPECT_GT(iam_policy_length(policy), kTrustPolicyDefaultQuota);
  EXPECT_TRUE(trust_policy_size_warning(iam_policy_length(policy)));
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
