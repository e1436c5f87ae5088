// Where each workload kind keeps its Pod template.
#include "manifest/workloads.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace irsa::manifest {
namespace {

using nlohmann::json;

// Follows `path` through nested objects; nullptr when any step is missing.
const json* find(const json& root, std::initializer_list<const char*> path) {
  const json* node = &root;
  for (const char* key : path) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

std::string string_at(const json& root, std::initializer_list<const char*> path) {
  const json* node = find(root, path);
  return node && node->is_string() ? node->get<std::string>() : std::string();
}

}  // namespace

std::optional<WorkloadPod> workload_pod(const json& document) {
  if (!document.is_object()) return std::nullopt;
  WorkloadPod workload;
  workload.kind = string_at(document, {"kind"});
  workload.name = string_at(document, {"metadata", "name"});
  if (workload.name.empty()) workload.name = string_at(document, {"metadata", "generateName"});
  workload.namespace_name = string_at(document, {"metadata", "namespace"});
  if (workload.namespace_name.empty()) workload.namespace_name = "default";

  const json* metadata = nullptr;
  const json* spec = nullptr;
  static constexpr std::array<std::string_view, 6> kTemplated = {
      "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"};
  if (workload.kind == "Pod") {
    metadata = find(document, {"metadata"});
    spec = find(document, {"spec"});
  } else if (workload.kind == "CronJob") {
    metadata = find(document, {"spec", "jobTemplate", "spec", "template", "metadata"});
    spec = find(document, {"spec", "jobTemplate", "spec", "template", "spec"});
  } else if (std::find(kTemplated.begin(), kTemplated.end(), workload.kind) != kTemplated.end()) {
    metadata = find(document, {"spec", "template", "metadata"});
    spec = find(document, {"spec", "template", "spec"});
  } else {
    return std::nullopt;
  }
  if (spec == nullptr || !spec->is_object()) return std::nullopt;

  workload.pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  json pod_metadata = metadata && metadata->is_object() ? *metadata : json::object();
  pod_metadata["namespace"] = workload.namespace_name;
  workload.pod["metadata"] = std::move(pod_metadata);
  workload.pod["spec"] = *spec;
  return workload;
}

}  // namespace irsa::manifest
