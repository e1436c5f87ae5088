// Static AWS credentials in a Pod (access-key env vars, mounted
// ~/.aws/credentials secrets) and the plan to remove them. Pure: reads the
// PodView, never a Secret; values are never copied into findings.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mutation/patch.h"
#include "mutation/pod_view.h"

namespace irsa::credentials {

enum class FindingKind { kEnv, kEnvFrom, kVolumeMount, kVolume };

// What the webhook may do with a finding.
enum class Handling {
  kRemovable,                 // static keys for AWS: strip removes them, deny refuses them
  kNonAwsEndpoint,            // the container's own env points the SDK at a non-AWS host:
                              // the keys are for it, kept and warned of
  kEndpointNotVerifiable,     // an endpoint variable from valueFrom or $(VAR):
                              // possibly non-AWS, kept and warned of
  kReportOnly,                // a volume at .aws that strip does not remove (emptyDir, PVC,
                              // ConfigMap, CSI, ...): it may hold the Pod's own data; warned of
  kSecretContent,             // seen only in a Secret's content among audit's inputs: the
                              // webhook never reads Secrets, so it does nothing with it
  kNonAwsEndpointOutsidePod,  // audit only: keys the webhook treats as removable, for a
                              // non-AWS endpoint that a manifest outside the Pod names
                              // (a Velero BackupStorageLocation's s3Url); the webhook
                              // cannot see it and strips them
};

// The names the AWS SDKs read static access keys from.
bool is_access_key_variable(std::string_view name);

// "env", "envFrom", "volumeMount", "volume": the kind as audit prints it.
std::string_view kind_name(FindingKind kind);

// "removable", "non-aws-endpoint", "endpoint-not-verifiable", "report-only",
// "secret-content", "non-aws-endpoint-outside-pod": the handling as audit's
// JSON prints it.
std::string_view handling_name(Handling handling);

// One place that carries static credentials.
struct Finding {
  FindingKind kind = FindingKind::kEnv;
  bool init_container = false;
  std::size_t container_index = 0;  // in containers or initContainers; unused for kVolume
  std::string container;            // container name; empty for kVolume
  std::size_t index = 0;            // in env, envFrom, volumeMounts or volumes
  std::string name;                 // env var, mount/volume name, or the Secret's name for kEnvFrom
  std::string mount_path;           // kVolumeMount only
  std::string reason;               // why it counts, in plain words; never a value
  Handling handling = Handling::kRemovable;
  // For the endpoint handlings: the variable, and the host when known
  // ("AWS_ENDPOINT_URL minio.storage"); never the whole value.
  std::string endpoint;

  // "container app: env AWS_SECRET_ACCESS_KEY (reason)": under 120 characters.
  std::string describe() const;
  // A short key for audit annotations: "app/env/AWS_SECRET_ACCESS_KEY".
  std::string key() const;
  bool operator==(const Finding&) const = default;
};

struct DetectOptions {
  // envFrom secretRef names that hold static credentials: names or globs
  // (`*`, `?`); from --static-credentials-secret-names.
  std::vector<std::string> secret_name_patterns;
};

// What the webhook does with static credentials (--static-credentials*).
enum class ManagedMode { kOff, kWarn, kStrip, kDeny };  // Pods that receive an identity
enum class UnmanagedMode { kAllow, kWarn, kDeny };      // Pods that do not

struct Policy {
  ManagedMode managed = ManagedMode::kStrip;
  UnmanagedMode unmanaged = UnmanagedMode::kAllow;
  // Honour the Pod annotation <prefix>/keep-static-credentials: "true".
  bool allow_opt_out = false;
  DetectOptions detect;
};

// Every static credential in every container and init container, in Pod
// order. Volumes appear as kVolume findings only when every mount of them
// (in any container) is a removable credentials mount, so that removing them
// leaves no dangling mount. Findings in a container whose own env points the
// SDK at a non-AWS (or unverifiable) endpoint carry that handling: see
// credentials/endpoints.h. Mounts at .aws: Secret, projected Secret and
// hostPath volumes are removable; other volumes (but a projected token) are
// kReportOnly.
std::vector<Finding> find_static_credentials(const mutation::PodView& pod,
                                             const DetectOptions& options);

// RFC 6902 `remove` operations for `findings` (from find_static_credentials
// on the same Pod; those not kRemovable are skipped), ordered so that every
// index stays valid: within one
// array, highest index first. They apply before any `add` to the same Pod.
// `max_patch_bytes` as mutation::Patch's budget (0: no limit).
mutation::Patch plan_removal(const std::vector<Finding>& findings, std::size_t max_patch_bytes = 0);

// Glob match with `*` (any run) and `?` (one character), whole string.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace irsa::credentials
