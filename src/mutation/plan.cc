// The mutation rules of AWS's webhook (pkg/handler), expressed as surgical
// JSON Patch operations on the Pod as it is, so unknown fields survive.
#include "mutation/plan.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "common/quote.h"
#include "mutation/containers.h"
#include "mutation/token_access.h"

namespace irsa::mutation {
namespace {

constexpr std::string_view kRoleArnEnv = "AWS_ROLE_ARN";
constexpr std::string_view kTokenFileEnv = "AWS_WEB_IDENTITY_TOKEN_FILE";
constexpr std::string_view kFullUriEnv = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
constexpr std::string_view kAuthorizationTokenFileEnv = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
constexpr std::string_view kRegionEnv = "AWS_REGION";
constexpr std::string_view kDefaultRegionEnv = "AWS_DEFAULT_REGION";
constexpr std::string_view kRegionalStsEnv = "AWS_STS_REGIONAL_ENDPOINTS";
constexpr std::string_view kRoleSessionNameEnv = "AWS_ROLE_SESSION_NAME";

// Container-credentials tokens with the default lifetime get 0..2 h less, so
// a fleet's refreshes spread out (as AWS's webhook does).
constexpr int64_t kJitterWindow = 7200;

// Lexical clean of a slash-separated path, as Go's path.Clean: collapses
// "//", drops ".", resolves "..".
std::string clean_path(std::string_view path) {
  bool rooted = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

// "644" for 0644.
std::string octal_mode(int64_t mode) {
  std::string out;
  for (int shift = 6; shift >= 0; shift -= 3) out += static_cast<char>('0' + ((mode >> shift) & 7));
  return out;
}

std::string env_var(std::string_view name, std::string_view value) {
  return JsonObject().string("name", name).string("value", value).done();
}

// Appends `items` (JSON values) to the array at `base` followed by `member`
// ("/env"), or adds the whole array when the Pod has none there yet.
void append_all(Patch& patch, std::string_view base, std::string_view member, bool array_exists,
                const std::vector<std::string_view>& items) {
  if (items.empty()) return;
  std::string path(base);
  path += member;
  if (!array_exists) {
    patch.add(path, json_array(items));
    return;
  }
  path += "/-";
  for (auto item : items) patch.add(path, item);
}

struct ContainerRules {
  identity::Mode mode = identity::Mode::kWebIdentity;
  const identity::Identity* identity = nullptr;
  const Options* options = nullptr;
  std::string volume_name;
  std::string mount_path;
  std::string token_file;
  std::string region;  // the ServiceAccount's, else --aws-default-region; may be empty
  // The JSON text of each env var and the mount a container may get: the
  // same for every container, so written once per Pod.
  std::string sts_env;
  std::string default_region_env;
  std::string region_env;
  std::string identity_env[2];
  std::string session_env;
  std::string mount;
  // A literal AWS_ROLE_SESSION_NAME for a Pod whose name STS would refuse;
  // empty: the downward API's metadata.name.
  std::string fixed_session_name;

  void write_values() {
    bool container_credentials = mode == identity::Mode::kContainerCredentials;
    if (identity->regional_sts) sts_env = env_var(kRegionalStsEnv, "regional");
    region = identity->region.empty() ? options->region : identity->region;
    if (!region.empty()) {
      default_region_env = env_var(kDefaultRegionEnv, region);
      region_env = env_var(kRegionEnv, region);
    }
    if (container_credentials) {
      identity_env[0] = env_var(kFullUriEnv, options->container_credentials_full_uri);
      identity_env[1] = env_var(kAuthorizationTokenFileEnv, token_file);
    } else {
      identity_env[0] = env_var(kRoleArnEnv, identity->role_arn);
      identity_env[1] = env_var(kTokenFileEnv, token_file);
      if (identity->role_session_name && !fixed_session_name.empty()) {
        session_env = env_var(kRoleSessionNameEnv, fixed_session_name);
      } else if (identity->role_session_name) {
        session_env = JsonObject()
                          .string("name", kRoleSessionNameEnv)
                          .raw("valueFrom", R"({"fieldRef":{"fieldPath":"metadata.name"}})")
                          .done();
      }
    }
    mount = JsonObject()
                .string("mountPath", mount_path)
                .string("name", volume_name)
                .boolean("readOnly", true)
                .done();
  }
};

// What the containers' plans found worth telling the Pod's owner.
struct ContainerFindings {
  bool fixed_session_name = false;      // a container got the literal session name
  bool regional_sts_no_region = false;  // regional STS asked for, no region to make it so
};

// One container, as AWS's addEnvToContainer: a container that already has
// the identity env, a region and the STS setting is left alone entirely.
void plan_container(const ContainerView& container, const std::string& base,
                    const ContainerRules& rules, Patch& patch, ContainerFindings& findings) {
  bool container_credentials = rules.mode == identity::Mode::kContainerCredentials;
  bool identity_defined =
      container_credentials
          ? container.has_env_named(kFullUriEnv) ||
                container.has_env_named(kAuthorizationTokenFileEnv)
          : container.has_env_named(kRoleArnEnv) || container.has_env_named(kTokenFileEnv);
  bool region_defined =
      container.has_env_named(kRegionEnv) || container.has_env_named(kDefaultRegionEnv);
  bool sts_defined = container.has_env_named(kRegionalStsEnv);
  // The SDKs that honour AWS_STS_REGIONAL_ENDPOINTS (the CLI v2 and newer
  // ones do not) need a region for it too: without one, all call global STS.
  if (!container_credentials && rules.identity->regional_sts && !region_defined &&
      rules.region_env.empty()) {
    findings.regional_sts_no_region = true;
  }
  if (identity_defined && region_defined && sts_defined) return;

  std::vector<std::string_view> env;
  env.reserve(6);
  if (!sts_defined && rules.identity->regional_sts) env.push_back(rules.sts_env);
  if (!region_defined && !rules.region.empty()) {
    env.push_back(rules.default_region_env);
    env.push_back(rules.region_env);
  }
  if (!identity_defined) {
    env.push_back(rules.identity_env[0]);
    env.push_back(rules.identity_env[1]);
  }
  if (!container_credentials && rules.identity->role_session_name &&
      !container.has_env_named(kRoleSessionNameEnv)) {
    env.push_back(rules.session_env);
    if (!rules.fixed_session_name.empty()) findings.fixed_session_name = true;
  }
  append_all(patch, base, "/env", container.has_env, env);

  if (!container.has_mount_named(rules.volume_name)) {
    append_all(patch, base, "/volumeMounts", container.has_volume_mounts, {rules.mount});
  }
}

}  // namespace

std::string session_name_for(std::string_view pod_name) {
  // FNV-1a, 64 bits; its high half mixes every byte best.
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : pod_name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name(pod_name.substr(0, kSessionNamePrefixLength));
  name += '-';
  for (int shift = 60; shift >= 32; shift -= 4) name += kHex[(hash >> shift) & 0xF];
  return name;
}

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size() + 4);
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

bool is_windows(const PodView& pod) {
  return pod.os_name == "windows" || pod.node_selector_value("kubernetes.io/os") == "windows" ||
         pod.node_selector_value("beta.kubernetes.io/os") == "windows" ||
         pod.node_affinity_requires_windows;
}

Plan plan_mutation(const PodView& pod, const identity::Identity& identity, const Options& options,
                   double jitter) {
  Plan plan;
  plan.patch = Patch(options.max_patch_bytes);
  bool container_credentials = identity.mode == identity::Mode::kContainerCredentials;
  const std::string prefix = options.annotation_prefix + "/";

  ContainerRules rules;
  rules.mode = identity.mode;
  rules.identity = &identity;
  rules.options = &options;
  std::string token_path;
  if (container_credentials) {
    rules.volume_name = options.container_credentials_token_volume_name;
    rules.mount_path = options.container_credentials_token_mount_path;
    token_path = options.container_credentials_token_path;
  } else {
    rules.volume_name = kTokenVolumeName;
    rules.mount_path = options.token_mount_path;
    token_path = kTokenPath;
  }
  rules.token_file = clean_path(rules.mount_path + "/" + token_path);
  const bool windows = is_windows(pod);
  if (windows) {
    std::string windows = "C:";
    for (char c : rules.token_file) windows += c == '/' ? '\\' : c;
    rules.token_file = std::move(windows);
  }
  // A Pod made from generateName has no name yet (kube-apiserver names it
  // after admission, from a prefix cut to 58 characters plus 5: always fits);
  // an explicit name can have 1 to 253 characters, and STS takes 2 to 64.
  const bool name_misfits = !pod.name.empty() && (pod.name.size() < kMinSessionNameLength ||
                                                  pod.name.size() > kMaxSessionNameLength);
  if (!container_credentials && identity.role_session_name && name_misfits) {
    rules.fixed_session_name = session_name_for(pod.name);
  }
  rules.write_values();

  // Token lifetime: Pod annotation > ServiceAccount annotation > flag.
  int64_t expiration = identity.token_expiration;
  if (auto requested = pod.annotation(prefix + "token-expiration")) {
    auto parsed = identity::parse_go_int64(*requested);
    auto valid = parsed ? identity::validate_token_expiration(*parsed) : std::nullopt;
    if (valid) {
      expiration = *valid;
    } else {
      plan.warnings.push_back("Pod annotation " + prefix + "token-expiration " +
                              quote(*requested, 24) + " is not a valid number of seconds: ignored");
    }
  }
  if (container_credentials && expiration == identity::kDefaultTokenExpiration) {
    double fraction = std::isfinite(jitter) && jitter > 0 ? (jitter < 1 ? jitter : 0.999999) : 0;
    expiration = identity::kDefaultTokenExpiration - kJitterWindow +
                 static_cast<int64_t>(std::floor(fraction * kJitterWindow));
  }

  ContainerSelection selection = select_containers(pod, options.annotation_prefix);
  for (auto& warning : selection.warnings) plan.warnings.push_back(std::move(warning));

  Patch& patch = plan.patch;
  ContainerFindings findings;
  if (!pod.has_volume_named(rules.volume_name)) {
    std::string token = JsonObject()
                            .string("audience", identity.audience)
                            .integer("expirationSeconds", expiration)
                            .string("path", token_path)
                            .done();
    std::string volume =
        JsonObject()
            .string("name", rules.volume_name)
            .raw("projected",
                 JsonObject()
                     .raw("sources",
                          "[" + JsonObject().raw("serviceAccountToken", token).done() + "]")
                     .done())
            .done();
    append_all(patch, "/spec/volumes", "", pod.has_volumes, {volume});
    plan.token_expiration = expiration;
  }

  for (auto [list, key] : {std::pair{&pod.init_containers, "initContainers"},
                           std::pair{&pod.containers, "containers"}}) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const ContainerView& container = (*list)[i];
      if (!selection.receives(list == &pod.init_containers, i)) continue;
      plan_container(container, "/spec/" + std::string(key) + "/" + std::to_string(i), rules, patch,
                     findings);
    }
  }
  if (findings.fixed_session_name) {
    const std::string length = std::to_string(pod.name.size());
    plan.notes.push_back("AWS_ROLE_SESSION_NAME is " + quote(rules.fixed_session_name) +
                         ": the Pod's name has " + length +
                         " characters and STS takes a session name of 2 to 64");
    plan.warnings.push_back(
        "AWS_ROLE_SESSION_NAME: the Pod's name has " + length +
        " characters, STS takes 2 to 64: injected its first 55, '-' and a hash");
  }
  if (findings.regional_sts_no_region) {
    plan.warnings.push_back(
        "regional STS without a region: CLI v2, newer SDKs call global STS; set "
        "--aws-default-region or " +
        options.annotation_prefix + "/region");
  }

  // --inject-fs-group: the token becomes group-readable (0640) for every
  // container. Windows Pods may not set fsGroup.
  std::optional<int64_t> fs_group = pod.fs_group;
  if (options.inject_fs_group && !fs_group && !windows && selection.any()) {
    fs_group = options.inject_fs_group;
    if (pod.has_security_context) {
      patch.add("/spec/securityContext/fsGroup", std::to_string(*fs_group));
    } else {
      patch.add("/spec/securityContext", JsonObject().integer("fsGroup", *fs_group).done());
    }
  }
  // Whether each container that gets the token can read it (the kubelet's
  // rule: mutation/token_access.h). Windows does not enforce ownership.
  if (!windows && selection.any()) {
    const VolumeView* existing = pod.volume_named(rules.volume_name);
    TokenFile file = token_file(pod, existing ? existing->default_mode : std::nullopt, fs_group);
    auto unable = containers_unable_to_read(
        pod, file, [&selection](bool init, std::size_t i) { return selection.receives(init, i); });
    if (!unable.empty()) {
      std::string names;
      for (const auto& name : unable) {
        if (!names.empty()) names += ", ";
        names += name_or_quote(name, 40);
      }
      plan.warnings.push_back("the AWS token file (mode 0" + octal_mode(file.mode) +
                              ") is unreadable for container(s) " + names +
                              ": set spec.securityContext.fsGroup");
    }
  }

  // EKS Pod Identity marks the Pods it mutated.
  if (container_credentials && !patch.empty() && !pod.label(kPodIdentityLabel)) {
    std::string labels = JsonObject().string(kPodIdentityLabel, "enabled").done();
    if (!pod.has_metadata) {
      patch.prepend_add("/metadata", JsonObject().raw("labels", labels).done());
    } else if (!pod.has_labels) {
      patch.prepend_add("/metadata/labels", labels);
    } else {
      patch.prepend_add("/metadata/labels/" + escape_pointer_token(kPodIdentityLabel),
                        "\"enabled\"");
    }
  }
  return plan;
}

}  // namespace irsa::mutation
