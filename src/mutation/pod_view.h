// A read-only view of the parts of a Pod the webhook acts on, read where the
// Pod lies (a simdjson DOM) without copying or rebuilding it. The views'
// string_views point into the parsed document: it must outlive the PodView.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/result.h"

namespace irsa::mutation {

struct EnvVarView {
  std::string_view name;
  std::string_view value;       // the literal value; empty with valueFrom. Never log it.
  bool has_value_from = false;  // valueFrom (secretKeyRef, fieldRef, ...) rather than value
};

struct EnvFromView {
  std::string_view secret_name;      // secretRef.name; empty when not a secretRef
  std::string_view config_map_name;  // configMapRef.name; empty when not a configMapRef
};

struct VolumeMountView {
  std::string_view name;
  std::string_view mount_path;
  std::string_view sub_path;
};

struct ContainerView {
  std::string_view name;
  // `env` / `volumeMounts` present as JSON arrays (possibly empty). When
  // absent or null, a patch adds the whole array instead of appending.
  bool has_env = false;
  bool has_volume_mounts = false;
  std::optional<bool> run_as_non_root;  // securityContext.runAsNonRoot; nullopt when unset
  std::vector<EnvVarView> env;
  std::vector<EnvFromView> env_from;
  std::vector<VolumeMountView> volume_mounts;
  std::optional<int64_t> run_as_user;  // securityContext.runAsUser; nullopt when unset
  simdjson::dom::element raw;          // the container object itself, for credential checks

  bool has_env_named(std::string_view name) const;
  bool has_mount_named(std::string_view name) const;
  const EnvVarView* env_named(std::string_view name) const;  // the first; nullptr if none
};

enum class VolumeSource {
  kSecret,     // secret: {secretName}
  kProjected,  // projected: {sources: [...]}; secret_names lists its secret sources
  kHostPath,   // hostPath: files of the node
  kOther,
};

struct VolumeView {
  std::string_view name;
  VolumeSource source = VolumeSource::kOther;
  std::optional<int64_t> default_mode;  // projected.defaultMode
  // The Secrets it exposes: secret.secretName, or projected sources' secret.name.
  std::vector<std::string_view> secret_names;
  bool service_account_token = false;  // a projected serviceAccountToken source
  simdjson::dom::element raw;
};

struct PodView {
  std::string_view name;
  std::string_view generate_name;
  std::string_view namespace_name;  // metadata.namespace; may be empty
  simdjson::dom::object labels;
  simdjson::dom::object annotations;      // empty object when absent
  std::string_view service_account_name;  // "default" when absent or empty
  simdjson::dom::object node_selector;    // empty when absent
  std::vector<ContainerView> containers;
  std::vector<ContainerView> init_containers;
  std::vector<VolumeView> volumes;
  std::string_view os_name;  // spec.os.name; empty when absent
  // spec.securityContext: the fields the token's file permissions depend on.
  std::optional<int64_t> fs_group;
  std::optional<int64_t> run_as_user;
  std::optional<bool> run_as_non_root;
  bool has_security_context = false;  // spec.securityContext is an object
  bool has_metadata = false;
  bool has_labels = false;   // metadata.labels is an object
  bool has_volumes = false;  // spec.volumes is an array
  // Every term of the required node affinity has a kubernetes.io/os (or
  // beta.kubernetes.io/os) In [windows] expression (see read_pod).
  bool node_affinity_requires_windows = false;

  std::optional<std::string_view> annotation(std::string_view key) const;
  std::optional<std::string_view> label(std::string_view key) const;
  std::optional<std::string_view> node_selector_value(std::string_view key) const;
  bool has_volume_named(std::string_view name) const;
  const VolumeView* volume_named(std::string_view name) const;  // nullptr if none
};

// Reads `pod` (an object with kind Pod or no kind at all). Fails with a
// one-line reason when it is not a Pod the webhook can interpret: not an
// object, no spec, containers missing or not an array, a container without a
// name, a field of the wrong JSON type.
Result<PodView> read_pod(simdjson::dom::element pod);

}  // namespace irsa::mutation
