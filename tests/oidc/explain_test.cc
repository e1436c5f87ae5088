#include "oidc/explain.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include "oidc/base64url.h"
#include "oidc/discovery.h"
#include "oidc/jwk.h"
#include "test_signer.h"

namespace irsa::oidc {
namespace {

using nlohmann::json;

constexpr char kIssuer[] = "https://oidc.example.com/c1";
constexpr char kArn[] = "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1";
constexpr std::int64_t kNow = 1714564800;  // 2024-05-01T12:00:00Z

class ExplainToken : public ::testing::Test {
 protected:
  void SetUp() override {
    json jwks = {{"keys",
                  {to_jwk(rsa_.public_key, rsa_.public_key.kid()),
                   to_jwk(p256_.public_key, p256_.public_key.kid()),
                   to_jwk(p384_.public_key, p384_.public_key.kid())}}};
    jwks_ = *parse_jwks(jwks, "keys.json");
    options_.provider = *parse_provider_arn(kArn);
    options_.now = kNow;
    auto orders = make_service_account_ref("shop", "orders", false);
    policy_ = render_trust_policy(options_.provider, {*orders}, {"sts.amazonaws.com"});
  }

  json claims() const { return testing::kubernetes_claims(kIssuer, "shop", "orders", kNow - 600); }

  Report explain(const std::string& token) const {
    auto report = explain_token(policy_, token, jwks_, options_);
    EXPECT_TRUE(report) << report.error();
    return report ? *report : Report{};
  }

  // Asserts DENIED with a reason containing `says`.
  void expect_denied(const std::string& token, const std::string& says) const {
    Report report = explain(token);
    EXPECT_EQ(report.outcome, Outcome::kDenied) << render_report(report);
    EXPECT_NE(report.reason.find(says), std::string::npos)
        << "reason: " << report.reason << "\nwanted: " << says;
  }

