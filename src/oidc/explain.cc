// The token checks STS makes, combined with the trust policy evaluation.
#include "oidc/explain.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "common/quote.h"
#include "oidc/jws.h"
#include "oidc/numeric_date.h"
#include "oidc/policy.h"

namespace irsa::oidc {
namespace {

using nlohmann::json;

std::string leeway_note(std::int64_t now) {
  return "(now " + format_rfc3339(now) + ", leeway " + std::to_string(kClockLeewaySeconds) + "s)";
}

// A claim that is a string or an array of strings, as a list; nullopt when
// absent or of another type.
std::optional<std::vector<std::string>> string_list(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (it->is_string()) return std::vector<std::string>{it->get<std::string>()};
  if (!it->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : *it) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

std::string show_list(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + values[i];
  return out + "]";
}

// A NumericDate claim; nullopt when absent, an error text when not a number.
struct DateClaim {
  bool present = false;
  bool valid = false;
  std::int64_t seconds = 0;
};

DateClaim date_claim(const json& claims, const char* name) {
  DateClaim out;
  auto it = claims.find(name);
  if (it == claims.end()) return out;
  out.present = true;
  if (!it->is_number()) return out;
  double value = it->get<double>();
  if (!std::isfinite(value) || value < 0 || value > 253402300799.0) return out;
  out.valid = true;
  out.seconds = static_cast<std::int64_t>(value);
  return out;
}

void check_algorithm_and_signature(const Jwt& jwt, const Jwks& jwks, std::vector<Check>& checks) {
  if (jwt.alg == "none") {
    checks.push_back({Verdict::kFail, "alg is none: an unsigned token is refused"});
    return;
  }
  if (jwt.alg.rfind("HS", 0) == 0) {
    checks.push_back({Verdict::kFail, "alg " + jwt.alg +
                                          " (HMAC) is refused: a public key must never serve as "
                                          "a shared secret"});
    return;
  }
  if (!is_supported_algorithm(jwt.alg)) {
    checks.push_back({Verdict::kUnknown, "alg " + jwt.alg +
                                             " is not checked here (this tool verifies RS256, "
                                             "ES256 and ES384)"});
    return;
  }
  checks.push_back({Verdict::kPass, "alg " + jwt.alg + " is accepted"});

  const KeyType wanted = key_type_for(jwt.alg);
  std::vector<const JwkEntry*> candidates;
  std::string refusal;
  std::vector<std::string> kids;
  for (const auto& entry : jwks.keys) {
    kids.push_back(entry.kid ? quote(*entry.kid) : "(none)");
    if (jwt.kid && entry.kid != jwt.kid) continue;
    if (entry.key.type() != wanted) {
      refusal = "key " + entry.kid.value_or("(no kid)") + " is " +
                std::string(describe(entry.key.type())) + ", which cannot verify " + jwt.alg;
      continue;
    }
    if (entry.alg && *entry.alg != jwt.alg) {
      refusal = "key " + entry.kid.value_or("(no kid)") + " is published for alg " + *entry.alg +
                ", not " + jwt.alg;
      continue;
    }
    if (entry.use && *entry.use != "sig") {
      refusal = "key " + entry.kid.value_or("(no kid)") + " is published for use " + *entry.use +
                ", not sig";
      continue;
    }
    candidates.push_back(&entry);
  }
  if (candidates.empty()) {
    std::string text;
    if (!refusal.empty()) {
      text = refusal;
    } else if (jwt.kid) {
      text = "kid " + *jwt.kid + " is not in the JWKS (it has kid " + [&] {
        std::string joined;
        for (std::size_t i = 0; i < kids.size(); ++i) joined += (i ? ", " : "") + kids[i];
        return joined;
      }() + ")";
    } else {
      text = "the token has no kid and the JWKS has no " + std::string(describe(wanted)) + " key";
    }
    checks.push_back({Verdict::kFail, text});
    return;
  }
  checks.push_back({Verdict::kPass, jwt.kid ? "kid " + *jwt.kid + " is in the JWKS"
                                            : "the token has no kid: trying the JWKS's " +
                                                  std::to_string(candidates.size()) + " " +
                                                  std::string(describe(wanted)) + " key(s)"});
  for (const JwkEntry* entry : candidates) {
    if (verify_signature(entry->key, jwt.alg, jwt.signing_input, jwt.signature)) {
      checks.push_back({Verdict::kPass, "the signature verifies with key " + entry->key.kid()});
      return;
    }
  }
  checks.push_back(
      {Verdict::kFail,
       std::string("the signature does not verify with ") +
           (candidates.size() == 1 ? "the key " + candidates.front()->key.kid()
                                   : "any of the " + std::to_string(candidates.size()) + " keys") +
           ": the header, payload or signature was altered, or another key "
           "signed it"});
}

void check_claims(const Jwt& jwt, const ExplainOptions& options, std::vector<Check>& checks) {
  const json& claims = jwt.claims;
  const std::string& expected_iss = options.provider.issuer.url;
  auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string()) {
    checks.push_back({Verdict::kFail, "the token has no iss claim"});
  } else if (*iss != expected_iss) {
    checks.push_back({Verdict::kFail, "iss is " + iss->get<std::string>() +
                                          " but the provider's URL is " + expected_iss});
  } else {
    checks.push_back({Verdict::kPass, "iss " + expected_iss + " is the provider's URL"});
  }

  auto aud = string_list(claims, "aud");
  if (!aud || aud->empty()) {
    checks.push_back({Verdict::kFail, "the token has no aud claim"});
  } else if (std::find(aud->begin(), aud->end(), options.audience) == aud->end()) {
    checks.push_back({Verdict::kFail, "aud is " + show_list(*aud) +
                                          " but the provider's client id is " + options.audience});
  } else {
    checks.push_back(
        {Verdict::kPass, "aud " + show_list(*aud) + " contains the client id " + options.audience});
  }

  const std::int64_t now = options.now;
  DateClaim exp = date_claim(claims, "exp");
  if (!exp.present) {
    checks.push_back({Verdict::kFail, "the token has no exp claim; STS requires one"});
  } else if (!exp.valid) {
    checks.push_back({Verdict::kFail, "exp is not a valid NumericDate"});
  } else if (now >= exp.seconds + kClockLeewaySeconds) {
    checks.push_back({Verdict::kFail, "the token expired at " + format_rfc3339(exp.seconds) + " " +
                                          leeway_note(now)});
  } else {
    checks.push_back({Verdict::kPass,
                      "exp " + format_rfc3339(exp.seconds) + " is not past " + leeway_note(now)});
  }

  DateClaim nbf = date_claim(claims, "nbf");
  if (!nbf.present) {
    checks.push_back({Verdict::kPass, "no nbf claim"});
  } else if (!nbf.valid) {
    checks.push_back({Verdict::kFail, "nbf is not a valid NumericDate"});
  } else if (now + kClockLeewaySeconds < nbf.seconds) {
    checks.push_back({Verdict::kFail, "the token is not valid before " +
                                          format_rfc3339(nbf.seconds) + " " + leeway_note(now)});
  } else {
    checks.push_back({Verdict::kPass, "nbf " + format_rfc3339(nbf.seconds) + " has passed"});
  }

  DateClaim iat = date_claim(claims, "iat");
  if (!iat.present) {
    checks.push_back({Verdict::kPass, "no iat claim"});
  } else if (!iat.valid) {
    checks.push_back({Verdict::kFail, "iat is not a valid NumericDate"});
  } else if (now + kClockLeewaySeconds < iat.seconds) {
    checks.push_back({Verdict::kFail, "the token was issued in the future, at " +
                                          format_rfc3339(iat.seconds) + " " + leeway_note(now)});
  } else {
    checks.push_back(
        {Verdict::kPass, "iat " + format_rfc3339(iat.seconds) + " is not in the future"});
  }

  auto sub = claims.find("sub");
  if (sub == claims.end() || !sub->is_string() || sub->get<std::string>().empty()) {
    checks.push_back({Verdict::kFail, "the token has no sub claim"});
  } else {
    checks.push_back({Verdict::kPass, "sub is " + sub->get<std::string>()});
  }

  if (auto k8s = claims.find("kubernetes.io"); k8s != claims.end() && k8s->is_object()) {
    auto name_of = [&](const char* field) -> std::string {
      auto it = k8s->find(field);
      if (it == k8s->end() || !it->is_object()) return "-";
      auto name = it->find("name");
      return name != it->end() && name->is_string() ? name->get<std::string>() : "-";
    };
    auto ns = k8s->find("namespace");
    checks.push_back(
        {Verdict::kNote,
         "kubernetes.io: namespace " +
             (ns != k8s->end() && ns->is_string() ? ns->get<std::string>() : std::string("-")) +
             ", serviceaccount " + name_of("serviceaccount") + ", pod " + name_of("pod")});
  }
}

// Appends the policy's checks and its decision as one deciding check.
Status add_policy(const json& policy, const WebIdentityRequest& request, Report& report) {
  auto decision = evaluate_trust_policy(policy, request);
  if (!decision) return Error{decision.error()};
  for (auto& check : decision->checks) report.checks.push_back(std::move(check));
  report.checks.push_back({decision->verdict, "policy: " + decision->reason});
  return Ok{};
}

void decide(Report& report) {
  report.outcome = Outcome::kAllowed;
  report.reason.clear();
  for (const auto& check : report.checks) {
    if (check.depth != 0) continue;
    if (check.verdict == Verdict::kFail) {
      report.outcome = Outcome::kDenied;
      report.reason = check.text;
      return;
    }
    if (check.verdict == Verdict::kUnknown && report.outcome == Outcome::kAllowed) {
      report.outcome = Outcome::kUnknown;
      report.reason = check.text;
    }
  }
}

// Denied reasons read better without the "policy: " label of the line.
std::string reason_text(const std::string& text) {
  constexpr std::string_view kLabel = "policy: ";
  return text.rfind(kLabel, 0) == 0 ? text.substr(kLabel.size()) : text;
}

}  // namespace

Result<Report> explain_token(const nlohmann::json& policy, std::string_view token, const Jwks& jwks,
                             const ExplainOptions& options) {
  auto jwt = decode_jwt(token);
  if (!jwt) return Error{jwt.error()};
  Report report;
  report.checks.push_back({Verdict::kNote, "provider " + options.provider.arn});
  check_algorithm_and_signature(*jwt, jwks, report.checks);
  check_claims(*jwt, options, report.checks);

  WebIdentityRequest request{options.provider, std::nullopt, string_list(jwt->claims, "aud"),
                             string_list(jwt->claims, "amr")};
  if (auto sub = jwt->claims.find("sub"); sub != jwt->claims.end() && sub->is_string()) {
    request.sub = sub->get<std::string>();
  }
  if (auto added = add_policy(policy, request, report); !added) return Error{added.error()};
  decide(report);
  report.reason = reason_text(report.reason);
  return report;
}

Result<Report> explain_service_account(const nlohmann::json& policy,
                                       const ServiceAccountRef& account,
                                       const ExplainOptions& options) {
  Report report;
  report.checks.push_back({Verdict::kNote, "provider " + options.provider.arn});
  report.checks.push_back({Verdict::kNote, "claims of a token for " + account.namespace_name + "/" +
                                               account.name + ": sub " + account.subject() +
                                               ", aud [" + options.audience +
                                               "] (the token itself is not checked)"});
  WebIdentityRequest request{options.provider, account.subject(),
                             std::vector<std::string>{options.audience}, std::nullopt};
  if (auto added = add_policy(policy, request, report); !added) return Error{added.error()};
  decide(report);
  report.reason = reason_text(report.reason);
  return report;
}

Result<Provider> provider_from_policy(const nlohmann::json& policy) {
  auto arns = federated_oidc_providers(policy);
  if (arns.empty()) {
    return Error{"the policy names no oidc-provider in Principal.Federated; pass --provider-arn"};
  }
  if (arns.size() > 1) {
    std::string names;
    for (const auto& arn : arns) names += (names.empty() ? "" : ", ") + arn;
    return Error{"the policy trusts " + std::to_string(arns.size()) + " oidc-providers (" + names +
                 "); pick one with --provider-arn"};
  }
  return parse_provider_arn(arns.front());
}

Result<Provider> provider_for_token(const nlohmann::json& policy, std::string_view token) {
  auto arns = federated_oidc_providers(policy);
  if (arns.size() <= 1) return provider_from_policy(policy);
  auto jwt = decode_jwt(token);
  if (!jwt) return Error{jwt.error()};
  auto iss = jwt->claims.find("iss");
  if (iss == jwt->claims.end() || !iss->is_string()) {
    return Error{"the policy trusts " + std::to_string(arns.size()) +
                 " oidc-providers and the token has no iss to choose by; pick one with "
                 "--provider-arn"};
  }
  std::string names;
  for (const auto& arn : arns) {
    auto provider = parse_provider_arn(arn);
    if (provider && provider->issuer.url == iss->get<std::string>()) return provider;
    names += (names.empty() ? "" : ", ") + arn;
  }
  return Error{"the token's iss " + quote(iss->get<std::string>()) +
               " is the issuer of none of the policy's oidc-providers (" + names +
               "); pick one with --provider-arn to see every check"};
}

std::string render_report(const Report& report) {
  std::string out;
  for (const auto& check : report.checks) {
    std::string marker;
    if (check.depth == 0) {
      switch (check.verdict) {
        case Verdict::kPass:
          marker = "[ok]";
          break;
        case Verdict::kFail:
          marker = "[FAIL]";
          break;
        case Verdict::kUnknown:
          marker = "[UNKNOWN]";
          break;
        case Verdict::kNote:
          marker = "";
          break;
      }
    } else {
      switch (check.verdict) {
        case Verdict::kPass:
          marker = "[match]";
          break;
        case Verdict::kFail:
          marker = "[no match]";
          break;
        case Verdict::kUnknown:
          marker = "[UNSUPPORTED]";
          break;
        case Verdict::kNote:
          marker = "";
          break;
      }
    }
    marker.resize(14, ' ');
    // Text from the token (kid, claims) is shown as it is but on one line,
    // so a token cannot add a line such as "ALLOWED" to its own report.
    out += marker + std::string(static_cast<std::size_t>(check.depth) * 2, ' ') +
           one_line(check.text) + "\n";
  }
  switch (report.outcome) {
    case Outcome::kAllowed:
      out += "ALLOWED\n";
      break;
    case Outcome::kDenied:
      out += "DENIED: " + one_line(report.reason) + "\n";
      break;
    case Outcome::kUnknown:
      out += "UNKNOWN: " + one_line(report.reason) + "\n";
      break;
  }
  return out;
}

}  // namespace irsa::oidc
