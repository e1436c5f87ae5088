#include "oidc/public_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_signer.h"

namespace irsa::oidc {
namespace {

// Keys made with the openssl command; kids computed independently with
// `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64url`.
constexpr char kRsaPkix[] = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAj6LLsym5BxMYzh6vjsrX
PiKREgQGNKbVSoTlia6vI5WrpnBzBDzx1Vv67kP668ftuhnpDwtv1n4+gYQzN3QI
YxjT58IaglCInxkmI8I8T0HOVL4N26RhlJJVt8iznlUz+pAK6MHjBc/A0FYNKx8l
2Y2Q1oRJHG8F3P8Tq+eqd4/qlo35b4+mQ5MBMv6bUMppFUyW2W0wNWCFASZqg8ag
/BznY2CYBRR19+kTCXWPGwYTl4eCpByCL7oxZlrh08mNIlY1USHjQpPIRrDRxUCc
jxPXkr06G0P425A9ZbUHGCRaUtNAZX1niausbbfMzd8nzmaBg+jaO7ptAUEr84Ud
mwIDAQAB
-----END PUBLIC KEY-----
)";
constexpr char kRsaPkcs1[] = R"(-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAj6LLsym5BxMYzh6vjsrXPiKREgQGNKbVSoTlia6vI5WrpnBzBDzx
1Vv67kP668ftuhnpDwtv1n4+gYQzN3QIYxjT58IaglCInxkmI8I8T0HOVL4N26Rh
lJJVt8iznlUz+pAK6MHjBc/A0FYNKx8l2Y2Q1oRJHG8F3P8Tq+eqd4/qlo35b4+m
Q5MBMv6bUMppFUyW2W0wNWCFASZqg8ag/BznY2CYBRR19+kTCXWPGwYTl4eCpByC
L7oxZlrh08mNIlY1USHjQpPIRrDRxUCcjxPXkr06G0P425A9ZbUHGCRaUtNAZX1n
iausbbfMzd8nzmaBg+jaO7ptAUEr84UdmwIDAQAB
-----END RSA PUBLIC KEY-----
)";
constexpr char kRsaKid[] = "HrJ6pZmzMhgSnUnEOpRM08zmJrCLE5qSRAxeUCAUjOE";

constexpr char kP256[] = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExqzVxr4o7UPrZsaL9dssxJCMIGLb
KSn2qLXaOeQ1w7LayOhuz6Ml92SoG6EnzMVGj/+aQfPhBQMb6B6r7khU9A==
-----END PUBLIC KEY-----
)";
// The same point, compressed: kube-apiserver's kid hashes it uncompressed.
constexpr char kP256Compressed[] = R"(-----BEGIN PUBLIC KEY-----
MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgACxqzVxr4o7UPrZsaL9dssxJCMIGLb
KSn2qLXaOeQ1w7I=
-----END PUBLIC KEY-----
)";
constexpr char kP256Kid[] = "0fAnbocY88zg7Kno6ohkXrMZ4Oy0gI8-RypuYT92OkA";

constexpr char kP384[] = R"(-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEkP9Y8fWnW/Dv4FO0s3t7kffDhg007P1w
P9QbbRNssDGUvTZcfwKYctO2HtOcc7G+6JrNVtiQkc4NVhS0Pw4Si18Y8g+9iB1h
ZoIS6PFF2ZpxE/AJkfmzNCXsAi0UvuKU
-----END PUBLIC KEY-----
)";
constexpr char kP384Kid[] = "pA0_43VZtM1VrCBkT2rQ3CRsZNFBtx4iWvBYFcalrLU";

constexpr char kEd25519[] = R"(-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAAEMVsGcoFgSPItY52DNB80NPKb+RtPhGFI9nYESuinw=
-----END PUBLIC KEY-----
)";
constexpr char kSecp256k1[] = R"(-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEwRM3whpR1TNswXcq80M35DPaVubhQL6B
NEa3TSVQTkG5lZY1eMolPD4xcWNnwpgcVYfk8M9fx3A6NNGHY46fzQ==
-----END PUBLIC KEY-----
)";

// A PEM public RSA key with a modulus of `bits` bits (all ones: not a real
// key, which only the size check below needs).
std::string rsa_public_pem(int bits) {
  BIGNUM* n = BN_new();
  BIGNUM* e = BN_new();
  BN_set_word(e, 65537);
  BN_set_bit(n, bits);
  BN_sub_word(n, 1);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
  std::string pem;
  if (BIO* bio = BIO_new(BIO_s_mem()); bio && key) {
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<std::size_t>(size));
    BIO_free(bio);
  }
  EVP_PKEY_free(key);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return pem;
}

