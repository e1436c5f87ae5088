// Whether a running Pod has the identity its ServiceAccount gives it now: a
// Pod admitted while the webhook was down (failurePolicy: Ignore), before it
// was installed, or before its ServiceAccount got a role runs without the
// token and falls back to the node's role; one admitted before its
// ServiceAccount lost (or changed) its role still carries the old one. Pods
// cannot be mutated after creation: either way the fix is a restart. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "identity/identity.h"
#include "mutation/options.h"
#include "mutation/pod_view.h"

namespace irsa::mutation {

// Why a Pod missed its identity. The names (injection_problem_name) are
// stable: metric label values and JSON.
enum class InjectionProblem {
  kNone,
  kMissingTokenVolume,  // "missing-token-volume": no token volume at all
  kMissingTokenMount,   // "missing-token-mount": a receiving container lacks the mount
  kMissingIdentityEnv,  // "missing-identity-env": a receiving container lacks the identity env
  kIdentityRemoved,     // "identity-removed": injected, its ServiceAccount has none now
  kRoleChanged,         // "role-changed": injected with another role (or the other mode)
};

std::string_view injection_problem_name(InjectionProblem problem);

struct InjectionCheck {
  InjectionProblem problem = InjectionProblem::kNone;
  // The first container concerned (for the env and mount problems), and for
  // kRoleChanged the role the Pod carries; never a secret.
  std::string container;
  std::string carried_role;

  bool missed() const { return problem != InjectionProblem::kNone; }
};

// `identity` is the Pod's ServiceAccount's identity now (nullopt: none).
// A Pod should have it when some container receives the identity
// (skip-containers / include-containers, as the webhook reads them); each
// receiving container then needs the token mount and the identity env, as
// the webhook decides it (a container that sets either identity variable
// itself is left alone, so it counts as having it, on Windows as on Linux).
// A Pod carries an injected identity when it has the token volume the
// webhook adds (aws-iam-token, or the container-credentials volume).
InjectionCheck check_injection(const PodView& pod,
                               const std::optional<identity::Identity>& identity,
                               const Options& options);

}  // namespace irsa::mutation