  testing::TestKey rsa_ = testing::make_key(KeyType::kRsa);
  testing::TestKey p256_ = testing::make_key(KeyType::kEcP256);
  testing::TestKey p384_ = testing::make_key(KeyType::kEcP384);
  Jwks jwks_{{}, {}};
  ExplainOptions options_;
  json policy_;
};

TEST_F(ExplainToken, AllowsATokenOfTheNamedServiceAccountForEachKeyType) {
  for (const auto* key : {&rsa_, &p256_, &p384_}) {
    Report report = explain(testing::mint(*key, claims()));
    EXPECT_EQ(report.outcome, Outcome::kAllowed) << render_report(report);
    EXPECT_TRUE(report.reason.empty());
  }
}

TEST_F(ExplainToken, RendersEachCheckThenTheVerdict) {
  std::string text = render_report(explain(testing::mint(rsa_, claims())));
  EXPECT_NE(text.find("[ok]          alg RS256 is accepted"), std::string::npos) << text;
  EXPECT_NE(text.find("the signature verifies with key " + rsa_.public_key.kid()),
            std::string::npos);
  EXPECT_NE(text.find("kubernetes.io: namespace shop, serviceaccount orders"), std::string::npos);
  EXPECT_EQ(text.substr(text.size() - 8), "ALLOWED\n");
}

TEST_F(ExplainToken, TokenTextCannotAddLinesToTheReport) {
  Report report = explain(testing::mint(rsa_, claims(), "nope\nALLOWED"));
  EXPECT_EQ(report.outcome, Outcome::kDenied);
  std::string text = render_report(report);
  EXPECT_EQ(text.find("\nALLOWED"), std::string::npos) << text;
  EXPECT_NE(text.find("nope\\x0aALLOWED"), std::string::npos) << text;
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, report.checks.size() + 1) << text;
}

TEST_F(ExplainToken, WithoutKidEveryKeyOfTheRightTypeIsTried) {
  Report report = explain(testing::mint(p256_, claims(), ""));
  EXPECT_EQ(report.outcome, Outcome::kAllowed) << render_report(report);
}

TEST_F(ExplainToken, DeniesAnotherServiceAccountInTheSameNamespace) {
  json other = testing::kubernetes_claims(kIssuer, "shop", "orders-api", kNow - 600);
  Report report = explain(testing::mint(rsa_, other));
  EXPECT_EQ(report.outcome, Outcome::kDenied);
  EXPECT_EQ(report.reason,
            "sub is system:serviceaccount:shop:orders-api but the policy allows "
            "system:serviceaccount:shop:orders");
}

TEST_F(ExplainToken, DeniesEachSingleDefectWithItsOwnReason) {
  json wrong_aud = claims();
  wrong_aud["aud"] = {"vault"};
  expect_denied(testing::mint(rsa_, wrong_aud),
                "aud is [vault] but the provider's client id is sts.amazonaws.com");

  json expired = testing::kubernetes_claims(kIssuer, "shop", "orders", kNow - 7200, 3600);
  expect_denied(testing::mint(rsa_, expired), "the token expired at 2024-05-01T11:00:00Z");

  json future = testing::kubernetes_claims(kIssuer, "shop", "orders", kNow + 3600);
  future["iat"] = kNow;
  expect_denied(testing::mint(rsa_, future), "the token is not valid before 2024-05-01T13:00:00Z");

  json issued_later = claims();
  issued_later["iat"] = kNow + 3600;
  expect_denied(testing::mint(rsa_, issued_later), "issued in the future");

  expect_denied(testing::mint(rsa_, claims(), "no-such-kid"), "kid no-such-kid is not in the JWKS");

  json wrong_issuer = claims();
  wrong_issuer["iss"] = "https://other.example.com/c1";
  expect_denied(
      testing::mint(rsa_, wrong_issuer),
      "iss is https://other.example.com/c1 but the provider's URL is " + std::string(kIssuer));

  json no_exp = claims();
  no_exp.erase("exp");
  expect_denied(testing::mint(rsa_, no_exp), "no exp claim");
}

TEST_F(ExplainToken, DeniesATamperedPayloadOrSignature) {
  std::string token = testing::mint(rsa_, claims());
  std::size_t first = token.find('.');
  std::size_t second = token.rfind('.');
  json tampered = claims();
  tampered["sub"] = "system:serviceaccount:shop:admin";
  std::string swapped_payload =
      token.substr(0, first + 1) + testing::encode_json(tampered) + token.substr(second);
  expect_denied(swapped_payload, "the signature does not verify");

  for (const auto* key : {&rsa_, &p256_}) {
    std::string signed_token = testing::mint(*key, claims());
    std::size_t dot = signed_token.rfind('.');
    std::string signature = *base64url_decode(signed_token.substr(dot + 1));
    signature[signature.size() / 2] ^= 0x20;
    expect_denied(signed_token.substr(0, dot + 1) + base64url_encode(signature),
                  "the signature does not verify");
  }
}

TEST_F(ExplainToken, DeniesATokenSignedByAKeyNotInTheJwks) {
  auto stranger = testing::make_key(KeyType::kRsa);
  expect_denied(testing::mint(stranger, claims(), rsa_.public_key.kid()),
                "the signature does not verify");
}

TEST_F(ExplainToken, DeniesAlgNoneAndHmacWithThePublicKeyAsSecret) {
  std::string body = testing::encode_json(claims());
  expect_denied(testing::encode_json({{"alg", "none"}}) + "." + body + ".", "alg is none");

  // The classic confusion attack: HS256 keyed with the published public key.
  std::string input =
      testing::encode_json({{"alg", "HS256"}, {"kid", rsa_.public_key.kid()}}) + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  HMAC(EVP_sha256(), rsa_.public_pem.data(), static_cast<int>(rsa_.public_pem.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_length);
  std::string token =
      input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), mac_length));
  expect_denied(token, "alg HS256 (HMAC) is refused");
}

TEST_F(ExplainToken, DeniesWhenThePolicyTrustsAnotherProvider) {
  auto other = parse_provider_arn("arn:aws:iam::111122223333:oidc-provider/other.example.com");
  auto orders = make_service_account_ref("shop", "orders", false);
  policy_ = render_trust_policy(*other, {*orders}, {"sts.amazonaws.com"});
  expect_denied(testing::mint(rsa_, claims()),
                "the policy trusts arn:aws:iam::111122223333:oidc-provider/other.example.com, "
                "not " +
                    std::string(kArn));
}

