// Reading Secret manifests for audit, and resolving a Pod's references.
#include "cli/audit_secrets.h"

#include <algorithm>
#include <cstdint>

namespace irsa::cli {
namespace {

using nlohmann::json;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_key(std::string_view line, std::string_view key) {
  if (line.size() < key.size()) return false;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (lower(line[i]) != key[i]) return false;
  }
  line.remove_prefix(key.size());
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return !line.empty() && line.front() == '=';
}

// Standard base64 (RFC 4648, as Secret data is), padding optional,
// whitespace ignored; false on any other byte.
bool decode_base64(std::string_view text, std::string& out) {
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t') {
      continue;
    } else {
      return false;
    }
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return true;
}

std::string string_at(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

credentials::Finding make(credentials::FindingKind kind, bool init, std::size_t container_index,
                          const std::string& container, std::size_t index, std::string name,
                          std::string reason) {
  credentials::Finding finding;
  finding.kind = kind;
  finding.init_container = init;
  finding.container_index = container_index;
  finding.container = container;
  finding.index = index;
  finding.name = std::move(name);
  finding.reason = std::move(reason);
  finding.handling = credentials::Handling::kSecretContent;
  return finding;
}

bool already_seen(const std::vector<credentials::Finding>& seen, credentials::FindingKind kind,
                  bool init, std::size_t container_index, std::size_t index) {
  return std::any_of(seen.begin(), seen.end(), [&](const credentials::Finding& f) {
    return f.kind == kind && f.init_container == init && f.container_index == container_index &&
           f.index == index;
  });
}

// The keys of `facts` that a secret volume source exposes: all, or its items.
std::vector<std::string> exposed_credentials_files(const json& source, const SecretFacts& facts) {
  std::vector<std::string> keys;
  const json& items = member(source, "items");
  for (const auto& key : facts.credentials_file_keys) {
    bool exposed = !items.is_array();
    if (items.is_array()) {
      for (const auto& item : items) exposed |= string_at(item, "key") == key;
    }
    if (exposed) keys.push_back(key);
  }
  return keys;
}

}  // namespace

