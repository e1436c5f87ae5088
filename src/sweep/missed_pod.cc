// One Pod of the sweep's list: its verdict, its workload, the fix and the
// Event, read from the Pod alone.
#include "sweep/missed_pod.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "common/quote.h"
#include "common/utc_time.h"
#include "common/utf8.h"
#include "mutation/pod_view.h"

namespace irsa::sweep {
namespace {

constexpr std::size_t kMaxMessage = 1024;
constexpr std::size_t kMaxName = 253;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// What the Pod lacks or carries, in words, without the fix.
std::string what_is_wrong(const MissedPod& pod) {
  const auto& check = pod.check;
  const std::string account = "ServiceAccount " + name_or_quote(pod.service_account, 253);
  const std::string gives = pod.role.empty() ? "an AWS identity" : "role " + quote(pod.role, 200);
  const std::string fallback =
      " It runs without that identity: AWS SDKs fall back to the node's role.";
  switch (check.problem) {
    case mutation::InjectionProblem::kMissingTokenVolume:
      return "Pod has no AWS identity token volume although its " + account + " gives " + gives +
             ": it was created while the webhook was down or not installed, or before the "
             "ServiceAccount got its role." +
             fallback;
    case mutation::InjectionProblem::kMissingTokenMount:
      return "container " + name_or_quote(check.container, 253) +
             " does not mount the AWS identity token although the Pod's " + account + " gives " +
             gives + "." + fallback;
    case mutation::InjectionProblem::kMissingIdentityEnv:
      return "container " + name_or_quote(check.container, 253) +
             " lacks the AWS identity environment although the Pod's " + account + " gives " +
             gives + "." + fallback;
    case mutation::InjectionProblem::kIdentityRemoved:
      return "Pod carries an AWS identity" +
             (check.carried_role.empty() ? std::string()
                                         : " (role " + quote(check.carried_role, 200) + ")") +
             " that its " + account + " no longer gives.";
    case mutation::InjectionProblem::kRoleChanged:
      return "Pod carries " +
             (check.carried_role.empty() ? std::string("another AWS identity")
                                         : "role " + quote(check.carried_role, 200)) +
             " but its " + account + " now gives " + gives + ".";
    case mutation::InjectionProblem::kNone:
      break;
  }
  return "Pod has the identity its " + account + " gives.";
}

}  // namespace

Workload workload_of(simdjson::dom::element pod) {
  Workload out;
  std::string_view name;
  if (pod["metadata"]["name"].get(name) != simdjson::SUCCESS) name = "";
  out.kind = "Pod";
  out.name = std::string(name);
  simdjson::dom::array refs;
  if (pod["metadata"]["ownerReferences"].get(refs) != simdjson::SUCCESS) return out;
  for (auto ref : refs) {
    bool controller = false;
    if (ref["controller"].get(controller) != simdjson::SUCCESS || !controller) continue;
    std::string_view kind, owner;
    if (ref["kind"].get(kind) != simdjson::SUCCESS || ref["name"].get(owner) != simdjson::SUCCESS ||
        kind.empty() || owner.empty()) {
      continue;
    }
    out.kind = std::string(kind);
    out.name = std::string(owner);
    break;
  }
  std::string_view hash;
  if (out.kind == "ReplicaSet" &&
      pod["metadata"]["labels"]["pod-template-hash"].get(hash) == simdjson::SUCCESS &&
      !hash.empty() && out.name.size() > hash.size() + 1 &&
      std::string_view(out.name).substr(out.name.size() - hash.size()) == hash &&
      out.name[out.name.size() - hash.size() - 1] == '-') {
    out.kind = "Deployment";
    out.name.resize(out.name.size() - hash.size() - 1);
  }
  return out;
}

PodCheck check_pod(simdjson::dom::element root, const IdentityLookup& lookup,
                   const mutation::Options& options) {
  PodCheck out;
  std::string_view phase;
  if (root["status"]["phase"].get(phase) == simdjson::SUCCESS &&
      (phase == "Succeeded" || phase == "Failed")) {
    out.verdict = PodVerdict::kNotRunning;
    return out;
  }
  simdjson::dom::element deleting;
  if (root["metadata"]["deletionTimestamp"].get(deleting) == simdjson::SUCCESS &&
      !deleting.is_null()) {
    out.verdict = PodVerdict::kNotRunning;
    return out;
  }
  auto pod = mutation::read_pod(root);
  if (!pod || pod->name.empty() || pod->namespace_name.empty()) {
    out.verdict = PodVerdict::kUnreadable;
    return out;
  }
  auto resolved = lookup(pod->namespace_name, pod->service_account_name);
  if (!resolved.service_account_known) {
    out.verdict = PodVerdict::kUnknownAccount;
    return out;
  }
  auto check = mutation::check_injection(*pod, resolved.identity, options);
  if (!check.missed()) {
    out.verdict = PodVerdict::kFine;
    return out;
  }
  MissedPod missed;
  missed.namespace_name = std::string(pod->namespace_name);
  missed.name = std::string(pod->name);
  std::string_view uid;
  if (root["metadata"]["uid"].get(uid) == simdjson::SUCCESS) missed.uid = std::string(uid);
  missed.service_account = std::string(pod->service_account_name);
  missed.check = std::move(check);
  if (resolved.identity && resolved.identity->mode == identity::Mode::kWebIdentity) {
    missed.role = resolved.identity->role_arn;
  }
  missed.workload = workload_of(root);
  out.verdict = PodVerdict::kMissed;
  out.missed = std::move(missed);
  return out;
}

std::string fix_for(const MissedPod& pod) {
  const std::string ns = " -n " + name_or_quote(pod.namespace_name, 253);
  const std::string pod_name = name_or_quote(pod.name, 253);
  const std::string& kind = pod.workload.kind;
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet") {
    return "kubectl rollout restart " + lower(kind) + "/" + name_or_quote(pod.workload.name, 253) +
           ns;
  }
  if (kind == "Pod") {
    return "kubectl delete pod " + pod_name + ns +
           ", then create it again (a bare Pod is not recreated)";
  }
  if (kind == "ReplicaSet" || kind == "Job") {
    return "kubectl delete pod " + pod_name + ns + " (its " + kind + " creates a new one)";
  }
  return "restart it through its owner " + name_or_quote(kind) + " " +
         name_or_quote(pod.workload.name, 253) + ", or kubectl delete pod " + pod_name + ns;
}

