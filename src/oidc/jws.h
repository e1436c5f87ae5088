// Compact JWS tokens (RFC 7515) as kube-apiserver mints them: splitting and
// decoding, and signature verification for RS256, ES256 and ES384.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "oidc/public_key.h"

namespace irsa::oidc {

// A decoded, unverified token. (clang-tidy 14 takes nlohmann::json's
// by-value assignment for one that may throw out of the implicit move.)
struct Jwt {              // NOLINT(bugprone-exception-escape)
  nlohmann::json header;  // a JSON object
  nlohmann::json claims;  // a JSON object
  std::string alg;        // header "alg"
  std::optional<std::string> kid;
  std::string signing_input;  // "<header>.<payload>" as received
  std::string signature;      // decoded bytes; empty for alg "none"
};

// Tokens longer than this are refused (projected tokens are about 1 KiB).
inline constexpr std::size_t kMaxTokenSize = 64 * 1024;

// Splits and decodes a compact JWS: three base64url parts, a header object
// with a string "alg" (and "kid" a string if present), a claims object.
// Errors never quote the token.
Result<Jwt> decode_jwt(std::string_view compact);

// True for the algorithms verify_signature implements: RS256, ES256, ES384.
bool is_supported_algorithm(std::string_view alg);

// The key type that can verify `alg`; precondition: is_supported_algorithm(alg).
KeyType key_type_for(std::string_view alg);

// Verifies `signature` over `signing_input` with `key` for `alg`. ECDSA
// signatures are JWS's raw r||s. The error says why (wrong key type, wrong
// length, does not verify).
Status verify_signature(const PublicKey& key, std::string_view alg, std::string_view signing_input,
                        std::string_view signature);

// JWS ECDSA signature (r||s, each `field_size` bytes) to DER ECDSA-Sig-Value.
Result<std::string> ecdsa_raw_to_der(std::string_view raw, std::size_t field_size);

// DER ECDSA-Sig-Value to JWS's r||s, each left-padded to `field_size`.
Result<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t field_size);

}  // namespace irsa::oidc
