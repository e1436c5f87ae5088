// Detection rules for static AWS credentials and index-safe removal.
#include "credentials/static_credentials.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "credentials/endpoints.h"

namespace irsa::credentials {

std::string_view kind_name(FindingKind kind) {
  switch (kind) {
    case FindingKind::kEnv:
      return "env";
    case FindingKind::kEnvFrom:
      return "envFrom";
    case FindingKind::kVolumeMount:
      return "volumeMount";
    case FindingKind::kVolume:
      return "volume";
  }
  return "env";
}

std::string_view handling_name(Handling handling) {
  switch (handling) {
    case Handling::kRemovable:
      return "removable";
    case Handling::kNonAwsEndpoint:
      return "non-aws-endpoint";
    case Handling::kEndpointNotVerifiable:
      return "endpoint-not-verifiable";
    case Handling::kReportOnly:
      return "report-only";
    case Handling::kSecretContent:
      return "secret-content";
    case Handling::kNonAwsEndpointOutsidePod:
      return "non-aws-endpoint-outside-pod";
  }
  return "removable";
}

namespace {

using mutation::ContainerView;
using mutation::PodView;
using mutation::VolumeSource;
using mutation::VolumeView;

constexpr std::array<std::string_view, 5> kAccessKeyEnv = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY"};
constexpr std::string_view kSharedCredentialsFileEnv = "AWS_SHARED_CREDENTIALS_FILE";
constexpr std::string_view kConfigFileEnv = "AWS_CONFIG_FILE";
constexpr std::string_view kProfileEnv = "AWS_PROFILE";

std::string_view trim_trailing_slashes(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

std::string_view basename(std::string_view path) {
  path = trim_trailing_slashes(path);
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view dirname_base(std::string_view path) {
  path = trim_trailing_slashes(path);
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  return basename(path.substr(0, slash));
}

// The directory ~/.aws, or the credentials file inside one.
bool is_credentials_location(std::string_view mount_path) {
  std::string_view base = basename(mount_path);
  return base == ".aws" || (base == "credentials" && dirname_base(mount_path) == ".aws");
}

bool is_config_location(std::string_view mount_path) {
  return basename(mount_path) == "config" && dirname_base(mount_path) == ".aws";
}

// Does the mount at `mount_path` hold the file `file`?
bool holds(std::string_view mount_path, std::string_view file) {
  mount_path = trim_trailing_slashes(mount_path);
  if (file == mount_path) return true;
  return file.size() > mount_path.size() && file.substr(0, mount_path.size()) == mount_path &&
         (mount_path == "/" || file[mount_path.size()] == '/');
}

bool exposes_secret(const VolumeView* volume) {
  return volume != nullptr &&
         (volume->source == VolumeSource::kSecret ||
          (volume->source == VolumeSource::kProjected && !volume->secret_names.empty()));
}

// Volumes whose mount at .aws strip removes: credentials from outside the
// Pod (a Secret, the node's files) that the role replaces.
bool removable_source(const VolumeView* volume) {
  return exposes_secret(volume) || (volume != nullptr && volume->source == VolumeSource::kHostPath);
}

// Any volume at .aws counts, except a projected token (the injected one or
// the user's own): emptyDir, PVC, ConfigMap, CSI and the like are reported.
bool counts_at_aws(const VolumeView* volume) {
  return volume != nullptr && !(volume->source == VolumeSource::kProjected &&
                                volume->secret_names.empty() && volume->service_account_token);
}

std::string mount_reason(const VolumeView& volume, bool credentials_file) {
  if (volume.source == VolumeSource::kHostPath) {
    return credentials_file ? "node's files (hostPath) holding AWS_SHARED_CREDENTIALS_FILE"
                            : "node's files (hostPath) mounted as AWS credentials";
  }
  if (removable_source(&volume)) {
    return credentials_file ? "Secret holding AWS_SHARED_CREDENTIALS_FILE"
                            : "Secret mounted as AWS credentials";
  }
  return "volume mounted at .aws; strip keeps it: it may hold the Pod's own data";
}

bool is_access_key(std::string_view name) {
  return std::find(kAccessKeyEnv.begin(), kAccessKeyEnv.end(), name) != kAccessKeyEnv.end();
}

struct ContainerRef {
  const ContainerView* view;
  bool init;
  std::size_t index;
  Handling handling = Handling::kRemovable;  // kRemovable or an endpoint handling
  std::string endpoint;
};

std::vector<ContainerRef> all_containers(const PodView& pod) {
  std::vector<ContainerRef> refs;
  for (std::size_t i = 0; i < pod.init_containers.size(); ++i) {
    refs.push_back({&pod.init_containers[i], true, i, Handling::kRemovable, {}});
  }
  for (std::size_t i = 0; i < pod.containers.size(); ++i) {
    refs.push_back({&pod.containers[i], false, i, Handling::kRemovable, {}});
  }
  for (auto& ref : refs) {
    Endpoint endpoint = container_endpoint(*ref.view);
    if (endpoint.kind != EndpointKind::kNonAws && endpoint.kind != EndpointKind::kNotVerifiable) {
      continue;
    }
    ref.handling = endpoint.kind == EndpointKind::kNonAws ? Handling::kNonAwsEndpoint
                                                          : Handling::kEndpointNotVerifiable;
    ref.endpoint = endpoint.variable;
    if (!endpoint.host.empty()) ref.endpoint += " " + endpoint.host;
  }
  return refs;
}

Finding make(FindingKind kind, const ContainerRef& ref, std::size_t index, std::string_view name,
             std::string reason) {
  Finding finding;
  finding.kind = kind;
  finding.init_container = ref.init;
  finding.container_index = ref.index;
  finding.container = std::string(ref.view->name);
  finding.index = index;
  finding.name = std::string(name);
  finding.reason = std::move(reason);
  finding.handling = ref.handling;
  finding.endpoint = ref.endpoint;
  return finding;
}

// The findings of one container, except those that depend on other
// containers (config mounts of a credentials volume).
std::vector<Finding> scan_container(const PodView& pod, const ContainerRef& ref,
                                    const DetectOptions& options) {
  const ContainerView& container = *ref.view;
  std::vector<Finding> findings;
  std::optional<std::string_view> credentials_file;

  for (std::size_t j = 0; j < container.env.size(); ++j) {
    const auto& env = container.env[j];
    if (is_access_key(env.name)) {
      findings.push_back(make(FindingKind::kEnv, ref, j, env.name,
                              env.has_value_from ? "static access key from a reference"
                                                 : "static access key as a literal value"));
    } else if (env.name == kSharedCredentialsFileEnv) {
      findings.push_back(
          make(FindingKind::kEnv, ref, j, env.name, "points the SDK at a static credentials file"));
      if (!env.has_value_from && !env.value.empty()) credentials_file = env.value;
    }
  }

  for (std::size_t j = 0; j < container.env_from.size(); ++j) {
    std::string_view secret = container.env_from[j].secret_name;
    if (secret.empty()) continue;
    for (const auto& pattern : options.secret_name_patterns) {
      if (glob_match(pattern, secret)) {
        findings.push_back(make(FindingKind::kEnvFrom, ref, j, secret,
                                "Secret listed in --static-credentials-secret-names"));
        break;
      }
    }
  }

  for (std::size_t j = 0; j < container.volume_mounts.size(); ++j) {
    const auto& mount = container.volume_mounts[j];
    const VolumeView* volume = pod.volume_named(mount.name);
    if (!counts_at_aws(volume)) continue;
    bool at_aws = is_credentials_location(mount.mount_path);
    bool file = !at_aws && removable_source(volume) && credentials_file &&
                holds(mount.mount_path, *credentials_file);
    if (!at_aws && !file) continue;
    Finding finding =
        make(FindingKind::kVolumeMount, ref, j, mount.name, mount_reason(*volume, file));
    if (!removable_source(volume) && finding.handling == Handling::kRemovable) {
      finding.handling = Handling::kReportOnly;
    }
    finding.mount_path = std::string(mount.mount_path);
    findings.push_back(std::move(finding));
  }
  return findings;
}

bool removed_mount(const std::vector<Finding>& findings, const ContainerRef& ref, std::size_t j) {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
    return f.kind == FindingKind::kVolumeMount && f.handling == Handling::kRemovable &&
           f.init_container == ref.init && f.container_index == ref.index && f.index == j;
  });
}

bool has_finding(const std::vector<Finding>& findings, const ContainerRef& ref, FindingKind kind,
                 std::string_view name) {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
    return f.kind == kind && f.handling == Handling::kRemovable && f.init_container == ref.init &&
           f.container_index == ref.index && f.name == name;
  });
}

}  // namespace

