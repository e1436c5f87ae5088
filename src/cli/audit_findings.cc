#include "cli/audit_findings.h"

#include <algorithm>

#include "common/quote.h"

namespace irsa::cli {

std::string aside_heading(const credentials::Finding& finding) {
  switch (finding.handling) {
    case credentials::Handling::kNonAwsEndpoint:
      return "keys for a non-AWS endpoint (" + one_line(finding.endpoint) +
             "): kept, the webhook warns";
    case credentials::Handling::kEndpointNotVerifiable:
      return "endpoint not verifiable (" + one_line(finding.endpoint) +
             "): kept, the webhook warns";
    case credentials::Handling::kReportOnly:
      return "volume at .aws that strip keeps: the webhook warns; move the keys out of it";
    case credentials::Handling::kSecretContent:
      return "seen only in Secrets among the inputs: the webhook never reads Secrets and does "
             "nothing; remove the reference and use the role";
    case credentials::Handling::kNonAwsEndpointOutsidePod:
      return "keys for a non-AWS endpoint named outside the Pod (" + one_line(finding.endpoint) +
             "): the webhook cannot see it and strips them once the ServiceAccount has a role; "
             "keep that ServiceAccount without a role, or opt the Pod out with "
             "keep-static-credentials";
    case credentials::Handling::kRemovable:
      break;
  }
  return {};
}

std::vector<std::string> aside_lines(const std::vector<credentials::Finding>& findings) {
  std::vector<const credentials::Finding*> aside;
  for (const auto& finding : findings) {
    if (finding.handling != credentials::Handling::kRemovable) aside.push_back(&finding);
  }
  std::stable_sort(aside.begin(), aside.end(), [](const auto* a, const auto* b) {
    return static_cast<int>(a->handling) < static_cast<int>(b->handling);
  });
  std::vector<std::string> lines;
  std::string last_heading;
  for (const auto* finding : aside) {
    std::string heading = aside_heading(*finding);
    if (heading != last_heading) lines.push_back(heading + ":");
    last_heading = heading;
    lines.push_back("  " + one_line(finding->describe()));
  }
  return lines;
}

bool is_endpoint_handling(credentials::Handling handling) {
  return handling == credentials::Handling::kNonAwsEndpoint ||
         handling == credentials::Handling::kEndpointNotVerifiable ||
         handling == credentials::Handling::kNonAwsEndpointOutsidePod;
}

}  // namespace irsa::cli
