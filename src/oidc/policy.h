// Offline evaluation of a role trust policy for AssumeRoleWithWebIdentity,
// with IAM's semantics for the elements a trust policy for an OIDC provider
// uses. What is not implemented is reported as unknown, never as a pass.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "oidc/check.h"
#include "oidc/provider.h"

namespace irsa::oidc {

// The request context STS builds from a verified token: the condition keys
// HOST/PATH:sub, :aud and :amr. An absent claim is std::nullopt.
struct WebIdentityRequest {
  Provider provider;
  std::optional<std::string> sub;
  std::optional<std::vector<std::string>> aud;
  std::optional<std::vector<std::string>> amr;
};

struct PolicyDecision {
  Verdict verdict;            // kPass allowed, kFail denied, kUnknown not decidable here
  std::string reason;         // why, in plain words
  std::vector<Check> checks;  // per statement (depth 1) and its parts (depth 2)
};

// Evaluates every statement: Effect Allow/Deny (an applicable Deny wins),
// Principal ("*" or Federated) / NotPrincipal (unsupported), Action /
// NotAction with IAM wildcards (case-insensitive), and Condition with
// String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike},
// optional ForAnyValue:/ForAllValues: and IfExists, on the provider's
// sub/aud/amr keys (case-insensitive). Other operators and keys, and policy
// variables, are unknown. A statement applies when all its parts do; one
// definite mismatch makes it not apply even if another part is unknown.
// Errors: a document IAM would not accept as a policy (not an object, no
// Statement, bad Effect, Condition not an object, ...).
Result<PolicyDecision> evaluate_trust_policy(const nlohmann::json& policy,
                                             const WebIdentityRequest& request);

// The distinct oidc-provider ARNs named in Principal.Federated of the
// policy's statements, in order of appearance.
std::vector<std::string> federated_oidc_providers(const nlohmann::json& policy);

// IAM's wildcard match: '*' any run of characters (also none), '?' one.
bool iam_wildcard_match(std::string_view pattern, std::string_view text, bool ignore_case);

}  // namespace irsa::oidc
