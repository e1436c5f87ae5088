// Who can read the projected ServiceAccount token file the kubelet writes,
// by the kubelet's rule for serviceAccountToken sources of a projected
// volume (Linux). Pure.
//
// The rule, as documented in "Projected Volumes", section "SecurityContext
// interactions" (https://kubernetes.io/docs/concepts/storage/projected-volumes/
// #securitycontext-interactions), and as the kubelet implements it since
// Kubernetes 1.19 (pkg/volume/projected: the token's mode; pkg/volume/util
// FsUserFrom: the owner; SetVolumeOwnership: fsGroup):
//   - owner: when every container of the Pod (init and ephemeral included)
//     has an effective runAsUser (the container's securityContext, else the
//     Pod's) and they are all the same UID, the file is owned by that UID;
//     otherwise by root (0);
//   - mode: 0600 when such a common UID exists or the Pod sets fsGroup;
//     otherwise the volume's defaultMode (0644 when unset, the API default);
//   - fsGroup: the file's group becomes fsGroup and group read is added
//     (0600 -> 0640); every container runs with fsGroup as a supplementary
//     group.
// Before Kubernetes 1.19 the kubelet wrote the token 0600 root:root (with
// fsGroup: 0640 root:fsGroup), which is what AWS's issue #8 is about.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mutation/pod_view.h"

namespace irsa::mutation {

struct TokenFile {
  int64_t owner = 0;
  std::optional<int64_t> group;  // fsGroup; nullopt: root's group
  int64_t mode = 0644;
};

// The token file for `pod`, whose token volume has `default_mode` (nullopt:
// the API default 0644) and whose fsGroup is `fs_group` (the Pod's, or the one
// the webhook is about to set).
TokenFile token_file(const PodView& pod, std::optional<int64_t> default_mode,
                     std::optional<int64_t> fs_group);

// The containers among those receiving the token (`receives(init, index)`)
// whose process user cannot read `file`: a known non-root runAsUser that is
// neither the owner nor covered by group or other read, or no runAsUser
// with runAsNonRoot (the image's user, not root, owner unknown).
template <typename Receives>
std::vector<std::string> containers_unable_to_read(const PodView& pod, const TokenFile& file,
                                                   Receives receives);

bool can_read(const TokenFile& file, std::optional<int64_t> uid, bool non_root);

template <typename Receives>
std::vector<std::string> containers_unable_to_read(const PodView& pod, const TokenFile& file,
                                                   Receives receives) {
  std::vector<std::string> names;
  for (bool init : {true, false}) {
    const auto& list = init ? pod.init_containers : pod.containers;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (!receives(init, i)) continue;
      const ContainerView& container = list[i];
      auto uid = container.run_as_user ? container.run_as_user : pod.run_as_user;
      bool non_root = container.run_as_non_root.value_or(pod.run_as_non_root.value_or(false));
      if (!can_read(file, uid, non_root)) names.emplace_back(container.name);
    }
  }
  return names;
}

}  // namespace irsa::mutation
