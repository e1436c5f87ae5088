#include "oidc/discovery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "oidc/base64url.h"
#include "oidc/jwk.h"
#include "test_signer.h"

namespace irsa::oidc {
namespace {

using nlohmann::json;

Issuer issuer() { return *parse_issuer("https://oidc.example.com/cluster-1"); }

TEST(IssuerDocuments, DiscoveryHasTheFieldsKubernetesServes) {
  auto rsa = testing::make_key(KeyType::kRsa);
  auto p384 = testing::make_key(KeyType::kEcP384);
  auto p256 = testing::make_key(KeyType::kEcP256);
  IssuerDocumentsOptions options{issuer()};
  auto documents =
      render_issuer_documents({rsa.public_key, p384.public_key, p256.public_key}, options);
  ASSERT_TRUE(documents) << documents.error();
  json discovery = json::parse(documents->discovery);
  EXPECT_EQ(discovery, json::parse(R"({
    "issuer": "https://oidc.example.com/cluster-1",
    "jwks_uri": "https://oidc.example.com/cluster-1/keys.json",
    "response_types_supported": ["id_token"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["ES256", "ES384", "RS256"]
  })"));
  EXPECT_EQ(documents->discovery.rfind("{\n  \"issuer\"", 0), 0u) << "issuer comes first";
}

TEST(IssuerDocuments, JwksPathNamesTheJwksUri) {
  auto key = testing::make_key(KeyType::kEcP256);
  IssuerDocumentsOptions options{issuer(), "openid/v1/jwks"};
  auto documents = render_issuer_documents({key.public_key}, options);
  ASSERT_TRUE(documents);
  EXPECT_EQ(json::parse(documents->discovery)["jwks_uri"],
            "https://oidc.example.com/cluster-1/openid/v1/jwks");
}

TEST(IssuerDocuments, JwksHoldsEachKeyOnceWithItsKidAndReadsBackToTheSameKeys) {
  auto rsa = testing::make_key(KeyType::kRsa);
  auto p256 = testing::make_key(KeyType::kEcP256);
  auto p384 = testing::make_key(KeyType::kEcP384);
  auto documents = render_issuer_documents(
      {rsa.public_key, p256.public_key, rsa.public_key, p384.public_key}, {issuer()});
  ASSERT_TRUE(documents);
  EXPECT_EQ(documents->notes.size(), 1u);
  json jwks = json::parse(documents->jwks);
  ASSERT_EQ(jwks["keys"].size(), 3u);
  EXPECT_EQ(jwks["keys"][0]["kty"], "RSA");
  EXPECT_EQ(jwks["keys"][0]["alg"], "RS256");
  EXPECT_EQ(jwks["keys"][0]["use"], "sig");
  EXPECT_EQ(jwks["keys"][0]["e"], "AQAB");
  EXPECT_EQ(jwks["keys"][1]["crv"], "P-256");
  EXPECT_EQ(jwks["keys"][1]["alg"], "ES256");
  EXPECT_EQ(jwks["keys"][1]["x"].get<std::string>().size(), 43u);  // 32 bytes
  EXPECT_EQ(jwks["keys"][2]["crv"], "P-384");
  EXPECT_EQ(jwks["keys"][2]["y"].get<std::string>().size(), 64u);  // 48 bytes

  auto read = parse_jwks(jwks, "keys.json");
  ASSERT_TRUE(read) << read.error();
  ASSERT_EQ(read->keys.size(), 3u);
  EXPECT_EQ(read->keys[0].key.kid(), rsa.public_key.kid());
  EXPECT_EQ(read->keys[0].kid, rsa.public_key.kid());
  EXPECT_EQ(read->keys[1].key.kid(), p256.public_key.kid());
  EXPECT_EQ(read->keys[2].key.kid(), p384.public_key.kid());
}

TEST(IssuerDocuments, LegacyEmptyKidAddsACopyOfEachKey) {
  auto key = testing::make_key(KeyType::kRsa);
  IssuerDocumentsOptions options{issuer()};
  options.legacy_empty_kid = true;
  auto documents = render_issuer_documents({key.public_key}, options);
  ASSERT_TRUE(documents);
  json keys = json::parse(documents->jwks)["keys"];
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0]["kid"], key.public_key.kid());
  EXPECT_EQ(keys[1]["kid"], "");
  EXPECT_EQ(keys[1]["n"], keys[0]["n"]);
}

TEST(IssuerDocuments, RefusesNoKeysAndUnsafeJwksPaths) {
  auto key = testing::make_key(KeyType::kEcP256);
  EXPECT_FALSE(render_issuer_documents(std::vector<PublicKey>{}, {issuer()}));
  for (const char* path :
       {"", "/keys.json", "../keys.json", "a//b", "keys/", "a b", ".well-known/jwks", "a/./b"}) {
    IssuerDocumentsOptions options{issuer(), path};
    EXPECT_FALSE(render_issuer_documents({key.public_key}, options)) << path;
  }
}

TEST(Jwks, RefusesEmptyPrivateAndMalformedKeys) {
  EXPECT_FALSE(parse_jwks(json::parse(R"({"keys": []})"), "j"));
  EXPECT_FALSE(parse_jwks(json::parse(R"([])"), "j"));
  EXPECT_FALSE(parse_jwks(json::parse(R"({"keys": [{"kty": "RSA", "n": "AQAB"}]})"), "j"));
  EXPECT_FALSE(parse_jwks(json::parse(R"({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA",
                                                    "y": "AA"}]})"),
                          "j"));
  auto key = testing::make_key(KeyType::kEcP256);
  json jwk = to_jwk(key.public_key, "k");
  json with_secret = {{"keys", {jwk}}};
  with_secret["keys"][0]["d"] = "c2VjcmV0";
  auto refused = parse_jwks(with_secret, "j");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().find("c2VjcmV0"), std::string::npos);
  // A point that is not on the curve.
  json off_curve = {{"keys", {jwk}}};
  std::string y = off_curve["keys"][0]["y"];
  y[5] = y[5] == 'A' ? 'B' : 'A';
  off_curve["keys"][0]["y"] = y;
  EXPECT_FALSE(parse_jwks(off_curve, "j"));
}