bool is_access_key_variable(std::string_view name) { return is_access_key(name); }

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: linear in practice, bounded
  // by |pattern| * |text| in the worst case.
  std::size_t p = 0, t = 0, star = std::string_view::npos, retry = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      retry = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++retry;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<Finding> find_static_credentials(const PodView& pod, const DetectOptions& options) {
  auto containers = all_containers(pod);
  std::vector<Finding> findings;
  for (const auto& ref : containers) {
    auto found = scan_container(pod, ref, options);
    findings.insert(findings.end(), found.begin(), found.end());
  }

  // Volumes that carry credentials: their ~/.aws/config mounts go too.
  std::set<std::string, std::less<>> credential_volumes;
  for (const auto& finding : findings) {
    if (finding.kind == FindingKind::kVolumeMount && finding.handling == Handling::kRemovable) {
      credential_volumes.insert(finding.name);
    }
  }
  for (const auto& ref : containers) {
    const ContainerView& container = *ref.view;
    for (std::size_t j = 0; j < container.volume_mounts.size(); ++j) {
      const auto& mount = container.volume_mounts[j];
      bool found = std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
        return f.kind == FindingKind::kVolumeMount && f.init_container == ref.init &&
               f.container_index == ref.index && f.index == j;
      });
      if (found || !credential_volumes.count(mount.name)) continue;
      if (!is_config_location(mount.mount_path)) continue;
      Finding finding = make(FindingKind::kVolumeMount, ref, j, mount.name,
                             "AWS config from the same volume as the credentials");
      finding.mount_path = std::string(mount.mount_path);
      findings.push_back(std::move(finding));
    }
  }

  // Env vars that would point at files no longer there.
  for (const auto& ref : containers) {
    const ContainerView& container = *ref.view;
    bool lost_credentials_file =
        has_finding(findings, ref, FindingKind::kEnv, kSharedCredentialsFileEnv);
    bool lost_config = false;
    bool config_remains = false;
    for (std::size_t j = 0; j < container.volume_mounts.size(); ++j) {
      const auto& mount = container.volume_mounts[j];
      bool removed = removed_mount(findings, ref, j);
      lost_credentials_file |= removed;
      if (is_config_location(mount.mount_path) || basename(mount.mount_path) == ".aws") {
        (removed ? lost_config : config_remains) = true;
      }
    }
    for (std::size_t j = 0; j < container.env.size(); ++j) {
      const auto& env = container.env[j];
      if (env.name == kConfigFileEnv && !env.has_value_from) {
        bool file_removed = false, file_kept = false;
        for (std::size_t m = 0; m < container.volume_mounts.size(); ++m) {
          if (!holds(container.volume_mounts[m].mount_path, env.value)) continue;
          (removed_mount(findings, ref, m) ? file_removed : file_kept) = true;
        }
        if (file_removed && !file_kept) {
          findings.push_back(make(FindingKind::kEnv, ref, j, env.name,
                                  "points at AWS config removed with the credentials"));
          lost_config = true;
        } else {
          config_remains = true;
        }
      }
    }
    if (!lost_credentials_file || (config_remains && !lost_config)) continue;
    for (std::size_t j = 0; j < container.env.size(); ++j) {
      if (container.env[j].name != kProfileEnv) continue;
      findings.push_back(make(FindingKind::kEnv, ref, j, kProfileEnv,
                              "names a profile from the removed credentials file"));
    }
  }

  // A volume goes only when no remaining mount anywhere uses it.
  for (std::size_t v = 0; v < pod.volumes.size(); ++v) {
    const VolumeView& volume = pod.volumes[v];
    // Only a volume that exposes a Secret itself: a second volume of the
    // same name (which the API server refuses, but after admission) is not
    // the one the mount was judged by (found by fuzz/).
    if (!credential_volumes.count(volume.name) || !removable_source(&volume)) continue;
    bool still_used = false;
    for (const auto& ref : containers) {
      for (std::size_t j = 0; j < ref.view->volume_mounts.size(); ++j) {
        if (ref.view->volume_mounts[j].name == volume.name && !removed_mount(findings, ref, j)) {
          still_used = true;
        }
      }
    }
    if (still_used) continue;
    Finding finding;
    finding.kind = FindingKind::kVolume;
    finding.index = v;
    finding.name = std::string(volume.name);
    finding.reason = volume.source == VolumeSource::kHostPath
                         ? "hostPath volume used only for AWS credentials"
                         : "Secret volume used only for AWS credentials";
    findings.push_back(std::move(finding));
  }
  return findings;
}

