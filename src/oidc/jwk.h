// JSON Web Keys (RFC 7517/7518) as kube-apiserver publishes them at
// /openid/v1/jwks, and reading a JWKS back for verification.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "oidc/public_key.h"

namespace irsa::oidc {

// The JWK of `key` with members in go-jose's order: use "sig", kty, kid
// (as given: kube-apiserver's kid, or "" for the legacy copy), crv, alg, then
// x/y (EC, padded to the field size) or n/e (RSA, minimal big-endian).
nlohmann::ordered_json to_jwk(const PublicKey& key, std::string_view kid);

// One key of a JWKS with the members that restrict its use.
struct JwkEntry {
  std::optional<std::string> kid;
  std::optional<std::string> alg;
  std::optional<std::string> use;
  PublicKey key;
};

// A JWKS read for verification. Keys of types this tool cannot use (kty OKP,
// curve P-521, ...) are left out and described in `skipped`.
struct Jwks {
  std::vector<JwkEntry> keys;
  std::vector<std::string> skipped;
};

// Reads {"keys": [...]}. Errors (never echoing key material): not a JWKS,
// a malformed RSA/EC key, a point not on its curve, private members (d, p,
// ...), or no usable key at all. `origin` names the input in messages.
Result<Jwks> parse_jwks(const nlohmann::json& document, std::string_view origin);

}  // namespace irsa::oidc