TEST(Jwks, RefusesAnRsaModulusOverTheLimitBeforeCheckingIt) {
  // Found by the jwks fuzzer: a 14,196-bit modulus kept OpenSSL's public key
  // check busy for seconds. Over kMaxRsaBits a key is refused at once.
  std::string n(kMaxRsaBits / 8 + 1, '\xff');
  json jwks = {
      {"keys", {{{"kty", "RSA"}, {"kid", "big"}, {"n", base64url_encode(n)}, {"e", "AQAB"}}}}};
  auto refused = parse_jwks(jwks, "j");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error(), ::testing::HasSubstr("RSA modulus of 8200 bits; keys over 8192"));
  // At the limit the key is checked as any other (this modulus has small factors).
  n.resize(kMaxRsaBits / 8);
  jwks["keys"][0]["n"] = base64url_encode(n);
  auto checked = parse_jwks(jwks, "j");
  ASSERT_FALSE(checked);
  EXPECT_THAT(checked.error(), ::testing::HasSubstr("public key check"));
}

TEST(Jwks, KidInAnErrorIsQuotedOnOneLine) {
  // Found by the jwks fuzzer: a carriage return in a kid split the message.
  auto refused =
      parse_jwks(json::parse(R"({"keys": [{"kty": "RSA", "kid": "a\rb", "n": "AQAB"}]})"), "j");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().rfind("j key 1 (kid \"a\\x0db\")", 0), 0u) << refused.error();
}

TEST(Jwks, SkipsKeyTypesItCannotUseButKeepsTheRest) {
  auto key = testing::make_key(KeyType::kRsa);
  json jwks = {{"keys",
                {{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}, {"kid", "ed"}},
                 to_jwk(key.public_key, key.public_key.kid())}}};
  auto read = parse_jwks(jwks, "j");
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->keys.size(), 1u);
  EXPECT_EQ(read->skipped.size(), 1u);
}

}  // namespace
}  // namespace irsa::oidc
