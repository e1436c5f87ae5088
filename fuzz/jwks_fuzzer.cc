// A JWKS as `irsa-webhook oidc` reads it (the API server's /openid/v1/jwks,
// or a file): oidc::parse_json -> oidc::parse_jwks -> the issuer documents.
//
// Properties: never a crash; errors are one line and never quote private
// key material (the values of d, p, q, dp, dq, qi, k); every key read
// round-trips through to_jwk; the documents rendered from a JWKS are JSON
// whose JWKS parses back with every key, under the kid it was read with.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "oidc/discovery.h"
#include "oidc/json_input.h"
#include "oidc/jwk.h"
#include "oidc/provider.h"

namespace {

using irsa::fuzz::excerpt;
using nlohmann::json;

void check_not_quoted(const json& document, const std::string& message) {
  if (!document.is_object() || !document.contains("keys") || !document["keys"].is_array()) return;
  for (const auto& key : document["keys"]) {
    if (!key.is_object()) continue;
    for (const char* member : {"d", "p", "q", "dp", "dq", "qi", "k"}) {
      auto value = key.find(member);
      if (value == key.end() || !value->is_string()) continue;
      const auto& text = value->get_ref<const std::string&>();
      // Key material only: the fuzzer learns the errors' own words.
      if (text.size() < 12 ||
          text.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
              std::string::npos) {
        continue;
      }
      FUZZ_CHECK(message.find(text.substr(0, 12)) == std::string::npos,
                 std::string("error quotes \"") + member + "\": " + message);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto document = irsa::oidc::parse_json(irsa::fuzz::as_text(data, size), "jwks.json");
  if (!document) {
    FUZZ_CHECK(irsa::fuzz::one_line(document.error()), document.error());
    return 0;
  }
  auto jwks = irsa::oidc::parse_jwks(*document, "jwks.json");
  if (!jwks) {
    FUZZ_CHECK(!jwks.error().empty() && irsa::fuzz::one_line(jwks.error()), jwks.error());
    check_not_quoted(*document, jwks.error());
    return 0;
  }
  FUZZ_CHECK(!jwks->keys.empty(), "a JWKS without usable keys was accepted");
  for (const auto& skipped : jwks->skipped) check_not_quoted(*document, skipped);
  for (const auto& entry : jwks->keys) {
    auto jwk = irsa::oidc::to_jwk(entry.key, entry.key.kid());
    auto again = irsa::oidc::parse_jwks(json({{"keys", {json::parse(jwk.dump())}}}), "jwk");
    // OpenSSL's RSA public key check is randomised for malformed moduli (see
    // pem_keys_fuzzer.cc): the same key may pass once and fail the next time.
    if (!again && again.error().find("public key check") != std::string::npos) continue;
    FUZZ_CHECK(again.ok() && again->keys.size() == 1 &&
                   again->keys[0].key.spki_der() == entry.key.spki_der(),
               "to_jwk round trip: " + jwk.dump());
  }

  irsa::oidc::IssuerDocumentsOptions options;
  auto issuer = irsa::oidc::parse_issuer("https://oidc.example.com/cluster");
  FUZZ_CHECK(issuer.ok(), issuer.error());
  options.issuer = *issuer;
  options.legacy_empty_kid = size % 2 == 0;
  auto documents = irsa::oidc::render_issuer_documents(*jwks, options);
  if (!documents) {
    FUZZ_CHECK(irsa::fuzz::one_line(documents.error()), documents.error());
    return 0;
  }
  auto discovery = irsa::oidc::parse_json(documents->discovery, "discovery");
  FUZZ_CHECK(discovery.ok() && discovery->is_object(), excerpt(documents->discovery));
  auto served = irsa::oidc::parse_json(documents->jwks, "jwks");
  FUZZ_CHECK(served.ok(), served.error());
  auto reread = irsa::oidc::parse_jwks(*served, "jwks");
  if (!reread && reread.error().find("public key check") != std::string::npos) return 0;
  FUZZ_CHECK(reread.ok(), reread.error());
  std::set<std::string> served_keys;
  for (const auto& entry : reread->keys) served_keys.insert(entry.key.spki_der());
  for (const auto& entry : jwks->keys) {
    FUZZ_CHECK(served_keys.count(entry.key.spki_der()), "a key is not served");
  }
  return 0;
}