mutation::Patch plan_removal(const std::vector<Finding>& findings, std::size_t max_patch_bytes) {
  // Path of the array each finding lives in -> its indices, removed from the
  // highest down so earlier removals never shift later ones.
  std::map<std::string, std::set<std::size_t, std::greater<>>> arrays;
  for (const auto& finding : findings) {
    if (finding.handling != Handling::kRemovable) continue;
    std::string base;
    if (finding.kind != FindingKind::kVolume) {
      base = std::string("/spec/") + (finding.init_container ? "initContainers/" : "containers/") +
             std::to_string(finding.container_index);
    }
    switch (finding.kind) {
      case FindingKind::kEnv:
        base += "/env";
        break;
      case FindingKind::kEnvFrom:
        base += "/envFrom";
        break;
      case FindingKind::kVolumeMount:
        base += "/volumeMounts";
        break;
      case FindingKind::kVolume:
        base = "/spec/volumes";
        break;
    }
    arrays[base].insert(finding.index);
  }
  mutation::Patch patch(max_patch_bytes);
  for (const auto& [base, indices] : arrays) {
    for (std::size_t index : indices) patch.remove(base + "/" + std::to_string(index));
  }
  return patch;
}

std::string Finding::describe() const {
  std::string text;
  switch (kind) {
    case FindingKind::kEnv:
      text = "container " + container + ": env " + name;
      break;
    case FindingKind::kEnvFrom:
      text = "container " + container + ": envFrom Secret " + name;
      break;
    case FindingKind::kVolumeMount:
      text = "container " + container + ": volume " + name + " at " + mount_path;
      break;
    case FindingKind::kVolume:
      text = "volume " + name;
      break;
  }
  text += " (" + reason + ")";
  if (text.size() > 119) text = text.substr(0, 116) + "...";
  return text;
}

std::string Finding::key() const {
  switch (kind) {
    case FindingKind::kEnv:
      return container + "/env/" + name;
    case FindingKind::kEnvFrom:
      return container + "/envFrom/" + name;
    case FindingKind::kVolumeMount:
      return container + "/volumeMount/" + name;
    case FindingKind::kVolume:
      return "volume/" + name;
  }
  return name;
}

}  // namespace irsa::credentials
