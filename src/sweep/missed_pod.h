// The missed-Pod sweep's decision for one Pod of the list, and what it says
// about it: the workload to restart (read from the Pod alone: the sweep may
// list Pods and nothing else), the fix, and the Kubernetes Event. Pure.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "identity/registry.h"
#include "mutation/injected.h"
#include "mutation/options.h"

namespace irsa::sweep {

// What restarting fixes: a Deployment, StatefulSet or DaemonSet; a
// ReplicaSet or Job of its own; another controller (an operator's kind, a
// static Pod's Node); or kind "Pod" for a bare Pod.
struct Workload {
  std::string kind;
  std::string name;
};

struct MissedPod {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string service_account;
  mutation::InjectionCheck check;
  // The role the ServiceAccount gives now ("" for container credentials or
  // none).
  std::string role;
  Workload workload;
};

enum class PodVerdict {
  kNotRunning,      // Succeeded, Failed or being deleted: nothing to fix
  kUnreadable,      // not a Pod the webhook can interpret
  kUnknownAccount,  // its ServiceAccount is not in the cache: no verdict
  kFine,            // has the identity its ServiceAccount gives (or none, as it should)
  kMissed,          // see MissedPod::check
};

struct PodCheck {
  PodVerdict verdict = PodVerdict::kFine;
  std::optional<MissedPod> missed;  // when kMissed
};

// The webhook's resolution of (namespace, ServiceAccount), from its cache.
using IdentityLookup = std::function<identity::IdentityResolver::Lookup(
    std::string_view namespace_name, std::string_view service_account)>;

// One item of a Pod list. A Pod whose ServiceAccount the cache does not know
// gets no verdict: the identity it should have is not known.
PodCheck check_pod(simdjson::dom::element pod, const IdentityLookup& lookup,
                   const mutation::Options& options);

// The workload from the Pod's controller ownerReference. A ReplicaSet
// named "<deployment>-<pod-template-hash>" (the Pod's label) is taken as
// that Deployment's.
Workload workload_of(simdjson::dom::element pod);

// The command that fixes it ("kubectl rollout restart deployment/web -n
// team"), or what to do when no command does it alone.
std::string fix_for(const MissedPod& pod);

// The Event's message: what is missing, what it means, the fix; at most
// 1024 bytes (the API server's limit), control bytes escaped.
std::string event_message(const MissedPod& pod);

// The Event's name: "<pod>.<uid>", the same for every replica and restart of
// the webhook, so that a second POST for the Pod gets 409 AlreadyExists
// instead of a second Event. At most 253 characters, a DNS subdomain.
std::string event_name(const MissedPod& pod);

struct EventSource {
  std::string component = "irsa-webhook";  // source.component, reportingComponent
  std::string instance;                    // reportingInstance, source.host: the webhook's Pod
};

// The core/v1 Event for the Pod (type Warning, reason IdentityNotInjected),
// as JSON text for POST /api/v1/namespaces/NS/events.
std::string event_json(const MissedPod& pod, const EventSource& source,
                       std::chrono::system_clock::time_point now);

inline constexpr std::string_view kEventReason = "IdentityNotInjected";

}  // namespace irsa::sweep
