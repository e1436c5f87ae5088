#include "oidc/policy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace irsa::oidc {
namespace {

using nlohmann::json;

constexpr char kArn[] = "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1";

WebIdentityRequest request(std::string sub = "system:serviceaccount:shop:orders",
                           std::vector<std::string> aud = {"sts.amazonaws.com"}) {
  return {*parse_provider_arn(kArn), std::move(sub), std::move(aud), std::nullopt};
}

// A one-statement Allow policy for the provider with `condition`.
json allow_with(const json& condition) {
  json statement = {{"Effect", "Allow"},
                    {"Principal", {{"Federated", kArn}}},
                    {"Action", "sts:AssumeRoleWithWebIdentity"}};
  if (!condition.is_null()) statement["Condition"] = condition;
  return {{"Version", "2012-10-17"}, {"Statement", {statement}}};
}

Verdict verdict_of(const json& policy, const WebIdentityRequest& req = request()) {
  auto decision = evaluate_trust_policy(policy, req);
  EXPECT_TRUE(decision) << decision.error();
  return decision ? decision->verdict : Verdict::kNote;
}

struct ConditionCase {
  const char* name;
  const char* condition;
  Verdict expected;
};

class Conditions : public ::testing::TestWithParam<ConditionCase> {};

TEST_P(Conditions, EvaluateAsIamDoes) {
  const auto& c = GetParam();
  EXPECT_EQ(verdict_of(allow_with(json::parse(c.condition))), c.expected) << c.condition;
}

// sub is system:serviceaccount:shop:orders, aud [sts.amazonaws.com], no amr.
INSTANTIATE_TEST_SUITE_P(
    TrustPolicy, Conditions,
    ::testing::Values(
        ConditionCase{
            "equals",
            R"({"StringEquals": {"oidc.example.com/c1:sub": "system:serviceaccount:shop:orders"}})",
            Verdict::kPass},
        ConditionCase{
            "equals_other",
            R"({"StringEquals": {"oidc.example.com/c1:sub": "system:serviceaccount:shop:orders-api"}})",
            Verdict::kFail},
        ConditionCase{
            "equals_any_of_list",
            R"({"StringEquals": {"oidc.example.com/c1:sub": ["a", "system:serviceaccount:shop:orders"]}})",
            Verdict::kPass},
        ConditionCase{
            "key_case_insensitive",
            R"({"StringEquals": {"OIDC.example.com/C1:SUB": "system:serviceaccount:shop:orders"}})",
            Verdict::kPass},
        ConditionCase{
            "value_case_sensitive",
            R"({"StringEquals": {"oidc.example.com/c1:sub": "system:serviceaccount:shop:ORDERS"}})",
            Verdict::kFail},
        ConditionCase{
            "equals_ignore_case",
            R"({"StringEqualsIgnoreCase": {"oidc.example.com/c1:sub": "system:serviceaccount:shop:ORDERS"}})",
            Verdict::kPass},
        ConditionCase{
            "like_star",
            R"({"StringLike": {"oidc.example.com/c1:sub": "system:serviceaccount:shop:*"}})",
            Verdict::kPass},
        ConditionCase{
            "like_question",
            R"({"StringLike": {"oidc.example.com/c1:sub": "system:serviceaccount:shop:order?"}})",
            Verdict::kPass},
        ConditionCase{
            "like_other_namespace",
            R"({"StringLike": {"oidc.example.com/c1:sub": "system:serviceaccount:web:*"}})",
            Verdict::kFail},
        ConditionCase{
            "not_equals_other",
            R"({"StringNotEquals": {"oidc.example.com/c1:sub": "system:serviceaccount:shop:admin"}})",
            Verdict::kPass},
        ConditionCase{
            "not_equals_same",
            R"({"StringNotEquals": {"oidc.example.com/c1:sub": "system:serviceaccount:shop:orders"}})",
            Verdict::kFail},
        ConditionCase{"not_like_match",
                      R"({"StringNotLike": {"oidc.example.com/c1:sub": "*:shop:*"}})",
                      Verdict::kFail},
        ConditionCase{"not_like_no_match",
                      R"({"StringNotLike": {"oidc.example.com/c1:sub": "*:web:*"}})",
                      Verdict::kPass},
        ConditionCase{
            "all_keys_must_hold",
            R"({"StringEquals": {"oidc.example.com/c1:sub": "system:serviceaccount:shop:orders", "oidc.example.com/c1:aud": "other"}})",
            Verdict::kFail},
        ConditionCase{"aud_equals",
                      R"({"StringEquals": {"oidc.example.com/c1:aud": "sts.amazonaws.com"}})",
                      Verdict::kPass},
        ConditionCase{"amr_absent",
                      R"({"StringEquals": {"oidc.example.com/c1:amr": "authenticated"}})",
                      Verdict::kFail},
        ConditionCase{"amr_absent_if_exists",
                      R"({"StringEqualsIfExists": {"oidc.example.com/c1:amr": "authenticated"}})",
                      Verdict::kPass},
        ConditionCase{"amr_absent_negated",
                      R"({"StringNotEquals": {"oidc.example.com/c1:amr": "unauthenticated"}})",
                      Verdict::kPass},
        ConditionCase{"unsupported_operator", R"({"Bool": {"aws:SecureTransport": "true"}})",
                      Verdict::kUnknown},
        ConditionCase{"unsupported_key", R"({"StringEquals": {"aws:SourceIp": "10.0.0.1"}})",
                      Verdict::kUnknown},
        ConditionCase{"unsupported_provider_key",
                      R"({"StringEquals": {"oidc.example.com/c1:email": "a@b"}})",
                      Verdict::kUnknown},
        ConditionCase{"policy_variable",
                      R"({"StringLike": {"oidc.example.com/c1:sub": "${aws:username}"}})",
                      Verdict::kUnknown},
        ConditionCase{
            "definite_mismatch_beats_unknown",
            R"({"StringEquals": {"oidc.example.com/c1:sub": "x"}, "Null": {"oidc.example.com/c1:amr": "true"}})",
            Verdict::kFail}),
    [](const ::testing::TestParamInfo<ConditionCase>& info) { return info.param.name; });

TEST(TrustPolicyAud, SetOperatorsOnAMultiValuedAud) {
  auto req = request("system:serviceaccount:shop:orders", {"sts.amazonaws.com", "vault"});
  const char* key = "oidc.example.com/c1:aud";
  EXPECT_EQ(verdict_of(allow_with({{"ForAnyValue:StringEquals", {{key, "vault"}}}}), req),
            Verdict::kPass);
  EXPECT_EQ(verdict_of(allow_with({{"ForAnyValue:StringEquals", {{key, "other"}}}}), req),
            Verdict::kFail);
  EXPECT_EQ(verdict_of(allow_with({{"ForAllValues:StringEquals", {{key, "vault"}}}}), req),
            Verdict::kFail);
  EXPECT_EQ(
      verdict_of(
          allow_with({{"ForAllValues:StringEquals", {{key, {"vault", "sts.amazonaws.com"}}}}}),
          req),
      Verdict::kPass);
  EXPECT_EQ(verdict_of(allow_with({{"ForAllValues:StringLike", {{key, "*"}}}}), req),
            Verdict::kPass);
  // Without a set operator, IAM's reading of several values is not claimed.
  EXPECT_EQ(verdict_of(allow_with({{"StringEquals", {{key, "vault"}}}}), req), Verdict::kUnknown);
}

TEST(TrustPolicyAud, ForAllValuesPassesOnAnAbsentKeyAndForAnyValueFails) {
  auto req = request("system:serviceaccount:shop:orders", {});
  const char* key = "oidc.example.com/c1:aud";
  EXPECT_EQ(verdict_of(allow_with({{"ForAllValues:StringEquals", {{key, "x"}}}}), req),
            Verdict::kPass);
  EXPECT_EQ(verdict_of(allow_with({{"ForAnyValue:StringEquals", {{key, "x"}}}}), req),
            Verdict::kFail);
}

TEST(TrustPolicyStatements, ExplicitDenyWinsOverAnAllow) {
  json policy = allow_with(nullptr);
  policy["Statement"].push_back(
      {{"Sid", "NoOrders"},
       {"Effect", "Deny"},
       {"Principal", {{"Federated", kArn}}},
       {"Action", "sts:*"},
       {"Condition", {{"StringLike", {{"oidc.example.com/c1:sub", "*:orders"}}}}}});
  auto decision = evaluate_trust_policy(policy, request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->verdict, Verdict::kFail);
  EXPECT_NE(decision->reason.find("Sid NoOrders"), std::string::npos) << decision->reason;
  EXPECT_NE(decision->reason.find("explicit Deny"), std::string::npos);
  // The Deny does not apply to another account.
  EXPECT_EQ(verdict_of(policy, request("system:serviceaccount:shop:billing")), Verdict::kPass);
}

TEST(TrustPolicyStatements, ADenyThatMayApplyMakesTheVerdictUnknown) {
  json policy = allow_with(nullptr);
  policy["Statement"].push_back({{"Effect", "Deny"},
                                 {"Principal", "*"},
                                 {"Action", "*"},
                                 {"Condition", {{"IpAddress", {{"aws:SourceIp", "10.0.0.0/8"}}}}}});
  EXPECT_EQ(verdict_of(policy), Verdict::kUnknown);
}

TEST(TrustPolicyStatements, AnyApplicableAllowIsEnough) {
  json policy = allow_with({{"StringEquals", {{"oidc.example.com/c1:sub", "other"}}}});
  policy["Statement"].push_back(allow_with(nullptr)["Statement"][0]);
  EXPECT_EQ(verdict_of(policy), Verdict::kPass);
}

TEST(TrustPolicyStatements, PrincipalAndActionMustMatch) {
  json other_provider = allow_with(nullptr);
  other_provider["Statement"][0]["Principal"]["Federated"] =
      "arn:aws:iam::111122223333:oidc-provider/other.example.com";
  auto decision = evaluate_trust_policy(other_provider, request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->verdict, Verdict::kFail);
  EXPECT_NE(decision->reason.find("other.example.com"), std::string::npos) << decision->reason;

  json service = allow_with(nullptr);
  service["Statement"][0]["Principal"] = {{"Service", "ec2.amazonaws.com"}};
  EXPECT_EQ(verdict_of(service), Verdict::kFail);

  json wrong_action = allow_with(nullptr);
  wrong_action["Statement"][0]["Action"] = "sts:AssumeRole";
  EXPECT_EQ(verdict_of(wrong_action), Verdict::kFail);

  json wildcard_action = allow_with(nullptr);
  wildcard_action["Statement"][0]["Action"] = {"s3:*", "STS:AssumeRoleWith*"};
  EXPECT_EQ(verdict_of(wildcard_action), Verdict::kPass);

  json not_action = allow_with(nullptr);
  not_action["Statement"][0].erase("Action");
  not_action["Statement"][0]["NotAction"] = "sts:AssumeRole";
  EXPECT_EQ(verdict_of(not_action), Verdict::kPass);

  json not_principal = allow_with(nullptr);
  not_principal["Statement"][0]["NotPrincipal"] = {{"AWS", "x"}};
  EXPECT_EQ(verdict_of(not_principal), Verdict::kUnknown);
}

TEST(TrustPolicyStatements, ReasonForSubMismatchIsInPlainWords) {
  auto decision = evaluate_trust_policy(
      allow_with({{"StringEquals",
                   {{"oidc.example.com/c1:sub", "system:serviceaccount:shop:orders-api"}}}}),
      request());
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->reason,
            "sub is system:serviceaccount:shop:orders but the policy allows "
            "system:serviceaccount:shop:orders-api");
}

