// The webhook's decision for one Pod: inject the identity, deal with static
// credentials, or deny. Pure; the server and the offline commands share it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "credentials/static_credentials.h"
#include "identity/identity.h"
#include "mutation/options.h"
#include "mutation/patch.h"
#include "mutation/pod_view.h"

namespace irsa::admission {

inline constexpr char kAuditRemovedKey[] = "static-credentials-removed";
inline constexpr char kAuditFoundKey[] = "static-credentials-found";
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
};

// `identity` is the Pod's resolved identity, nullopt when it gets none.
// `jitter` in [0, 1) as for plan_mutation.
Decision decide(const mutation::PodView& pod, const std::optional<identity::Identity>& identity,
                const mutation::Options& options, const credentials::Policy& policy, double jitter);

}  // namespace irsa::admission
