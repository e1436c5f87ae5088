// The kubelet's ownership and mode of a projected ServiceAccount token file.
#include "mutation/token_access.h"

namespace irsa::mutation {
namespace {

// FsUserFrom: the common effective runAsUser of every container, if any.
std::optional<int64_t> common_run_as_user(const PodView& pod) {
  std::optional<int64_t> common;
  bool first = true;
  for (const auto* list : {&pod.init_containers, &pod.containers}) {
    for (const auto& container : *list) {
      auto uid = container.run_as_user ? container.run_as_user : pod.run_as_user;
      if (!uid) return std::nullopt;
      if (first) {
        common = uid;
        first = false;
      } else if (*common != *uid) {
        return std::nullopt;
      }
    }
  }
  return common;
}

}  // namespace

TokenFile token_file(const PodView& pod, std::optional<int64_t> default_mode,
                     std::optional<int64_t> fs_group) {
  TokenFile file;
  auto fs_user = common_run_as_user(pod);
  file.mode = default_mode.value_or(0644) & 0777;
  if (fs_user || fs_group) file.mode = 0600;
  if (fs_user) file.owner = *fs_user;
  if (fs_group) {
    file.group = fs_group;
    file.mode |= 0040;  // a read-only volume: group read, as SetVolumeOwnership
  }
  return file;
}

bool can_read(const TokenFile& file, std::optional<int64_t> uid, bool non_root) {
  if (file.mode & 0004) return true;
  if (file.group && (file.mode & 0040)) return true;  // fsGroup is every container's
  if (!uid) {
    // The image's user: root reads anything; a non-root one only what the
    // owner bits give it if it happens to be the owner, which is unknowable.
    return !non_root;
  }
  if (*uid == 0) return true;
  return *uid == file.owner && (file.mode & 0400);
}

}  // namespace irsa::mutation
