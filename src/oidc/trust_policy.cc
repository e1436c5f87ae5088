// Trust policy rendering and ServiceAccount name validation.
#include "oidc/trust_policy.h"

#include <algorithm>
#include <cctype>

namespace irsa::oidc {
namespace {

bool is_name_char(char c, bool dots) {
  return std::islower(static_cast<unsigned char>(c)) ||
         std::isdigit(static_cast<unsigned char>(c)) || c == '-' || (dots && c == '.');
}

// A DNS label (dots=false, 63) or subdomain (dots=true, 253), optionally with '*'.
Status check_name(std::string_view what, std::string_view name, bool dots, bool allow_wildcard) {
  const std::string quoted = std::string(what) + " \"" + std::string(name) + "\"";
  std::size_t limit = dots ? 253 : 63;
  if (name.empty()) return Error{std::string(what) + " is empty"};
  if (name.size() > limit) {
    return Error{quoted + " is longer than " + std::to_string(limit) + " characters"};
  }
  for (char c : name) {
    if (c == '*' && allow_wildcard) continue;
    if (!is_name_char(c, dots)) {
      return Error{quoted + " is not a Kubernetes name (lower-case letters, digits, '-'" +
                   (dots ? ", '.'" : "") + (allow_wildcard ? ", or '*' as a wildcard)" : ")")};
    }
  }
  bool edge_ok = [&] {
    auto ok = [&](char c) { return c == '*' || std::isalnum(static_cast<unsigned char>(c)); };
    return ok(name.front()) && ok(name.back());
  }();
  if (!edge_ok) return Error{quoted + " must start and end with a letter or digit"};
  return Ok{};
}

nlohmann::ordered_json one_or_many(const std::vector<std::string>& values) {
  if (values.size() == 1) return values.front();
  return values;
}

nlohmann::ordered_json statement(const Provider& provider, std::string_view sub_operator,
                                 const std::vector<std::string>& subjects,
                                 const std::vector<std::string>& audiences) {
  const std::string& prefix = provider.issuer.host_path;
  nlohmann::ordered_json conditions;
  if (sub_operator == "StringEquals") {
    conditions["StringEquals"][prefix + ":sub"] = one_or_many(subjects);
    conditions["StringEquals"][prefix + ":aud"] = one_or_many(audiences);
  } else {
    conditions["StringEquals"][prefix + ":aud"] = one_or_many(audiences);
    conditions[std::string(sub_operator)][prefix + ":sub"] = one_or_many(subjects);
  }
  nlohmann::ordered_json out;
  out["Effect"] = "Allow";
  out["Principal"]["Federated"] = provider.arn;
  out["Action"] = "sts:AssumeRoleWithWebIdentity";
  out["Condition"] = std::move(conditions);
  return out;
}

}  // namespace

bool ServiceAccountRef::has_wildcard() const {
  return namespace_name.find('*') != std::string::npos || name.find('*') != std::string::npos;
}

Result<ServiceAccountRef> make_service_account_ref(std::string_view namespace_name,
                                                   std::string_view name, bool allow_wildcard) {
  if (auto ok = check_name("namespace", namespace_name, false, allow_wildcard); !ok) {
    return Error{ok.error()};
  }
  if (auto ok = check_name("service account name", name, true, allow_wildcard); !ok) {
    return Error{ok.error()};
  }
  return ServiceAccountRef{std::string(namespace_name), std::string(name)};
}

Result<ServiceAccountRef> parse_service_account_ref(std::string_view text, bool allow_wildcard) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos || text.find('/', slash + 1) != std::string_view::npos) {
    return Error{"service account \"" + std::string(text) + "\" is not NAMESPACE/NAME"};
  }
  return make_service_account_ref(text.substr(0, slash), text.substr(slash + 1), allow_wildcard);
}

nlohmann::ordered_json render_trust_policy(const Provider& provider,
                                           const std::vector<ServiceAccountRef>& service_accounts,
                                           const std::vector<std::string>& audiences) {
  return render_trust_policy(std::vector<Provider>{provider}, service_accounts, audiences);
}

nlohmann::ordered_json render_trust_policy(const std::vector<Provider>& providers,
                                           const std::vector<ServiceAccountRef>& service_accounts,
                                           const std::vector<std::string>& audiences) {
  std::vector<std::string> exact;
  std::vector<std::string> patterns;
  for (const auto& account : service_accounts) {
    auto& into = account.has_wildcard() ? patterns : exact;
    std::string subject = account.subject();
    if (std::find(into.begin(), into.end(), subject) == into.end())
      into.push_back(std::move(subject));
  }
  nlohmann::ordered_json statements = nlohmann::ordered_json::array();
  std::vector<std::string> seen;
  for (const auto& provider : providers) {
    if (std::find(seen.begin(), seen.end(), provider.arn) != seen.end()) continue;
    seen.push_back(provider.arn);
    if (!exact.empty()) statements.push_back(statement(provider, "StringEquals", exact, audiences));
    if (!patterns.empty()) {
      statements.push_back(statement(provider, "StringLike", patterns, audiences));
    }
  }
  nlohmann::ordered_json policy;
  policy["Version"] = "2012-10-17";
  policy["Statement"] = std::move(statements);
  return policy;
}

std::size_t iam_policy_length(const nlohmann::ordered_json& policy) {
  std::size_t length = 0;
  for (unsigned char c : policy.dump()) {
    // Characters: a UTF-8 continuation byte is part of the one before it.
    if ((c & 0xC0) == 0x80) continue;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    ++length;
  }
  return length;
}

std::optional<std::string> trust_policy_size_warning(std::size_t length) {
  const std::string size = "the policy is " + std::to_string(length) +
                           " characters as IAM counts them (white space excluded)";
  if (length > kTrustPolicyMaximumQuota) {
    return size + ", over " + std::to_string(kTrustPolicyMaximumQuota) +
           ", the most the \"Role trust policy length\" quota can be raised to: IAM will refuse "
           "it. Trust fewer clusters or ServiceAccounts per role, or match names with '*'";
  }
  if (length > kTrustPolicyDefaultQuota) {
    return size + ", over the default \"Role trust policy length\" quota of " +
           std::to_string(kTrustPolicyDefaultQuota) +
           ": IAM will refuse it unless the account's quota was raised (Service Quotas, IAM, "
           "up to " +
           std::to_string(kTrustPolicyMaximumQuota) + ")";
  }
  return std::nullopt;
}

}  // namespace irsa::oidc
