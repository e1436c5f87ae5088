// The webhook's decision for one Pod: inject the identity, deal with static
// credentials, or deny. Pure (values in, values out: no I/O, no clock, no
// randomness): the server, `mutate` and `audit` all call decide(), so what
// the offline commands say is what the webhook does.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "credentials/static_credentials.h"
#include "identity/identity.h"
#include "identity/registry.h"
#include "mutation/containers.h"
#include "mutation/options.h"
#include "mutation/patch.h"
#include "mutation/pod_view.h"

namespace irsa::decision {

inline constexpr char kAuditRemovedKey[] = "static-credentials-removed";
inline constexpr char kAuditFoundKey[] = "static-credentials-found";
// Keys for a non-AWS (or unverifiable) endpoint: kept in every mode.
inline constexpr char kAuditNonAwsEndpointKey[] = "static-credentials-non-aws-endpoint";
// AdmissionResponse.warnings: each under 120 characters, all under 4 KiB.
inline constexpr std::size_t kMaxWarningLength = 119;
inline constexpr std::size_t kMaxWarningsBytes = 4000;

// What the webhook's flags say about every Pod.
struct Config {
  mutation::Options mutation;
  credentials::Policy static_credentials;
};

// What happens to a Pod's static credentials, in one word.
enum class Action {
  kNone,    // the Pod carries none (or the policy does not look for them)
  kIgnore,  // found, but --static-credentials=off: not even reported
  kAllow,   // found in a Pod without identity; --static-credentials-unmanaged=allow
  kWarn,    // found and left, with a warning and an audit annotation
  kStrip,   // removed from the containers that receive the identity
  kDeny,    // the Pod is refused
};
// "none", "ignore", "allow", "warn", "strip", "deny": audit's verdicts.
std::string_view action_name(Action action);

struct Decision {
  bool allowed = true;
  std::string denial;  // the reason, when !allowed
  // One consistent patch: removals first (index-safe), then injections.
  mutation::Patch patch;
  std::vector<std::string> warnings;
  std::map<std::string, std::string> audit_annotations;  // keys without '/'
  std::vector<credentials::Finding> findings;            // static credentials seen
  // Those of `findings` in containers that do not receive the identity:
  // never stripped nor denied for, only reported.
  std::vector<credentials::Finding> kept;
  Action action = Action::kNone;
  // Why `action` differs from what the policy says for the Pod's identity,
  // when it does ("the Pod opts out with <prefix>/keep-static-credentials",
  // "every one is in a container that gets no AWS identity"); else empty.
  std::string action_detail;
  bool stripped = false;           // findings were removed (action == kStrip)
  std::size_t removed = 0;         // how many of `findings` the patch removes
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

// How much decide() looks at.
enum class Scope {
  kReview,  // what the webhook needs: no search for static credentials the policy ignores
  kAudit,   // every finding, whatever the policy, with the action it gets
};

// The namespace a Pod is decided in: `given` (the review's, or mutate's
// --namespace), else the Pod's own metadata.namespace, else `fallback`.
std::string decision_namespace(std::string_view given, const mutation::PodView& pod,
                               std::string_view fallback);

// The whole decision for `pod`. `lookup` is what the IdentityResolver said
// for the Pod's ServiceAccount (its identity, nullopt when it gets none, and
// its problems). `jitter` in [0, 1) as for plan_mutation; anything else
// (NaN included) counts as 0. Static credentials in containers that do not
// receive the identity (skip-containers, include-containers) are kept and
// reported, never stripped nor denied for: without the identity, those keys
// are what the container has. Findings whose handling is not kRemovable
// (keys for a non-AWS or unverifiable endpoint, volumes at .aws that strip
// keeps) are never stripped nor denied for either: they are warned of
// whenever the policy looks (not off, not unmanaged allow), and alone they
// make the action kWarn.
Decision decide(const mutation::PodView& pod, const identity::IdentityResolver::Lookup& lookup,
                const Config& config, double jitter, Scope scope = Scope::kReview);

}  // namespace irsa::decision
