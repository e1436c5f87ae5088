// The mutation core: Pod + Identity + Options -> a surgical RFC 6902 patch.
// Pure: no I/O, no clock, no globals; randomness comes in as an argument.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "identity/identity.h"
#include "mutation/options.h"
#include "mutation/patch.h"
#include "mutation/pod_view.h"

namespace irsa::mutation {

struct Plan {
  // RFC 6902 operations on the Pod it was computed from; [] when nothing
  // changes. Every operation applies to the Pod as the ones before left it.
  Patch patch;
  // The token lifetime the volume asks for (after Pod annotation, clamping
  // and jitter); 0 when no volume is added.
  int64_t token_expiration = 0;
  // Things worth a log line: never a secret nor a value the Pod's owner set
  // (the session name made from the Pod's name is neither).
  std::vector<std::string> notes;
  // What the Pod's author should hear about (a malformed or ignored
  // annotation, a token some container cannot read, a session name that had
  // to be shortened, regional STS without a region): admission warnings and
  // log lines, one line each, each under 120 characters.
  std::vector<std::string> warnings;

  bool mutated() const { return !patch.empty(); }
};

// `jitter` is a number in [0, 1): in container-credentials mode the default
// 86400 s lifetime becomes 79200 + floor(jitter * 7200), as AWS's webhook
// spreads token refreshes; tests pass a fixed value.
Plan plan_mutation(const PodView& pod, const identity::Identity& identity, const Options& options,
                   double jitter);

// STS's RoleSessionName: 2 to 64 characters of [\w+=,.@-].
inline constexpr std::size_t kMinSessionNameLength = 2;
inline constexpr std::size_t kMaxSessionNameLength = 64;
// Of a session name made by session_name_for: the Pod name's first 55
// characters, '-', 8 hex digits.
inline constexpr std::size_t kSessionNamePrefixLength = 55;

// The AWS_ROLE_SESSION_NAME value for a Pod whose name STS would refuse as a
// RoleSessionName (shorter than 2 or longer than 64 characters): the name's
// first 55 characters, '-' and the high 32 bits of the 64-bit FNV-1a hash of
// the whole name, in lower-case hex. Stable (the same name always gives the
// same value), so a Pod keeps its name in CloudTrail across restarts, and
// names that differ anywhere, StatefulSet ordinals at the end included, give
// different values.
std::string session_name_for(std::string_view pod_name);

// JSON Pointer (RFC 6901) escaping of one reference token: ~ -> ~0, / -> ~1.
std::string escape_pointer_token(std::string_view token);

// Whether the Pod runs on Windows nodes, so the token path is C:\...:
// spec.os.name windows, a nodeSelector kubernetes.io/os (or
// beta.kubernetes.io/os) windows, or a required node affinity whose every
// term selects kubernetes.io/os In [windows] (PodView).
bool is_windows(const PodView& pod);

}  // namespace irsa::mutation
