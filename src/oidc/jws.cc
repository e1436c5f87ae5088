// JWS decoding and EVP_DigestVerify-based signature checks.
#include "oidc/jws.h"

#include <memory>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "common/openssl.h"
#include "oidc/base64url.h"
#include "oidc/json_input.h"

namespace irsa::oidc {
namespace {

Result<nlohmann::json> decode_object(std::string_view part, std::string_view what) {
  auto bytes = base64url_decode(part);
  if (!bytes) return Error{"token " + std::string(what) + " " + bytes.error()};
  auto value = parse_json(*bytes, "token " + std::string(what));
  if (!value || !value->is_object()) {
    return Error{"token " + std::string(what) + " is not a JSON object"};
  }
  return value;
}

std::size_t field_size_of(KeyType type) { return type == KeyType::kEcP384 ? 48 : 32; }

}  // namespace

Result<Jwt> decode_jwt(std::string_view compact) {
  if (compact.empty()) return Error{"the token is empty"};
  if (compact.size() > kMaxTokenSize) return Error{"the token is larger than 64 KiB"};
  std::size_t first = compact.find('.');
  std::size_t second = first == std::string_view::npos ? first : compact.find('.', first + 1);
  if (second == std::string_view::npos || compact.find('.', second + 1) != std::string_view::npos) {
    return Error{"the token is not a compact JWS (three base64url parts separated by '.')"};
  }
  Jwt jwt;
  auto header = decode_object(compact.substr(0, first), "header");
  if (!header) return Error{header.error()};
  jwt.header = std::move(*header);
  auto claims = decode_object(compact.substr(first + 1, second - first - 1), "payload");
  if (!claims) return Error{claims.error()};
  jwt.claims = std::move(*claims);
  auto signature = base64url_decode(compact.substr(second + 1));
  if (!signature) return Error{"token signature " + signature.error()};
  jwt.signature = std::move(*signature);

  auto alg = jwt.header.find("alg");
  if (alg == jwt.header.end() || !alg->is_string()) {
    return Error{"the token header has no \"alg\" string"};
  }
  jwt.alg = alg->get<std::string>();
  if (auto kid = jwt.header.find("kid"); kid != jwt.header.end()) {
    if (!kid->is_string()) return Error{"the token header's \"kid\" is not a string"};
    jwt.kid = kid->get<std::string>();
  }
  jwt.signing_input = std::string(compact.substr(0, second));
  return jwt;
}

bool is_supported_algorithm(std::string_view alg) {
  return alg == "RS256" || alg == "ES256" || alg == "ES384";
}

KeyType key_type_for(std::string_view alg) {
  if (alg == "ES256") return KeyType::kEcP256;
  if (alg == "ES384") return KeyType::kEcP384;
  return KeyType::kRsa;
}

Result<std::string> ecdsa_raw_to_der(std::string_view raw, std::size_t field_size) {
  if (raw.size() != 2 * field_size) {
    return Error{"signature has " + std::to_string(raw.size()) + " bytes, expected " +
                 std::to_string(2 * field_size)};
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  openssl::Bignum r(BN_bin2bn(bytes, static_cast<int>(field_size), nullptr));
  openssl::Bignum s(BN_bin2bn(bytes + field_size, static_cast<int>(field_size), nullptr));
  openssl::EcdsaSignature sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    ERR_clear_error();
    return Error{"signature cannot be converted (out of memory)"};
  }
  // The signature owns r and s now.
  static_cast<void>(r.release());
  static_cast<void>(s.release());
  unsigned char* raw_der = nullptr;
  int length = i2d_ECDSA_SIG(sig.get(), &raw_der);
  openssl::Bytes der(raw_der);
  if (length <= 0) {
    ERR_clear_error();
    return Error{"signature cannot be DER-encoded"};
  }
  return std::string(reinterpret_cast<const char*>(der.get()), static_cast<std::size_t>(length));
}

Result<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t field_size) {
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  openssl::EcdsaSignature sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (!sig) {
    ERR_clear_error();
    return Error{"not a DER ECDSA signature"};
  }
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  if (static_cast<std::size_t>(BN_num_bytes(r)) > field_size ||
      static_cast<std::size_t>(BN_num_bytes(s)) > field_size) {
    return Error{"ECDSA signature values are larger than the field"};
  }
  std::string out(2 * field_size, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  BN_bn2binpad(r, bytes, static_cast<int>(field_size));
  BN_bn2binpad(s, bytes + field_size, static_cast<int>(field_size));
  return out;
}

Status verify_signature(const PublicKey& key, std::string_view alg, std::string_view signing_input,
                        std::string_view signature) {
  if (!is_supported_algorithm(alg)) return Error{"alg " + std::string(alg) + " is not supported"};
  KeyType wanted = key_type_for(alg);
  if (key.type() != wanted) {
    return Error{"key " + key.kid() + " is " + std::string(describe(key.type())) +
                 ", which cannot verify " + std::string(alg)};
  }
  std::string der;
  std::string_view to_verify = signature;
  const EVP_MD* digest = alg == "ES384" ? EVP_sha384() : EVP_sha256();
  if (wanted != KeyType::kRsa) {
    auto converted = ecdsa_raw_to_der(signature, field_size_of(wanted));
    if (!converted) return Error{converted.error()};
    der = std::move(*converted);
    to_verify = der;
  }
  openssl::DigestContext ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, digest, nullptr, key.evp()) != 1) {
    ERR_clear_error();
    return Error{"cannot set up verification with key " + key.kid()};
  }
  int verified = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(to_verify.data()), to_verify.size(),
      reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
  ERR_clear_error();
  if (verified != 1) return Error{"the signature does not verify with key " + key.kid()};
  return Ok{};
}

}  // namespace irsa::oidc
