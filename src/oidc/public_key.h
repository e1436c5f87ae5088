// Service-account signing public keys as kube-apiserver reads them
// (--service-account-key-file): PEM loading, key types and the `kid`.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

#include "common/result.h"

namespace irsa::oidc {

// The key types a kube-apiserver signs service-account tokens with and STS
// verifies here.
enum class KeyType { kRsa, kEcP256, kEcP384 };

// RSA moduli over this many bits are refused: OpenSSL's public key check and
// every signature check grow with the size (a 14,000-bit modulus took
// seconds), and no issuer signs with one (Go's TLS stops at the same size).
inline constexpr int kMaxRsaBits = 8192;

// The JWS "alg" kube-apiserver uses for a key type: RS256, ES256 or ES384.
std::string_view signing_algorithm(KeyType type);

// "RSA", "EC P-256", "EC P-384": for messages.
std::string_view describe(KeyType type);

// One public key with its kube-apiserver key id. Cheap to copy (shares the
// immutable OpenSSL key).
class PublicKey {
 public:
  // Accepts RSA and EC P-256 / P-384 keys; anything else is an error that
  // names the key type. EC keys are normalised to uncompressed points, the
  // encoding kube-apiserver hashes.
  static Result<PublicKey> from_evp(std::shared_ptr<EVP_PKEY> key);

  KeyType type() const { return type_; }
  std::string_view algorithm() const { return signing_algorithm(type_); }
  // base64url (no padding) of SHA-256 over the DER SubjectPublicKeyInfo:
  // kube-apiserver's keyIDFromPublicKey.
  const std::string& kid() const { return kid_; }
  // The DER SubjectPublicKeyInfo.
  const std::string& spki_der() const { return spki_der_; }
  EVP_PKEY* evp() const { return key_.get(); }

 private:
  PublicKey(std::shared_ptr<EVP_PKEY> key, KeyType type, std::string spki_der, std::string kid);

  std::shared_ptr<EVP_PKEY> key_;
  KeyType type_;
  std::string spki_der_;
  std::string kid_;
};

// Reads every public key in PEM text: "PUBLIC KEY" (PKIX), "RSA PUBLIC KEY"
// (PKCS#1) and "CERTIFICATE" blocks (their public key), as kube-apiserver's
// --service-account-key-file accepts. Private keys are refused with a
// message that says how to extract the public key and never quotes the
// input; so are malformed PEM, text without a key, and other key types.
// `origin` names the input in messages.
Result<std::vector<PublicKey>> parse_public_keys_pem(std::string_view pem, std::string_view origin);

}  // namespace irsa::oidc