TEST(TrustPolicyStructure, RefusesDocumentsIamWouldRefuse) {
  for (const char* text :
       {R"([])", R"({"Version": "2012-10-17"})", R"({"Version": "2020-01-01", "Statement": []})",
        R"({"Statement": []})", R"({"Statement": [1]})",
        R"({"Statement": {"Effect": "Maybe", "Principal": "*", "Action": "*"}})",
        R"({"Statement": {"Effect": "Allow", "Action": "*"}})",
        R"({"Statement": {"Effect": "Allow", "Principal": "*"}})",
        R"({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": []}})",
        R"({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*",
                          "Condition": {"StringEquals": {"k": {"a": 1}}}}})"}) {
    EXPECT_FALSE(evaluate_trust_policy(json::parse(text), request())) << text;
  }
}

TEST(IamWildcard, MatchesStarAndQuestionMark) {
  EXPECT_TRUE(iam_wildcard_match("*", "", false));
  EXPECT_TRUE(iam_wildcard_match("a*c", "abbbc", false));
  EXPECT_TRUE(iam_wildcard_match("a?c", "abc", false));
  EXPECT_FALSE(iam_wildcard_match("a?c", "ac", false));
  EXPECT_TRUE(iam_wildcard_match("*a*b*", "xxaxxbxx", false));
  EXPECT_FALSE(iam_wildcard_match("*a*b", "xxbxxa", false));
  EXPECT_FALSE(iam_wildcard_match("ABC", "abc", false));
  EXPECT_TRUE(iam_wildcard_match("ABC", "abc", true));
  EXPECT_FALSE(iam_wildcard_match(std::string(50, '*') + "b", std::string(5000, 'a'), false));
}

TEST(FederatedProviders, ListsTheDistinctOidcProviders) {
  json policy = allow_with(nullptr);
  policy["Statement"].push_back(allow_with(nullptr)["Statement"][0]);
  EXPECT_EQ(federated_oidc_providers(policy), std::vector<std::string>{kArn});
}

}  // namespace
}  // namespace irsa::oidc
