// A role trust policy that lets the given ServiceAccounts' projected tokens
// assume the role through an IAM OIDC provider.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "oidc/provider.h"

namespace irsa::oidc {

// A ServiceAccount by namespace and name; either may contain '*' (any run
// of characters), which makes the trust policy match it with StringLike.
struct ServiceAccountRef {
  std::string namespace_name;
  std::string name;

  // The token's `sub`: system:serviceaccount:NS:NAME.
  std::string subject() const { return "system:serviceaccount:" + namespace_name + ":" + name; }
  bool has_wildcard() const;
};

// Checks Kubernetes naming (a namespace is a DNS label, a name a DNS
// subdomain), with '*' allowed where `allow_wildcard`.
Result<ServiceAccountRef> make_service_account_ref(std::string_view namespace_name,
                                                   std::string_view name, bool allow_wildcard);

// Parses "NS/NAME".
Result<ServiceAccountRef> parse_service_account_ref(std::string_view text, bool allow_wildcard);

// Version 2012-10-17; one Allow statement for Principal.Federated =
// provider ARN and Action sts:AssumeRoleWithWebIdentity whose conditions are
// StringEquals on HOST/PATH:sub (the exact subjects) and HOST/PATH:aud; a
// second such statement with StringLike on sub when some names have '*'
// (the two cannot share a statement: conditions in one statement all apply).
// Preconditions: at least one service account and one audience.
nlohmann::ordered_json render_trust_policy(const Provider& provider,
                                           const std::vector<ServiceAccountRef>& service_accounts,
                                           const std::vector<std::string>& audiences);

// The same for a role trusted by several clusters: the statements above for
// each provider in turn (a provider given twice counts once). Each provider
// needs statements of its own: its condition keys are prefixed with its own
// HOST/PATH, and one statement naming two providers would require a token to
// carry both providers' claims at once (keys under one operator are ANDed).
// Preconditions: at least one provider, one service account, one audience.
nlohmann::ordered_json render_trust_policy(const std::vector<Provider>& providers,
                                           const std::vector<ServiceAccountRef>& service_accounts,
                                           const std::vector<std::string>& audiences);

// IAM's "Role trust policy length" quota (IAM and AWS STS quotas): 2,048
// characters by default; Service Quotas raises it to 4,096 on request.
inline constexpr std::size_t kTrustPolicyDefaultQuota = 2048;
inline constexpr std::size_t kTrustPolicyMaximumQuota = 4096;

// The policy's length as IAM counts it against that quota: characters, white
// space not counted.
std::size_t iam_policy_length(const nlohmann::ordered_json& policy);

// What to tell the user when a policy of `length` (iam_policy_length) will
// not fit the default quota or cannot fit even the raised one; nullopt when
// it fits the default.
std::optional<std::string> trust_policy_size_warning(std::size_t length);

}  // namespace irsa::oidc
