#include "oidc/jws.h"

#include <gtest/gtest.h>

#include "oidc/base64url.h"
#include "test_signer.h"

namespace irsa::oidc {
namespace {

using nlohmann::json;

TEST(DecodeJwt, SplitsHeaderClaimsAndSignature) {
  auto key = testing::make_key(KeyType::kRsa);
  std::string token = testing::mint(key, {{"sub", "x"}});
  auto jwt = decode_jwt(token);
  ASSERT_TRUE(jwt) << jwt.error();
  EXPECT_EQ(jwt->alg, "RS256");
  EXPECT_EQ(jwt->kid, key.public_key.kid());
  EXPECT_EQ(jwt->claims["sub"], "x");
  EXPECT_EQ(jwt->signature.size(), 256u);
  EXPECT_EQ(jwt->signing_input, token.substr(0, token.rfind('.')));
}

TEST(DecodeJwt, RefusesWhatIsNotACompactJws) {
  std::string header = base64url_encode(R"({"alg":"RS256"})");
  std::string claims = base64url_encode(R"({"sub":"x"})");
  for (const std::string& token :
       {std::string(""), std::string("abc"), header + "." + claims, header + "." + claims + ".s.x",
        header + "." + claims + ".s=", base64url_encode("[1]") + "." + claims + ".",
        base64url_encode("{") + "." + claims + ".", header + "." + base64url_encode("\"s\"") + ".",
        base64url_encode(R"({"kid":"k"})") + "." + claims + ".",
        base64url_encode(R"({"alg":"RS256","kid":7})") + "." + claims + ".",
        std::string(70000, 'a')}) {
    EXPECT_FALSE(decode_jwt(token)) << token;
  }
  // An unsigned token still decodes: refusing alg none is a verdict, not a parse error.
  EXPECT_TRUE(decode_jwt(base64url_encode(R"({"alg":"none"})") + "." + claims + "."));
}

TEST(VerifySignature, AcceptsTheSignerAndRefusesAnyChange) {
  for (KeyType type : {KeyType::kRsa, KeyType::kEcP256, KeyType::kEcP384}) {
    auto key = testing::make_key(type);
    std::string input = "header.payload";
    std::string signature = testing::sign(key, input);
    EXPECT_TRUE(verify_signature(key.public_key, key.public_key.algorithm(), input, signature));
    EXPECT_FALSE(
        verify_signature(key.public_key, key.public_key.algorithm(), input + "x", signature));
    std::string flipped = signature;
    flipped[flipped.size() / 2] ^= 0x01;
    EXPECT_FALSE(verify_signature(key.public_key, key.public_key.algorithm(), input, flipped));
    EXPECT_FALSE(
        verify_signature(key.public_key, key.public_key.algorithm(), input, signature.substr(1)));
  }
}

TEST(VerifySignature, RefusesAKeyOfAnotherTypeThanTheAlg) {
  auto rsa = testing::make_key(KeyType::kRsa);
  auto ec = testing::make_key(KeyType::kEcP256);
  std::string signature = testing::sign(ec, "in");
  auto refused = verify_signature(rsa.public_key, "ES256", "in", signature);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("cannot verify ES256"), std::string::npos);
  EXPECT_FALSE(verify_signature(ec.public_key, "ES384", "in", signature));
  EXPECT_FALSE(verify_signature(ec.public_key, "HS256", "in", signature));
}

TEST(EcdsaSignature, RawAndDerConvertBothWays) {
  std::string raw(64, '\0');
  for (int i = 0; i < 64; ++i)
    raw[static_cast<std::size_t>(i)] = static_cast<char>(i == 0 ? 0 : 200 - i);
  auto der = ecdsa_raw_to_der(raw, 32);
  ASSERT_TRUE(der);
  EXPECT_EQ(static_cast<unsigned char>((*der)[0]), 0x30);
  auto back = ecdsa_der_to_raw(*der, 32);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, raw);
  EXPECT_FALSE(ecdsa_raw_to_der(raw, 48));
  EXPECT_FALSE(ecdsa_der_to_raw("not der", 32));
}

}  // namespace
}  // namespace irsa::oidc
