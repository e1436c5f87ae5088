// Service-account signing keys in PEM (oidc::parse_public_keys_pem, as
// `irsa-webhook oidc` reads --service-account-key-file), and each key
// through its JWK and back.
//
// Properties: never a crash; an error is one line and never quotes the
// input (it may be a private key); every key parsed has a kid and round-trips
// through to_jwk/parse_jwks to the same SubjectPublicKeyInfo and kid; the JWKS
// render_issuer_documents serves is valid JSON holding exactly those JWKs,
// each key once, in the order given.
//
// The served JWKS is compared, not parsed again: its keys are the JWKs the
// round trip has just parsed (each distinct key once), and OpenSSL's public
// key check (a Miller-Rabin test of an RSA modulus, an EC point times the
// group order) is much of this target's time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "oidc/discovery.h"
#include "oidc/json_input.h"
#include "oidc/jwk.h"
#include "oidc/provider.h"
#include "oidc/public_key.h"

namespace {

using irsa::fuzz::excerpt;

// No piece of key material (a base64 line of 16 bytes or more) shows up in
// `message`: each 16-byte piece of such a line that holds a digit, '+' or
// '/' is looked for. Pieces of letters only are not: the fuzzer learns the
// errors' own words and spells them in base64 (2026-11-27: a line starting
// "ectPublicKeyInfo" in a PUBLIC KEY block whose DER is not an SPKI).
void check_not_quoted(std::string_view input, const std::string& message) {
  std::size_t start = 0;
  while (start < input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(start, end - start);
    if (line.size() >= 16 && line.rfind("-----", 0) != 0 &&
        line.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
            std::string_view::npos) {
      for (std::size_t at = 0; at + 16 <= line.size(); at += 16) {
        std::string_view piece = line.substr(at, 16);
        if (piece.find_first_of("0123456789+/") == std::string_view::npos) continue;
        FUZZ_CHECK(message.find(piece) == std::string::npos, "error quotes the input: " + message);
      }
    }
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = irsa::fuzz::as_text(data, size);
  auto keys = irsa::oidc::parse_public_keys_pem(text, "key.pem");
  if (!keys) {
    FUZZ_CHECK(!keys.error().empty() && irsa::fuzz::one_line(keys.error()), keys.error());
    check_not_quoted(text, keys.error());
    return 0;
  }
  FUZZ_CHECK(!keys->empty(), "success without a key");
  nlohmann::json published = nlohmann::json::array();
  std::vector<const irsa::oidc::PublicKey*> distinct;
  for (const auto& key : *keys) {
    FUZZ_CHECK(!key.kid().empty() && !key.spki_der().empty(), "key without kid or SPKI");
    auto jwk = irsa::oidc::to_jwk(key, key.kid());
    bool seen = false;
    for (const auto* other : distinct)
      seen = seen || (other->kid() == key.kid() && other->spki_der() == key.spki_der());
    // A key given twice is published once, and its round trip is the same.
    if (seen) continue;
    distinct.push_back(&key);
    published.push_back(nlohmann::json::parse(jwk.dump()));
    auto parsed = irsa::oidc::parse_jwks(
        nlohmann::json::parse(nlohmann::json({{"keys", {jwk}}}).dump()), "jwk");
    // OpenSSL's RSA public key check (SP 800-56B) is randomised: a malformed
    // modulus with small factors, which PEM loading takes as kube-apiserver
    // does, may pass it once and fail it the next time. Real keys always pass.
    if (!parsed && parsed.error().find("public key check") != std::string::npos) continue;
    FUZZ_CHECK(parsed.ok(), parsed.error() + ": " + jwk.dump());
    FUZZ_CHECK(parsed->keys.size() == 1 && parsed->keys[0].key.spki_der() == key.spki_der() &&
                   parsed->keys[0].key.kid() == key.kid() && parsed->keys[0].kid == key.kid(),
               "JWK round trip: " + jwk.dump());
  }
  irsa::oidc::IssuerDocumentsOptions options;
  auto issuer = irsa::oidc::parse_issuer("https://oidc.example.com/cluster");
  FUZZ_CHECK(issuer.ok(), issuer.error());
  options.issuer = *issuer;
  auto documents = irsa::oidc::render_issuer_documents(*keys, options);
  FUZZ_CHECK(documents.ok(), documents.error());
  auto served = irsa::oidc::parse_json(documents->jwks, "jwks");
  FUZZ_CHECK(served.ok(), served.error());
  FUZZ_CHECK(served->is_object() && served->size() == 1 && served->contains("keys") &&
                 served->at("keys") == published,
             "served JWKS differs from the keys' JWKs: " + excerpt(documents->jwks));
  return 0;
}
