// Keys the OIDC fuzz targets share: an EC P-256 and an RSA key pair made by
// OpenSSL at start, their public keys as oidc::PublicKey, and signing.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "oidc/jws.h"
#include "oidc/public_key.h"

namespace irsa::fuzz {

struct SigningKey {
  std::shared_ptr<EVP_PKEY> pair;
  std::shared_ptr<oidc::PublicKey> public_key;
};

inline SigningKey make_signing_key(oidc::KeyType type) {
  EVP_PKEY* raw = type == oidc::KeyType::kRsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  FUZZ_CHECK(raw != nullptr, "key generation");
  std::shared_ptr<EVP_PKEY> pair(raw, EVP_PKEY_free);
  // The public half only, as a verifier holds it.
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(pair.get(), &der);
  FUZZ_CHECK(length > 0, "i2d_PUBKEY");
  const unsigned char* cursor = der;
  EVP_PKEY* public_raw = d2i_PUBKEY(nullptr, &cursor, length);
  OPENSSL_free(der);
  FUZZ_CHECK(public_raw != nullptr, "d2i_PUBKEY");
  auto key = oidc::PublicKey::from_evp(std::shared_ptr<EVP_PKEY>(public_raw, EVP_PKEY_free));
  FUZZ_CHECK(key.ok(), key.error());
  return {pair, std::make_shared<oidc::PublicKey>(*key)};
}

// The JWS signature (RS256, or ES256 as r||s) of `input`.
inline std::string sign(const SigningKey& key, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  FUZZ_CHECK(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pair.get()) == 1 &&
                 EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size()) == 1,
             "sign");
  std::string signature(length, '\0');
  FUZZ_CHECK(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                            data, input.size()) == 1,
             "sign");
  signature.resize(length);
  if (key.public_key->type() == oidc::KeyType::kRsa) return signature;
  auto raw = oidc::ecdsa_der_to_raw(signature, 32);
  FUZZ_CHECK(raw.ok(), raw.error());
  return *raw;
}

}  // namespace irsa::fuzz
