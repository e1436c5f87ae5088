// Options of the mutation core: the webhook-wide settings that come from flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace irsa::mutation {

inline constexpr char kTokenVolumeName[] = "aws-iam-token";
inline constexpr char kTokenPath[] = "token";
inline constexpr char kPodIdentityLabel[] = "eks.amazonaws.com/pod-identity";

struct Options {
  std::string annotation_prefix = "eks.amazonaws.com";
  // Web identity (IRSA).
  std::string token_mount_path = "/var/run/secrets/eks.amazonaws.com/serviceaccount";
  // Added as AWS_DEFAULT_REGION and AWS_REGION unless either is set; a
  // ServiceAccount's <prefix>/region (Identity::region) wins over it.
  std::string region;
  // Container credentials (EKS Pod Identity).
  std::string container_credentials_full_uri = "http://169.254.170.23/v1/credentials";
  std::string container_credentials_token_mount_path =
      "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";
  std::string container_credentials_token_volume_name = "eks-pod-identity-token";
  std::string container_credentials_token_path = "eks-pod-identity-token";
  // --inject-fs-group: set spec.securityContext.fsGroup to this GID in Pods
  // that receive the identity and set none (not Windows Pods, where the API
  // server refuses fsGroup). nullopt: off.
  std::optional<int64_t> inject_fs_group;
  // The largest JSON Patch text the core writes for one Pod (0: no limit);
  // past it, planning throws PatchTooLarge. The server derives it from
  // --max-response-bytes.
  std::size_t max_patch_bytes = 0;
};

}  // namespace irsa::mutation
