// The Pod inside a workload manifest: a Pod itself, or the Pod template of a
// Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job
// or CronJob, as the controller will create it.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace irsa::manifest {

// (clang-tidy 14 takes nlohmann::json's by-value assignment for one that
// may throw out of the implicit move.)
struct WorkloadPod {           // NOLINT(bugprone-exception-escape)
  std::string kind;            // the workload's kind, e.g. "Deployment"
  std::string name;            // the workload's metadata.name (or generateName)
  std::string namespace_name;  // the workload's metadata.namespace; "default" when absent
  nlohmann::json pod;          // a v1 Pod: the template's metadata and spec
};

// nullopt when `document` is not a workload this knows (a Service, a
// ConfigMap, ...) or has no Pod template where its kind keeps one.
std::optional<WorkloadPod> workload_pod(const nlohmann::json& document);

}  // namespace irsa::manifest