TEST_F(ExplainToken, DeniesOnAnExplicitDenyStatement) {
  policy_["Statement"].push_back({{"Sid", "Freeze"},
                                  {"Effect", "Deny"},
                                  {"Principal", {{"Federated", kArn}}},
                                  {"Action", "sts:AssumeRoleWithWebIdentity"}});
  expect_denied(testing::mint(rsa_, claims()), "Sid Freeze) is an explicit Deny");
}

TEST_F(ExplainToken, UnsupportedConditionMakesAnOtherwiseGoodTokenUnknown) {
  policy_["Statement"][0]["Condition"]["DateGreaterThan"] = {{"aws:CurrentTime", "2020-01-01"}};
  Report report = explain(testing::mint(rsa_, claims()));
  EXPECT_EQ(report.outcome, Outcome::kUnknown) << render_report(report);
  EXPECT_NE(render_report(report).find("UNKNOWN: "), std::string::npos);
}

TEST_F(ExplainToken, LeewayIsSmallAndStated) {
  json just_expired = testing::kubernetes_claims(kIssuer, "shop", "orders", kNow - 3600, 3600);
  EXPECT_EQ(explain(testing::mint(rsa_, just_expired)).outcome, Outcome::kAllowed);
  options_.now = kNow + kClockLeewaySeconds;
  Report report = explain(testing::mint(rsa_, just_expired));
  EXPECT_EQ(report.outcome, Outcome::kDenied);
  EXPECT_NE(report.reason.find("leeway 60s"), std::string::npos) << report.reason;
}

TEST_F(ExplainToken, MalformedTokenIsAnErrorNotAVerdict) {
  EXPECT_FALSE(explain_token(policy_, "not.a.token", jwks_, options_));
  EXPECT_FALSE(explain_token(policy_, "", jwks_, options_));
}

TEST(ExplainServiceAccount, EvaluatesThePolicyForTheClaimsOfThatAccount) {
  ExplainOptions options;
  options.provider = *parse_provider_arn(kArn);
  auto orders = *make_service_account_ref("shop", "orders", false);
  auto policy = render_trust_policy(options.provider, {orders}, {"sts.amazonaws.com"});
  auto allowed = explain_service_account(policy, orders, options);
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->outcome, Outcome::kAllowed);
  auto neighbour =
      explain_service_account(policy, *make_service_account_ref("shop", "billing", false), options);
  ASSERT_TRUE(neighbour);
  EXPECT_EQ(neighbour->outcome, Outcome::kDenied);
  options.audience = "vault";
  auto other_audience = explain_service_account(policy, orders, options);
  ASSERT_TRUE(other_audience);
  EXPECT_EQ(other_audience->outcome, Outcome::kDenied);
}

// One role for several clusters (trust-policy with several providers).
TEST_F(ExplainToken, APolicyForSeveralClustersAllowsEachClustersToken) {
  constexpr char kOtherIssuer[] = "https://oidc.example.com/c2";
  Provider other =
      *parse_provider_arn("arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2");
  auto orders = make_service_account_ref("shop", "orders", false);
  policy_ = render_trust_policy({options_.provider, other}, {*orders}, {"sts.amazonaws.com"});
  // The token's iss picks the provider; every check then runs as usual.
  const std::string first = testing::mint(rsa_, claims());
  const std::string second =
      testing::mint(rsa_, testing::kubernetes_claims(kOtherIssuer, "shop", "orders", kNow - 600));
  for (const auto& [token, arn] :
       {std::pair{first, std::string(kArn)}, std::pair{second, other.arn}}) {
    auto provider = provider_for_token(policy_, token);
    ASSERT_TRUE(provider) << provider.error();
    EXPECT_EQ(provider->arn, arn);
    options_.provider = *provider;
    Report report = explain(token);
    EXPECT_EQ(report.outcome, Outcome::kAllowed) << render_report(report);
  }
  // Another account of the second cluster is still denied.
  options_.provider = other;
  expect_denied(
      testing::mint(rsa_, testing::kubernetes_claims(kOtherIssuer, "shop", "billing", kNow - 600)),
      "system:serviceaccount:shop:billing");
  // A token from a third cluster: none fits, and the error names them.
  auto third = provider_for_token(
      policy_, testing::mint(rsa_, testing::kubernetes_claims("https://third.example.com", "shop",
                                                              "orders", kNow - 600)));
  ASSERT_FALSE(third);
  EXPECT_NE(third.error().find("https://third.example.com"), std::string::npos) << third.error();
  EXPECT_NE(third.error().find(other.arn), std::string::npos) << third.error();
  EXPECT_FALSE(provider_for_token(policy_, "not.a.token"));
}

