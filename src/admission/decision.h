// The webhook's decision for one Pod: inject the identity, deal with static
// credentials, or deny. Pure; the server and the offline commands share it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "credentials/static_credentials.h"
#include "identity/identity.h"
#include "mutation/containers.h"
#include "mutation/options.h"
#include "mutation/patch.h"
#include "mutation/pod_view.h"

namespace irsa::admission {

inline constexpr char kAuditRemovedKey[] = "static-credentials-removed";
inline constexpr char kAuditFoundKey[] = "static-credentials-found";
// Keys for a non-AWS (or unverifiable) endpoint: kept in every mode.
inline constexpr char kAuditNonAwsEndpointKey[] = "static-credentials-non-aws-endpoint";
// AdmissionResponse.warnings: each under 120 characters, all under 4 KiB.
inline constexpr std::size_t kMaxWarningLength = 119;
inline constexpr std::size_t kMaxWarningsBytes = 4000;

struct Decision {
  bool allowed = true;
  std::string denial;  // the reason, when !allowed
  // One consistent patch: removals first (index-safe), then injections.
  mutation::Patch patch;
  std::vector<std::string> warnings;
  std::map<std::string, std::string> audit_annotations;  // keys without '/'
  std::vector<credentials::Finding> findings;            // static credentials seen
  bool stripped = false;                                 // findings were removed
  bool opted_out = false;          // the Pod's keep-static-credentials annotation was honoured
  std::vector<std::string> notes;  // for the log; never values
  // What is wrong with the Pod's identity configuration, one line each (a
  // role-arn that is no IAM role ARN, an ignored or malformed annotation, a
  // near-miss key, a token some container cannot read): each is also in
  // `warnings` (cut to kMaxWarningLength), and worth a log line.
  std::vector<std::string> problems;
  // How many of `warnings`, from the first, are problems.
  std::size_t problem_warnings = 0;
};

// Splits `findings` into those in containers that receive the identity
// (`managed`) and those in containers that do not (`kept`); a volume goes
// with its mounts, kept when any of them is.
void split_findings(const std::vector<credentials::Finding>& findings,
                    const mutation::ContainerSelection& selection,
                    std::vector<credentials::Finding>& managed,
                    std::vector<credentials::Finding>& kept);

// `identity` is the Pod's resolved identity, nullopt when it gets none.
// `jitter` in [0, 1) as for plan_mutation. `identity_problems` are the
// problems of the Pod's ServiceAccount (IdentityResolver::Lookup::problems).
// Static credentials in containers that do not receive the identity
// (skip-containers, include-containers) are kept and reported, never
// stripped nor denied for: without the identity, those keys are what the
// container has. Findings whose handling is not kRemovable (keys for a
// non-AWS or unverifiable endpoint, volumes at .aws that strip keeps) are
// never stripped nor denied for either: they are warned of whenever the
// mode looks at all (not off, not unmanaged allow).
Decision decide(const mutation::PodView& pod, const std::optional<identity::Identity>& identity,
                const mutation::Options& options, const credentials::Policy& policy, double jitter,
                const std::vector<std::string>& identity_problems = {});

}  // namespace irsa::admission
