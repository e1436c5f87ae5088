// `explain`: the checks STS makes on AssumeRoleWithWebIdentity, run offline
// on a token, a JWKS and a role trust policy, each with its verdict.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "oidc/check.h"
#include "oidc/jwk.h"
#include "oidc/provider.h"
#include "oidc/trust_policy.h"

namespace irsa::oidc {

// Clock skew allowed on exp, nbf and iat. STS does not document its own;
// this is deliberately small so that a pass here is not optimistic.
inline constexpr std::int64_t kClockLeewaySeconds = 60;

enum class Outcome { kAllowed, kDenied, kUnknown };

struct Report {
  std::vector<Check> checks;
  Outcome outcome = Outcome::kDenied;
  std::string reason;  // empty when allowed
};

struct ExplainOptions {
  Provider provider;
  // The provider's client id the token's aud must contain.
  std::string audience = "sts.amazonaws.com";
  std::int64_t now = 0;  // seconds since the epoch
};

// Checks the token (alg RS256/ES256/ES384, never none or HMAC; the JWKS key
// by kid, or every key of the alg's type when the token has no kid; the
// signature; iss equal to the provider's URL; aud containing the client id;
// exp/nbf/iat against now with kClockLeewaySeconds; a sub), then the policy
// for its claims. The outcome is DENIED at the first failing check, else
// UNKNOWN if a check could not be made, else ALLOWED. Errors: a token that
// is not a JWS, a policy IAM would not accept.
Result<Report> explain_token(const nlohmann::json& policy, std::string_view token, const Jwks& jwks,
                             const ExplainOptions& options);

// The policy alone, for the claims a projected token of `account` would
// carry (sub system:serviceaccount:NS:NAME, aud [options.audience]).
Result<Report> explain_service_account(const nlohmann::json& policy,
                                       const ServiceAccountRef& account,
                                       const ExplainOptions& options);

// The one oidc-provider the policy trusts, for when none is given. Errors
// when it names none or several.
Result<Provider> provider_from_policy(const nlohmann::json& policy);

// The provider to check `token` against: the policy's one oidc-provider, or,
// when it trusts several (one role for several clusters), the one whose
// issuer is the token's `iss` (read before any check; explain_token then
// checks everything). Errors when none fits, naming the providers.
Result<Provider> provider_for_token(const nlohmann::json& policy, std::string_view token);

// One line per check, then "ALLOWED", "DENIED: <reason>" or
// "UNKNOWN: <reason>"; ends with a newline.
std::string render_report(const Report& report);

}  // namespace irsa::oidc
