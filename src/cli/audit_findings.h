// How `audit` (files and --from-cluster) prints the findings it sets apart
// from a workload's action: one heading per handling, shared so that both
// reports say the same thing.
#pragma once

#include <string>
#include <vector>

#include "credentials/static_credentials.h"

namespace irsa::cli {

// The line that introduces findings of `finding`'s handling: "keys for a
// non-AWS endpoint (AWS_ENDPOINT_URL minio.storage): kept, the webhook
// warns", ... Empty for Handling::kRemovable (those are the action's own).
std::string aside_heading(const credentials::Finding& finding);

// The text lines for the findings in `findings` that are not removable,
// grouped by handling (stable), each group under its aside_heading:
// "heading:" then "  <finding>" lines, control bytes escaped.
std::vector<std::string> aside_lines(const std::vector<credentials::Finding>& findings);

// True for the handlings that mean "keys for another endpoint":
// kNonAwsEndpoint, kEndpointNotVerifiable and kNonAwsEndpointOutsidePod.
bool is_endpoint_handling(credentials::Handling handling);

}  // namespace irsa::cli