PublicKey load_one(const char* pem) {
  auto keys = parse_public_keys_pem(pem, "test.pem");
  EXPECT_TRUE(keys) << (keys ? "" : keys.error());
  EXPECT_EQ(keys->size(), 1u);
  return keys->front();
}

TEST(PublicKeyPem, KidIsBase64UrlOfSha256OfTheSpkiAsKubeApiserverComputesIt) {
  EXPECT_EQ(load_one(kRsaPkix).kid(), kRsaKid);
  EXPECT_EQ(load_one(kP256).kid(), kP256Kid);
  EXPECT_EQ(load_one(kP384).kid(), kP384Kid);
}

TEST(PublicKeyPem, Pkcs1RsaPublicKeyHasTheSameKidAsItsPkixForm) {
  PublicKey key = load_one(kRsaPkcs1);
  EXPECT_EQ(key.type(), KeyType::kRsa);
  EXPECT_EQ(key.kid(), kRsaKid);
}

TEST(PublicKeyPem, CompressedEcPointGetsTheKidOfTheUncompressedEncoding) {
  EXPECT_EQ(load_one(kP256Compressed).kid(), kP256Kid);
}

TEST(PublicKeyPem, KeyTypesMapToTheAlgorithmsKubeApiserverSignsWith) {
  EXPECT_EQ(load_one(kRsaPkix).algorithm(), "RS256");
  EXPECT_EQ(load_one(kP256).algorithm(), "ES256");
  EXPECT_EQ(load_one(kP384).algorithm(), "ES384");
}

TEST(PublicKeyPem, ReadsEveryBlockOfAFileInOrder) {
  auto keys = parse_public_keys_pem(std::string(kP256) + "\n" + kRsaPkcs1 + kP384, "bundle.pem");
  ASSERT_TRUE(keys) << keys.error();
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].kid(), kP256Kid);
  EXPECT_EQ((*keys)[1].kid(), kRsaKid);
  EXPECT_EQ((*keys)[2].kid(), kP384Kid);
}

TEST(PublicKeyPem, ReadsUpTo64BlocksAndRefusesMore) {
  std::string file;
  for (int i = 0; i < 64; ++i) file += kP256;
  auto at_limit = parse_public_keys_pem(file, "many.pem");
  ASSERT_TRUE(at_limit) << at_limit.error();
  EXPECT_EQ(at_limit->size(), 64u);
  auto over = parse_public_keys_pem(file + kP256, "many.pem");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), "many.pem has more than 64 PEM blocks");
}

TEST(PublicKeyPem, RefusesAPrivateKeyWithoutEchoingIt) {
  auto pair = testing::make_key(KeyType::kEcP256);
  std::string private_pem = testing::private_pem_of(pair.pair.get());
  auto keys = parse_public_keys_pem(private_pem, "sa.key");
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().find("sa.key holds a private key"), std::string::npos) << keys.error();
  EXPECT_NE(keys.error().find("-pubout"), std::string::npos);
  // Not one line of the key's base64 appears in the message.
  std::string body_line = private_pem.substr(private_pem.find('\n') + 1, 40);
  EXPECT_EQ(keys.error().find(body_line), std::string::npos);
  EXPECT_EQ(keys.error().find('\n'), std::string::npos);
}

TEST(PublicKeyPem, RefusesAPrivateKeyEvenNextToAPublicOne) {
  auto pair = testing::make_key(KeyType::kRsa);
  EXPECT_FALSE(parse_public_keys_pem(std::string(kP256) + testing::private_pem_of(pair.pair.get()),
                                     "mixed.pem"));
}

TEST(PublicKeyPem, RefusesMalformedOrEmptyInput) {
  EXPECT_FALSE(parse_public_keys_pem("", "empty.pem"));
  EXPECT_FALSE(parse_public_keys_pem("not a key at all", "junk.pem"));
  EXPECT_FALSE(parse_public_keys_pem("-----BEGIN PUBLIC KEY-----\n@@@@\n-----END PUBLIC KEY-----\n",
                                     "bad-base64.pem"));
  EXPECT_FALSE(parse_public_keys_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                                     "bad-der.pem"));
  std::string truncated(kRsaPkix);
  truncated.resize(truncated.size() / 2);
  EXPECT_FALSE(parse_public_keys_pem(truncated, "truncated.pem"));
  EXPECT_FALSE(parse_public_keys_pem("-----BEGIN WHATEVER-----\nAAAA\n-----END WHATEVER-----\n",
                                     "other.pem"));
}

