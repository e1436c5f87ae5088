// Projected ServiceAccount tokens (compact JWS) as `irsa-webhook oidc
// explain` reads them: oidc::decode_jwt, signature verification and the STS
// checks of oidc::explain_token against a fixed JWKS and trust policy. Each
// decodable input is also re-signed with the JWKS's own keys, so that the
// claim and policy checks behind the signature are reached.
//
// Properties: never a crash; decode errors are one line and never quote the
// token; a report never contains the token's signature; our own signature
// verifies; ALLOWED only for RS256/ES256/ES384 tokens whose signature
// verifies with a key of the JWKS (never alg none or HMAC).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "oidc/base64url.h"
#include "oidc/explain.h"
#include "oidc/jwk.h"
#include "oidc/jws.h"
#include "oidc_keys.h"

namespace {

using irsa::fuzz::excerpt;
using nlohmann::json;

struct Fixture {
  irsa::fuzz::SigningKey ec;
  irsa::fuzz::SigningKey rsa;
  irsa::oidc::Jwks jwks;
  json policy;
  irsa::oidc::ExplainOptions options;
};

const Fixture& fixture() {
  static Fixture* instance = [] {
    auto* f = new Fixture;
    f->ec = irsa::fuzz::make_signing_key(irsa::oidc::KeyType::kEcP256);
    f->rsa = irsa::fuzz::make_signing_key(irsa::oidc::KeyType::kRsa);
    json keys = json::array();
    keys.push_back(
        json::parse(irsa::oidc::to_jwk(*f->ec.public_key, f->ec.public_key->kid()).dump()));
    keys.push_back(
        json::parse(irsa::oidc::to_jwk(*f->rsa.public_key, f->rsa.public_key->kid()).dump()));
    auto jwks = irsa::oidc::parse_jwks(json{{"keys", json::parse(keys.dump())}}, "fixture");
    FUZZ_CHECK(jwks.ok(), jwks.error());
    f->jwks = std::move(*jwks);
    auto provider = irsa::oidc::parse_provider_arn(
        "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster");
    FUZZ_CHECK(provider.ok(), provider.error());
    f->options.provider = *provider;
    f->options.now = 1700000000;
    f->policy = json::parse(R"({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
      "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster"},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {"StringEquals": {"oidc.example.com/cluster:aud": "sts.amazonaws.com"},
                    "StringLike": {"oidc.example.com/cluster:sub": "system:serviceaccount:shop:*"}}}]})");
    return f;
  }();
  return *instance;
}

std::vector<std::string_view> segments(std::string_view token) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = token.find('.', start);
    out.push_back(token.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

bool verifies_with_jwks(const irsa::oidc::Jwt& jwt) {
  for (const auto& entry : fixture().jwks.keys) {
    if (irsa::oidc::verify_signature(entry.key, jwt.alg, jwt.signing_input, jwt.signature)) {
      return true;
    }
  }
  return false;
}

void explain(std::string_view token) {
  const Fixture& f = fixture();
  auto report = irsa::oidc::explain_token(f.policy, token, f.jwks, f.options);
  if (!report) {
    FUZZ_CHECK(irsa::fuzz::one_line(report.error()), report.error());
    return;
  }
  std::string text = irsa::oidc::render_report(*report);
  // One line per check and one for the verdict, whatever the token holds.
  FUZZ_CHECK(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) ==
                 report->checks.size() + 1,
             text);
  auto parts = segments(token);
  if (parts.size() == 3 && parts[2].size() >= 16) {
    FUZZ_CHECK(text.find(parts[2]) == std::string::npos, "the report shows the signature");
  }
  if (report->outcome == irsa::oidc::Outcome::kAllowed) {
    auto jwt = irsa::oidc::decode_jwt(token);
    FUZZ_CHECK(jwt.ok(), "ALLOWED for a token that does not decode");
    FUZZ_CHECK(irsa::oidc::is_supported_algorithm(jwt->alg), "ALLOWED with alg " + jwt->alg);
    FUZZ_CHECK(verifies_with_jwks(*jwt), "ALLOWED without a verifying key");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view token = irsa::fuzz::as_text(data, size);
  const Fixture& f = fixture();
  auto jwt = irsa::oidc::decode_jwt(token);
  if (!jwt) {
    FUZZ_CHECK(!jwt.error().empty() && irsa::fuzz::one_line(jwt.error()), jwt.error());
    for (std::string_view part : segments(token)) {
      // Token-like text only: the fuzzer learns the errors' own words.
      if (part.size() >= 12 &&
          part.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              std::string_view::npos) {
        FUZZ_CHECK(jwt.error().find(part.substr(0, 12)) == std::string::npos,
                   "error quotes the token: " + jwt.error());
      }
    }
  }
  explain(token);
  if (!jwt) return 0;

  // The same header and claims, signed by the JWKS's key for the token's alg
  // (the EC key for any other alg, which must then never be ALLOWED).
  const irsa::fuzz::SigningKey& key = jwt->alg == "RS256" ? f.rsa : f.ec;
  std::string signature = irsa::fuzz::sign(key, jwt->signing_input);
  if (jwt->alg == key.public_key->algorithm()) {
    auto verified =
        irsa::oidc::verify_signature(*key.public_key, jwt->alg, jwt->signing_input, signature);
    FUZZ_CHECK(verified.ok(), verified.error());
  }
  explain(jwt->signing_input + "." + irsa::oidc::base64url_encode(signature));
  return 0;
}
