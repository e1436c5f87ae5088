// Test-only: fresh keys and tokens signed as kube-apiserver signs projected
// service-account tokens (claims iss, sub, aud, exp, iat, nbf, kubernetes.io).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <nlohmann/json.hpp>

#include "oidc/base64url.h"
#include "oidc/jws.h"
#include "oidc/public_key.h"

namespace irsa::oidc::testing {

// A key pair made by OpenSSL for one test.
struct TestKey {
  std::shared_ptr<EVP_PKEY> pair;
  std::string public_pem;
  PublicKey public_key;
};

inline std::string public_pem_of(EVP_PKEY* pair) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), pair);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

inline std::string private_pem_of(EVP_PKEY* pair) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), pair, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

// RSA 2048, EC P-256 or EC P-384.
inline TestKey make_key(KeyType type) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    case KeyType::kRsa:
      raw = EVP_RSA_gen(2048);
      break;
    case KeyType::kEcP256:
      raw = EVP_EC_gen("P-256");
      break;
    case KeyType::kEcP384:
      raw = EVP_EC_gen("P-384");
      break;
  }
  if (!raw) throw std::runtime_error("key generation failed");
  std::shared_ptr<EVP_PKEY> pair(raw, EVP_PKEY_free);
  std::string pem = public_pem_of(pair.get());
  auto keys = parse_public_keys_pem(pem, "generated");
  if (!keys || keys->size() != 1) throw std::runtime_error("generated key does not load");
  return TestKey{pair, pem, keys->front()};
}

// Signs `signing_input` with the key's algorithm; ECDSA as JWS's r||s.
inline std::string sign(const TestKey& key, const std::string& signing_input) {
  const EVP_MD* digest = key.public_key.type() == KeyType::kEcP384 ? EVP_sha384() : EVP_sha256();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t length = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (EVP_DigestSignInit(ctx.get(), nullptr, digest, nullptr, key.pair.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, data, signing_input.size()) != 1) {
    throw std::runtime_error("signing failed");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, data,
                     signing_input.size()) != 1) {
    throw std::runtime_error("signing failed");
  }
  signature.resize(length);
  if (key.public_key.type() == KeyType::kRsa) return signature;
  std::size_t field = key.public_key.type() == KeyType::kEcP384 ? 48 : 32;
  auto raw = ecdsa_der_to_raw(signature, field);
  if (!raw) throw std::runtime_error(raw.error());
  return *raw;
}

// The claims kube-apiserver puts in a projected token.
inline nlohmann::json kubernetes_claims(const std::string& issuer, const std::string& ns,
                                        const std::string& service_account, std::int64_t now,
                                        std::int64_t lifetime = 86400) {
  return {
      {"aud", {"sts.amazonaws.com"}},
      {"exp", now + lifetime},
      {"iat", now},
      {"iss", issuer},
      {"kubernetes.io",
       {{"namespace", ns},
        {"pod", {{"name", service_account + "-7d9f8-abcde"}, {"uid", "0d5b6a4e-0000-4000-8000-1"}}},
        {"serviceaccount", {{"name", service_account}, {"uid", "5e6f7a8b-0000-4000-8000-2"}}}}},
      {"nbf", now},
      {"sub", "system:serviceaccount:" + ns + ":" + service_account},
  };
}

inline std::string encode_json(const nlohmann::json& value) {
  return base64url_encode(value.dump());
}

// A compact JWS with header {"alg", "kid"} (kid left out when empty) over `claims`.
inline std::string mint(const TestKey& key, const nlohmann::json& claims,
                        const std::string& kid_override = "\x01") {
  nlohmann::json header = {{"alg", std::string(key.public_key.algorithm())}};
  std::string kid = kid_override == "\x01" ? key.public_key.kid() : kid_override;
  if (!kid.empty()) header["kid"] = kid;
  std::string signing_input = encode_json(header) + "." + encode_json(claims);
  return signing_input + "." + base64url_encode(sign(key, signing_input));
}

}  // namespace irsa::oidc::testing
