// The missed-identity check: the presence rules of plan_mutation read
// backwards, on a Pod as it runs.
#include "mutation/injected.h"

#include "mutation/containers.h"

namespace irsa::mutation {
namespace {

constexpr std::string_view kRoleArnEnv = "AWS_ROLE_ARN";
constexpr std::string_view kTokenFileEnv = "AWS_WEB_IDENTITY_TOKEN_FILE";
constexpr std::string_view kFullUriEnv = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
constexpr std::string_view kAuthorizationTokenFileEnv = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";

bool has_identity_env(const ContainerView& container, identity::Mode mode) {
  if (mode == identity::Mode::kContainerCredentials) {
    return container.has_env_named(kFullUriEnv) ||
           container.has_env_named(kAuthorizationTokenFileEnv);
  }
  return container.has_env_named(kRoleArnEnv) || container.has_env_named(kTokenFileEnv);
}

// The role the Pod's receiving containers carry in AWS_ROLE_ARN (the first
// literal value), or "".
std::string carried_role(const PodView& pod, const ContainerSelection& selection) {
  for (auto [list, init] :
       {std::pair{&pod.init_containers, true}, std::pair{&pod.containers, false}}) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      if (!selection.receives(init, i)) continue;
      if (const EnvVarView* env = (*list)[i].env_named(kRoleArnEnv);
          env && !env->has_value_from && !env->value.empty()) {
        return std::string(env->value);
      }
    }
  }
  return {};
}

}  // namespace

std::string_view injection_problem_name(InjectionProblem problem) {
  switch (problem) {
    case InjectionProblem::kNone:
      return "none";
    case InjectionProblem::kMissingTokenVolume:
      return "missing-token-volume";
    case InjectionProblem::kMissingTokenMount:
      return "missing-token-mount";
    case InjectionProblem::kMissingIdentityEnv:
      return "missing-identity-env";
    case InjectionProblem::kIdentityRemoved:
      return "identity-removed";
    case InjectionProblem::kRoleChanged:
      return "role-changed";
  }
  return "none";
}

InjectionCheck check_injection(const PodView& pod,
                               const std::optional<identity::Identity>& identity,
                               const Options& options) {
  InjectionCheck check;
  const bool has_web_identity = pod.has_volume_named(kTokenVolumeName);
  const bool has_container_credentials =
      pod.has_volume_named(options.container_credentials_token_volume_name);
  const ContainerSelection selection = select_containers(pod, options.annotation_prefix);

  if (!identity) {
    if (has_web_identity || has_container_credentials) {
      check.problem = InjectionProblem::kIdentityRemoved;
      check.carried_role = carried_role(pod, selection);
    }
    return check;
  }
  // No container receives the identity: the webhook adds nothing.
  if (!selection.any()) return check;

  const bool container_credentials = identity->mode == identity::Mode::kContainerCredentials;
  const std::string& volume = container_credentials
                                  ? options.container_credentials_token_volume_name
                                  : std::string(kTokenVolumeName);
  // Injected in the other mode: the ServiceAccount moved between IRSA and
  // EKS Pod Identity since.
  if (!pod.has_volume_named(volume)) {
    if (container_credentials ? has_web_identity : has_container_credentials) {
      check.problem = InjectionProblem::kRoleChanged;
      check.carried_role = carried_role(pod, selection);
    } else {
      check.problem = InjectionProblem::kMissingTokenVolume;
    }
    return check;
  }
  for (auto [list, init] :
       {std::pair{&pod.init_containers, true}, std::pair{&pod.containers, false}}) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      if (!selection.receives(init, i)) continue;
      const ContainerView& container = (*list)[i];
      if (!has_identity_env(container, identity->mode)) {
        check.problem = InjectionProblem::kMissingIdentityEnv;
        check.container = std::string(container.name);
        return check;
      }
      if (!container.has_mount_named(volume)) {
        check.problem = InjectionProblem::kMissingTokenMount;
        check.container = std::string(container.name);
        return check;
      }
    }
  }
  if (!container_credentials) {
    std::string carried = carried_role(pod, selection);
    if (!carried.empty() && carried != identity->role_arn) {
      check.problem = InjectionProblem::kRoleChanged;
      check.carried_role = std::move(carried);
    }
  }
  return check;
}

}  // namespace irsa::mutation
