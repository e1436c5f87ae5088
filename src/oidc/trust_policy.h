// A role trust policy that lets the given ServiceAccounts' projected tokens
// assume the role through an IAM OIDC provider.
#pragma once

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

}  // namespace irsa::oidc