bool looks_like_credentials_file(std::string_view text) {
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (starts_with_key(line, "aws_access_key_id") ||
        starts_with_key(line, "aws_secret_access_key")) {
      return true;
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return false;
}

bool SecretIndex::add(const json& document) {
  if (!document.is_object() || string_at(document, "kind") != "Secret") return false;
  std::string api_version = string_at(document, "apiVersion");
  if (!api_version.empty() && api_version != "v1") return false;
  const json& metadata = member(document, "metadata");
  std::string name = string_at(metadata, "name");
  if (name.empty()) return false;
  std::string namespace_name = string_at(metadata, "namespace");
  if (namespace_name.empty()) namespace_name = "default";

  SecretFacts facts;
  for (const char* field : {"data", "stringData"}) {
    const json& values = member(document, field);
    if (!values.is_object()) continue;
    const bool encoded = std::string_view(field) == "data";
    for (const auto& [key, value] : values.items()) {
      facts.keys.insert(key);
      if (!value.is_string()) continue;
      // Decoded into a local, checked and dropped: only the fact is kept.
      std::string text;
      if (encoded && !decode_base64(value.get_ref<const std::string&>(), text)) continue;
      bool credentials_file =
          looks_like_credentials_file(encoded ? text : value.get_ref<const std::string&>());
      std::fill(text.begin(), text.end(), '\0');
      if (credentials_file) {
        facts.credentials_file_keys.insert(key);
      } else if (!encoded) {
        facts.credentials_file_keys.erase(key);  // stringData wins over data
      }
    }
  }
  secrets_[{std::move(namespace_name), std::move(name)}] = std::move(facts);
  return true;
}

const SecretFacts* SecretIndex::find(std::string_view namespace_name, std::string_view name) const {
  auto it = secrets_.find(std::make_pair(std::string(namespace_name), std::string(name)));
  return it == secrets_.end() ? nullptr : &it->second;
}

std::vector<credentials::Finding> secret_findings(const json& pod, std::string_view namespace_name,
                                                  const SecretIndex& index,
                                                  const std::vector<credentials::Finding>& seen) {
  std::vector<credentials::Finding> findings;
  if (index.empty()) return findings;
  const json& spec = member(pod, "spec");

  // Volume name -> (Secret name, its source object) for secret and projected
  // secret sources.
  std::vector<std::pair<std::string, std::pair<std::string, const json*>>> secret_volumes;
  const json& volumes = member(spec, "volumes");
  if (volumes.is_array()) {
    for (const auto& volume : volumes) {
      std::string volume_name = string_at(volume, "name");
      const json& secret = member(volume, "secret");
      if (secret.is_object()) {
        secret_volumes.push_back({volume_name, {string_at(secret, "secretName"), &secret}});
      }
      const json& sources = member(member(volume, "projected"), "sources");
      if (!sources.is_array()) continue;
      for (const auto& source : sources) {
        const json& projected_secret = member(source, "secret");
        if (projected_secret.is_object()) {
          secret_volumes.push_back(
              {volume_name, {string_at(projected_secret, "name"), &projected_secret}});
        }
      }
    }
  }

  for (bool init : {true, false}) {
    const json& containers = member(spec, init ? "initContainers" : "containers");
    if (!containers.is_array()) continue;
    for (std::size_t c = 0; c < containers.size(); ++c) {
      const json& container = containers[c];
      std::string container_name = string_at(container, "name");

      const json& env_from = member(container, "envFrom");
      for (std::size_t j = 0; env_from.is_array() && j < env_from.size(); ++j) {
        std::string secret = string_at(member(env_from[j], "secretRef"), "name");
        const SecretFacts* facts = secret.empty() ? nullptr : index.find(namespace_name, secret);
        if (facts == nullptr ||
            already_seen(seen, credentials::FindingKind::kEnvFrom, init, c, j)) {
          continue;
        }
        std::string prefix = string_at(env_from[j], "prefix");
        std::string names;
        for (const auto& key : facts->keys) {
          if (!credentials::is_access_key_variable(prefix + key)) continue;
          names += (names.empty() ? "" : ", ") + prefix + key;
        }
        if (names.empty()) continue;
        findings.push_back(make(credentials::FindingKind::kEnvFrom, init, c, container_name, j,
                                secret, "Secret gives " + names));
      }

      const json& env = member(container, "env");
      for (std::size_t j = 0; env.is_array() && j < env.size(); ++j) {
        const json& ref = member(member(env[j], "valueFrom"), "secretKeyRef");
        const SecretFacts* facts = index.find(namespace_name, string_at(ref, "name"));
        if (facts == nullptr || !facts->credentials_file_keys.count(string_at(ref, "key")) ||
            already_seen(seen, credentials::FindingKind::kEnv, init, c, j)) {
          continue;
        }
        findings.push_back(make(credentials::FindingKind::kEnv, init, c, container_name, j,
                                string_at(env[j], "name"),
                                "an AWS credentials file from Secret " + string_at(ref, "name")));
      }

      const json& mounts = member(container, "volumeMounts");
      for (std::size_t j = 0; mounts.is_array() && j < mounts.size(); ++j) {
        std::string mount_name = string_at(mounts[j], "name");
        if (already_seen(seen, credentials::FindingKind::kVolumeMount, init, c, j)) continue;
        std::string sub_path = string_at(mounts[j], "subPath");
        for (const auto& [volume_name, source] : secret_volumes) {
          if (volume_name != mount_name || volume_name.empty()) continue;
          const SecretFacts* facts = index.find(namespace_name, source.first);
          if (facts == nullptr) continue;
          auto files = exposed_credentials_files(*source.second, *facts);
          if (!sub_path.empty()) {
            // Only the file the subPath picks (items may rename it; then any).
            bool renamed = member(*source.second, "items").is_array();
            if (!renamed) {
              files.erase(std::remove_if(files.begin(), files.end(),
                                         [&](const std::string& k) { return k != sub_path; }),
                          files.end());
            }
          }
          if (files.empty()) continue;
          auto finding = make(
              credentials::FindingKind::kVolumeMount, init, c, container_name, j, mount_name,
              "Secret " + source.first + " holds an AWS credentials file (" + files.front() + ")");
          finding.mount_path = string_at(mounts[j], "mountPath");
          findings.push_back(std::move(finding));
          break;
        }
      }
    }
  }
  return findings;
}

}  // namespace irsa::cli
