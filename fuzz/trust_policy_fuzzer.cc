// Role trust policies as `irsa-webhook oidc explain` / `trust-policy` read
// them (oidc::evaluate_trust_policy, explain_service_account,
// provider_from_policy), and the small parsers around them: issuer URLs,
// provider ARNs, ServiceAccount references, RFC 3339 dates, IAM wildcards.
//
// Properties: never a crash or a hang (IAM wildcards on long text included);
// errors are one line; a policy that evaluates passes only when a statement
// allows; a trust policy rendered for a ServiceAccount allows exactly its
// subject with the right audience and denies another audience; issuer,
// provider ARN and date parsers accept their own output.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "oidc/explain.h"
#include "oidc/json_input.h"
#include "oidc/numeric_date.h"
#include "oidc/policy.h"
#include "oidc/provider.h"
#include "oidc/trust_policy.h"

namespace {

using irsa::fuzz::excerpt;
using nlohmann::json;

const irsa::oidc::Provider& provider() {
  static const auto* instance = [] {
    auto parsed = irsa::oidc::parse_provider_arn(
        "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster");
    FUZZ_CHECK(parsed.ok(), parsed.error());
    return new irsa::oidc::Provider(*parsed);
  }();
  return *instance;
}

void check_policy(const json& policy) {
  irsa::oidc::WebIdentityRequest request;
  request.provider = provider();
  request.sub = "system:serviceaccount:shop:orders";
  request.aud = std::vector<std::string>{"sts.amazonaws.com"};
  auto decision = irsa::oidc::evaluate_trust_policy(policy, request);
  if (!decision) {
    FUZZ_CHECK(!decision.error().empty() && irsa::fuzz::one_line(decision.error()),
               decision.error());
  } else {
    FUZZ_CHECK(decision->verdict != irsa::oidc::Verdict::kNote, "a note as verdict");
    FUZZ_CHECK(!decision->reason.empty(), "a verdict without a reason");
  }
  irsa::oidc::WebIdentityRequest bare;
  bare.provider = provider();
  (void)irsa::oidc::evaluate_trust_policy(policy, bare);

  irsa::oidc::ExplainOptions options;
  options.provider = provider();
  options.now = 1700000000;
  auto account = irsa::oidc::make_service_account_ref("shop", "orders", false);
  FUZZ_CHECK(account.ok(), account.error());
  auto report = irsa::oidc::explain_service_account(policy, *account, options);
  if (report) (void)irsa::oidc::render_report(*report);
  auto from_policy = irsa::oidc::provider_from_policy(policy);
  if (from_policy) {
    auto again = irsa::oidc::parse_provider_arn(from_policy->arn);
    FUZZ_CHECK(again.ok() && again->arn == from_policy->arn, from_policy->arn);
  }
  (void)irsa::oidc::federated_oidc_providers(policy);
}

// The input as the text of the small parsers.
void check_text(std::string_view text) {
  FUZZ_CHECK(irsa::oidc::iam_wildcard_match(text, text, false), "a pattern misses itself");
  static const std::string kLong(4096, 'a');
  (void)irsa::oidc::iam_wildcard_match(text, kLong, true);
  (void)irsa::oidc::iam_wildcard_match(kLong.substr(0, 64) + std::string(text), text, false);

  if (auto issuer = irsa::oidc::parse_issuer(text)) {
    auto again = irsa::oidc::parse_issuer(issuer->url);
    FUZZ_CHECK(again.ok() && again->host_path == issuer->host_path, issuer->url);
    auto made = irsa::oidc::provider_for_issuer(*issuer, "111122223333");
    FUZZ_CHECK(made.ok(), made.error());
    auto parsed = irsa::oidc::parse_provider_arn(made->arn);
    FUZZ_CHECK(parsed.ok() && parsed->issuer.url == issuer->url, made->arn);
  }
  if (auto arn = irsa::oidc::parse_provider_arn(text)) {
    auto again = irsa::oidc::parse_provider_arn(arn->arn);
    FUZZ_CHECK(again.ok() && again->issuer.host_path == arn->issuer.host_path, arn->arn);
  }
  if (auto seconds = irsa::oidc::parse_rfc3339(text)) {
    std::string formatted = irsa::oidc::format_rfc3339(*seconds);
    auto again = irsa::oidc::parse_rfc3339(formatted);
    FUZZ_CHECK(again.ok() && *again == *seconds, formatted + " from " + excerpt(text));
  }
  for (bool wildcard : {false, true}) {
    auto account = irsa::oidc::parse_service_account_ref(text, wildcard);
    if (!account) continue;
    FUZZ_CHECK(wildcard || !account->has_wildcard(), account->subject());
    json policy = json::parse(
        irsa::oidc::render_trust_policy(provider(), {*account}, {"sts.amazonaws.com"}).dump());
    irsa::oidc::WebIdentityRequest request;
    request.provider = provider();
    request.sub = account->subject();
    request.aud = std::vector<std::string>{"sts.amazonaws.com"};
    auto allowed = irsa::oidc::evaluate_trust_policy(policy, request);
    FUZZ_CHECK(allowed.ok() && allowed->verdict == irsa::oidc::Verdict::kPass,
               (allowed.ok() ? allowed->reason : allowed.error()) + ": " + policy.dump());
    request.aud = std::vector<std::string>{"another.audience"};
    auto denied = irsa::oidc::evaluate_trust_policy(policy, request);
    FUZZ_CHECK(denied.ok() && denied->verdict == irsa::oidc::Verdict::kFail,
               (denied.ok() ? denied->reason : denied.error()) + ": " + policy.dump());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = irsa::fuzz::as_text(data, size);
  auto policy = irsa::oidc::parse_json(text, "policy.json");
  if (policy) {
    check_policy(*policy);
  } else {
    FUZZ_CHECK(irsa::fuzz::one_line(policy.error()), policy.error());
  }
  if (size <= 1024) check_text(text);
  return 0;
}