std::string event_message(const MissedPod& pod) {
  std::string text =
      what_is_wrong(pod) + " Pods cannot be changed once created: restart it. Fix: " + fix_for(pod);
  text = one_line(text);
  if (text.size() > kMaxMessage) {
    text.resize(utf8_prefix_length(text, kMaxMessage - 3));
    text += "...";
  }
  return text;
}

std::string event_name(const MissedPod& pod) {
  const std::string suffix = "." + pod.uid;
  std::string base = pod.name;
  if (base.size() + suffix.size() > kMaxName) base.resize(kMaxName - suffix.size());
  // Each label of a DNS subdomain ends with a letter or digit.
  while (!base.empty() && (base.back() == '-' || base.back() == '.')) base.pop_back();
  if (base.empty()) base = "pod";
  return base + suffix;
}

std::string event_json(const MissedPod& pod, const EventSource& source,
                       std::chrono::system_clock::time_point now) {
  using nlohmann::json;
  const std::string when =
      utc_seconds(std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count());
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", event_name(pod)}, {"namespace", pod.namespace_name}}},
      {"involvedObject",
       {{"apiVersion", "v1"},
        {"kind", "Pod"},
        {"namespace", pod.namespace_name},
        {"name", pod.name},
        {"uid", pod.uid}}},
      {"type", "Warning"},
      {"reason", kEventReason},
      {"message", event_message(pod)},
      {"source", {{"component", source.component}}},
      {"firstTimestamp", when},
      {"lastTimestamp", when},
      {"count", 1},
      {"eventTime", utc_micros(now)},
      {"action", "CheckIdentity"},
      {"reportingComponent", source.component},
      {"reportingInstance", source.instance.substr(0, 128)},
  };
  if (!source.instance.empty()) event["source"]["host"] = source.instance;
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace irsa::sweep
