// The mutation core: Pod + Identity + Options -> a surgical RFC 6902 patch.
// Pure: no I/O, no clock, no globals; randomness comes in as an argument.
#pragma once

#include <string>
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
  // Things worth a log line (never a value of an env var or secret).
  std::vector<std::string> notes;
  // What the Pod's author should hear about (a malformed or ignored
  // annotation, a token some container cannot read): admission warnings and
  // log lines, one line each.
  std::vector<std::string> warnings;

  bool mutated() const { return !patch.empty(); }
};

// `jitter` is a number in [0, 1): in container-credentials mode the default
// 86400 s lifetime becomes 79200 + floor(jitter * 7200), as AWS's webhook
// spreads token refreshes; tests pass a fixed value.
Plan plan_mutation(const PodView& pod, const identity::Identity& identity, const Options& options,
                   double jitter);

// JSON Pointer (RFC 6901) escaping of one reference token: ~ -> ~0, / -> ~1.
std::string escape_pointer_token(std::string_view token);

// Whether the Pod runs on Windows nodes, so the token path is C:\...:
// spec.os.name windows, a nodeSelector kubernetes.io/os (or
// beta.kubernetes.io/os) windows, or a required node affinity whose every
// term selects kubernetes.io/os In [windows] (PodView).
bool is_windows(const PodView& pod);

}  // namespace irsa::mutation
