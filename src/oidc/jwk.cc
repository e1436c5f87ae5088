// JWK export and import through OpenSSL 3's key parameters.
#include "oidc/jwk.h"

#include <memory>
#include <utility>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "common/openssl.h"
#include "common/quote.h"
#include "oidc/base64url.h"

namespace irsa::oidc {
namespace {

// Keys in one JWKS beyond this are refused: bounds the work of a check.
constexpr std::size_t kMaxJwksKeys = 100;

using openssl::Bignum;

std::size_t field_size(KeyType type) { return type == KeyType::kEcP384 ? 48 : 32; }

std::string bignum_param(EVP_PKEY* key, const char* name, std::size_t pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    ERR_clear_error();
    return {};
  }
  Bignum bn(raw);
  std::size_t size = static_cast<std::size_t>(BN_num_bytes(bn.get()));
  if (pad_to > size) size = pad_to;
  std::string bytes(size, '\0');
  BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(size));
  return bytes;
}

// Builds a public EVP_PKEY of `type_name` from `bld`'s parameters and checks it.
Result<std::shared_ptr<EVP_PKEY>> key_from_params(const char* type_name, OSSL_PARAM_BLD* bld) {
  openssl::Params params(OSSL_PARAM_BLD_to_param(bld));
  openssl::KeyContext ctx(EVP_PKEY_CTX_new_from_name(nullptr, type_name, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return Error{"is not a valid public key"};
  }
  std::shared_ptr<EVP_PKEY> key = openssl::Key(raw);
  openssl::KeyContext check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return Error{"is not a valid public key (fails OpenSSL's public key check)"};
  }
  return key;
}

Result<std::string> member_bytes(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return Error{std::string("has no \"") + name + "\" string"};
  }
  auto bytes = base64url_decode(it->get<std::string>());
  if (!bytes) return Error{std::string("member \"") + name + "\" " + bytes.error()};
  if (bytes->empty()) return Error{std::string("member \"") + name + "\" is empty"};
  return bytes;
}

Result<std::shared_ptr<EVP_PKEY>> rsa_from_jwk(const nlohmann::json& jwk) {
  auto n = member_bytes(jwk, "n");
  if (!n) return Error{n.error()};
  auto e = member_bytes(jwk, "e");
  if (!e) return Error{e.error()};
  Bignum n_bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                        static_cast<int>(n->size()), nullptr));
  Bignum e_bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                        static_cast<int>(e->size()), nullptr));
  // Before OpenSSL's public key check, whose cost grows with the modulus.
  if (n_bn && BN_num_bits(n_bn.get()) > kMaxRsaBits) {
    return Error{"has an RSA modulus of " + std::to_string(BN_num_bits(n_bn.get())) +
                 " bits; keys over " + std::to_string(kMaxRsaBits) + " bits are refused"};
  }
  openssl::ParamBuilder bld(OSSL_PARAM_BLD_new());
  if (!n_bn || !e_bn || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
    ERR_clear_error();
    return Error{"cannot be built (out of memory)"};
  }
  return key_from_params("RSA", bld.get());
}

Result<std::shared_ptr<EVP_PKEY>> ec_from_jwk(const nlohmann::json& jwk, KeyType type) {
  auto x = member_bytes(jwk, "x");
  if (!x) return Error{x.error()};
  auto y = member_bytes(jwk, "y");
  if (!y) return Error{y.error()};
  std::size_t size = field_size(type);
  if (x->size() != size || y->size() != size) {
    return Error{"has x/y of " + std::to_string(x->size()) + "/" + std::to_string(y->size()) +
                 " bytes; " + std::string(describe(type)) + " needs " + std::to_string(size)};
  }
  std::string point = "\x04" + *x + *y;
  openssl::ParamBuilder bld(OSSL_PARAM_BLD_new());
  const char* group = type == KeyType::kEcP384 ? "P-384" : "P-256";
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    ERR_clear_error();
    return Error{"cannot be built (out of memory)"};
  }
  return key_from_params("EC", bld.get());
}

std::optional<std::string> optional_string(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

nlohmann::ordered_json to_jwk(const PublicKey& key, std::string_view kid) {
  nlohmann::ordered_json jwk;
  jwk["use"] = "sig";
  if (key.type() == KeyType::kRsa) {
    jwk["kty"] = "RSA";
    jwk["kid"] = std::string(kid);
    jwk["alg"] = std::string(key.algorithm());
    jwk["n"] = base64url_encode(bignum_param(key.evp(), OSSL_PKEY_PARAM_RSA_N, 0));
    jwk["e"] = base64url_encode(bignum_param(key.evp(), OSSL_PKEY_PARAM_RSA_E, 0));
  } else {
    std::size_t size = field_size(key.type());
    jwk["kty"] = "EC";
    jwk["kid"] = std::string(kid);
    jwk["crv"] = key.type() == KeyType::kEcP384 ? "P-384" : "P-256";
    jwk["alg"] = std::string(key.algorithm());
    jwk["x"] = base64url_encode(bignum_param(key.evp(), OSSL_PKEY_PARAM_EC_PUB_X, size));
    jwk["y"] = base64url_encode(bignum_param(key.evp(), OSSL_PKEY_PARAM_EC_PUB_Y, size));
  }
  return jwk;
}

Result<Jwks> parse_jwks(const nlohmann::json& document, std::string_view origin) {
  const std::string where(origin);
  if (!document.is_object() || !document.contains("keys") || !document["keys"].is_array()) {
    return Error{where + " is not a JWKS (an object with a \"keys\" array)"};
  }
  const auto& entries = document["keys"];
  if (entries.empty()) return Error{where + " has no keys"};
  if (entries.size() > kMaxJwksKeys) {
    return Error{where + " has " + std::to_string(entries.size()) + " keys; at most " +
                 std::to_string(kMaxJwksKeys) + " are read"};
  }
  Jwks jwks;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& jwk = entries[i];
    std::string which = where + " key " + std::to_string(i + 1);
    if (!jwk.is_object()) return Error{which + " is not an object"};
    auto kid = optional_string(jwk, "kid");
    if (kid) which += " (kid " + quote(*kid) + ")";
    for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}) {
      if (jwk.contains(secret)) {
        return Error{which + " holds private key material (\"" + std::string(secret) +
                     "\"); a JWKS must hold public keys only"};
      }
    }
    auto kty = optional_string(jwk, "kty");
    if (!kty) return Error{which + " has no \"kty\""};
    Result<std::shared_ptr<EVP_PKEY>> evp = Error{""};
    if (*kty == "RSA") {
      evp = rsa_from_jwk(jwk);
    } else if (*kty == "EC") {
      auto crv = optional_string(jwk, "crv");
      if (crv == "P-256") {
        evp = ec_from_jwk(jwk, KeyType::kEcP256);
      } else if (crv == "P-384") {
        evp = ec_from_jwk(jwk, KeyType::kEcP384);
      } else {
        jwks.skipped.push_back(which + ": curve " + crv.value_or("(none)") + " is not supported");
        continue;
      }
    } else {
      jwks.skipped.push_back(which + ": kty " + *kty + " is not supported");
      continue;
    }
    if (!evp) return Error{which + " " + evp.error()};
    auto key = PublicKey::from_evp(std::move(*evp));
    if (!key) return Error{which + " " + key.error()};
    jwks.keys.push_back(JwkEntry{std::move(kid), optional_string(jwk, "alg"),
                                 optional_string(jwk, "use"), std::move(*key)});
  }
  if (jwks.keys.empty()) return Error{where + " has no RSA, P-256 or P-384 key"};
  return jwks;
}

}  // namespace irsa::oidc