TEST(ExplainServiceAccount, APolicyForSeveralClustersIsEvaluatedPerProvider) {
  ExplainOptions options;
  Provider first = *parse_provider_arn(kArn);
  Provider second =
      *parse_provider_arn("arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2");
  auto orders = *make_service_account_ref("shop", "orders", false);
  auto policy = render_trust_policy({first, second}, {orders}, {"sts.amazonaws.com"});
  for (const Provider& provider : {first, second}) {
    options.provider = provider;
    auto report = explain_service_account(policy, orders, options);
    ASSERT_TRUE(report) << report.error();
    EXPECT_EQ(report->outcome, Outcome::kAllowed) << render_report(*report);
  }
  // Without --provider-arn the command asks, naming both.
  auto asked = provider_from_policy(policy);
  ASSERT_FALSE(asked);
  EXPECT_NE(asked.error().find(second.arn), std::string::npos) << asked.error();
}

TEST(ProviderFromPolicy, TakesTheOnlyTrustedProviderOrAsks) {
  json policy = json::parse(R"({"Statement": [{"Effect": "Allow", "Action": "*",
      "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"}}]})");
  auto provider = provider_from_policy(policy);
  ASSERT_TRUE(provider) << provider.error();
  EXPECT_EQ(provider->issuer.url, kIssuer);
  policy["Statement"][0]["Principal"]["Federated"] = {
      kArn, "arn:aws:iam::111122223333:oidc-provider/other.example.com"};
  EXPECT_FALSE(provider_from_policy(policy));
  EXPECT_FALSE(provider_from_policy(json::parse(R"({"Statement": []})")));
}

}  // namespace
}  // namespace irsa::oidc

namespace irsa::oidc {
namespace {

// Single-byte changes anywhere in a token give a verdict or an error, never a
// crash (run under ASan/UBSan by `make test-asan`).
TEST(ExplainRobustness, EveryOneByteCorruptionOfATokenIsHandled) {
  auto key = testing::make_key(KeyType::kEcP256);
  ExplainOptions options;
  options.provider = *parse_provider_arn(kArn);
  options.now = kNow;
  auto jwks = parse_jwks({{"keys", {to_jwk(key.public_key, key.public_key.kid())}}}, "j");
  ASSERT_TRUE(jwks);
  auto orders = *make_service_account_ref("shop", "orders", false);
  json policy = render_trust_policy(options.provider, {orders}, {"sts.amazonaws.com"});
  std::string token =
      testing::mint(key, testing::kubernetes_claims(kIssuer, "shop", "orders", kNow));
  const std::string replacements = "A_-.=\x01\xff{";
  int allowed = 0;
  for (std::size_t at = 0; at < token.size(); ++at) {
    for (char replacement : replacements) {
      std::string corrupted = token;
      if (corrupted[at] == replacement) continue;
      corrupted[at] = replacement;
      auto report = explain_token(policy, corrupted, *jwks, options);
      if (report && report->outcome == Outcome::kAllowed) ++allowed;
    }
  }
  // Only changes to unused trailing bits of the last base64url character can
  // leave the signature intact.
  EXPECT_LE(allowed, 2);
}

}  // namespace
}  // namespace irsa::oidc