// Found by the pem_keys fuzzer: a carriage return in a block's label came out
// raw, and the message read as if "PUBLIC KEY" itself were refused.
TEST(PublicKeyPem, QuotesAnUnexpectedBlockLabelOnOneLine) {
  std::string body(kP256);
  body = body.substr(body.find('\n') + 1);
  body = body.substr(0, body.find("-----END"));
  auto with_cr = parse_public_keys_pem(
      "-----BEGIN PUBLIC\r KEY-----\n" + body + "-----END PUBLIC\r KEY-----\n", "cr.pem");
  ASSERT_FALSE(with_cr);
  EXPECT_EQ(with_cr.error(),
            "cr.pem has a PEM block \"PUBLIC\\x0d KEY\"; expected PUBLIC KEY, RSA PUBLIC KEY or "
            "CERTIFICATE");

  auto with_escape = parse_public_keys_pem(
      "-----BEGIN \x1b[2KKEY-----\n" + body + "-----END \x1b[2KKEY-----\n", "esc.pem");
  ASSERT_FALSE(with_escape);
  EXPECT_THAT(with_escape.error(), ::testing::HasSubstr("PEM block \"\\x1b[2KKEY\";"));

  std::string long_label(200, 'X');
  auto with_long = parse_public_keys_pem(
      "-----BEGIN " + long_label + "-----\n" + body + "-----END " + long_label + "-----\n",
      "long.pem");
  ASSERT_FALSE(with_long);
  EXPECT_THAT(with_long.error(), ::testing::HasSubstr("\"" + std::string(64, 'X') + "...\";"));
}

// fuzz/regressions/pem_keys-base64-line-spells-error-words.txt: what a block
// that is not a key gets is a fixed sentence; none of its base64 is echoed.
TEST(PublicKeyPem, BlockThatIsNotAKeyGetsAMessageWithoutItsContent) {
  auto keys = parse_public_keys_pem(
      "-----BEGIN PUBLIC KEY-----\nectPublicKeyInfo0123456789abcdef\n-----END PUBLIC KEY-----\n",
      "k.pem");
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error(), "k.pem has a PUBLIC KEY block that is not a valid SubjectPublicKeyInfo");
  auto pkcs1 = parse_public_keys_pem(
      "-----BEGIN RSA PUBLIC KEY-----\nQUJD0123456789+/\n-----END RSA PUBLIC KEY-----\n", "k.pem");
  ASSERT_FALSE(pkcs1);
  EXPECT_EQ(pkcs1.error(), "k.pem has an RSA PUBLIC KEY block that is not a valid PKCS#1 key");
}

TEST(PublicKeyPem, RefusesKeyTypesKubeApiserverTokensHereCannotUse) {
  auto ed = parse_public_keys_pem(kEd25519, "ed.pem");
  ASSERT_FALSE(ed);
  EXPECT_NE(ed.error().find("ED25519"), std::string::npos) << ed.error();
  auto k1 = parse_public_keys_pem(kSecp256k1, "k1.pem");
  ASSERT_FALSE(k1);
  EXPECT_NE(k1.error().find("secp256k1"), std::string::npos) << k1.error();
}

TEST(PublicKeyPem, RefusesAnRsaKeyOverTheSizeLimit) {
  std::string at_limit = rsa_public_pem(kMaxRsaBits);
  ASSERT_NE(at_limit.find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_TRUE(parse_public_keys_pem(at_limit, "k.pem"));
  auto over = parse_public_keys_pem(rsa_public_pem(kMaxRsaBits + 8), "k.pem");
  ASSERT_FALSE(over);
  EXPECT_THAT(over.error(), ::testing::HasSubstr("RSA key of 8200 bits; keys over 8192 bits"));
}

TEST(PublicKeyPem, GeneratedKeysOfEachTypeLoad) {
  for (KeyType type : {KeyType::kRsa, KeyType::kEcP256, KeyType::kEcP384}) {
    auto key = testing::make_key(type);
    EXPECT_EQ(key.public_key.type(), type);
    EXPECT_EQ(key.public_key.kid().size(), 43u);
  }
}

}  // namespace
}  // namespace irsa::oidc
