// Velero BackupStorageLocations for audit, and the Velero Pods' keys they
// send to a non-AWS endpoint.
#include "cli/audit_velero.h"

#include <set>

#include "credentials/endpoints.h"

namespace irsa::cli {
namespace {

using nlohmann::json;

// The string at `key` of object `node`, or empty.
std::string string_at(const json& node, const char* key) {
  if (!node.is_object()) return {};
  auto it = node.find(key);
  return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* object_at(const json& node, const char* key) {
  if (!node.is_object()) return nullptr;
  auto it = node.find(key);
  return it != node.end() && it->is_object() ? &*it : nullptr;
}

const json* array_at(const json& node, const char* key) {
  if (!node.is_object()) return nullptr;
  auto it = node.find(key);
  return it != node.end() && it->is_array() ? &*it : nullptr;
}

bool is_location(const json& document) {
  if (string_at(document, "kind") != "BackupStorageLocation") return false;
  const std::string api = string_at(document, "apiVersion");
  return api.starts_with("velero.io/") || api.starts_with("ark.heptio.com/");
}

// The names of `pod`'s volumes that hold Secret `secret` (whole, or as a
// projected source).
std::set<std::string> secret_volumes(const json& spec, const std::string& secret) {
  std::set<std::string> names;
  const json* volumes = array_at(spec, "volumes");
  if (volumes == nullptr) return names;
  for (const auto& volume : *volumes) {
    const std::string name = string_at(volume, "name");
    if (const json* source = object_at(volume, "secret");
        source != nullptr && string_at(*source, "secretName") == secret) {
      names.insert(name);
    }
    const json* projected = object_at(volume, "projected");
    const json* sources = projected != nullptr ? array_at(*projected, "sources") : nullptr;
    if (sources == nullptr) continue;
    for (const auto& item : *sources) {
      if (const json* source = object_at(item, "secret");
          source != nullptr && string_at(*source, "name") == secret) {
        names.insert(name);
      }
    }
  }
  return names;
}

// Whether `container` reads Secret `secret`: mounts one of `volumes`, or
// takes it by envFrom or secretKeyRef.
bool reads_secret(const json& container, const std::string& secret,
                  const std::set<std::string>& volumes) {
  if (const json* mounts = array_at(container, "volumeMounts")) {
    for (const auto& mount : *mounts) {
      if (volumes.contains(string_at(mount, "name"))) return true;
    }
  }
  if (const json* from = array_at(container, "envFrom")) {
    for (const auto& item : *from) {
      const json* ref = object_at(item, "secretRef");
      if (ref != nullptr && string_at(*ref, "name") == secret) return true;
    }
  }
  if (const json* env = array_at(container, "env")) {
    for (const auto& item : *env) {
      const json* value_from = object_at(item, "valueFrom");
      const json* ref = value_from != nullptr ? object_at(*value_from, "secretKeyRef") : nullptr;
      if (ref != nullptr && string_at(*ref, "name") == secret) return true;
    }
  }
  return false;
}

}  // namespace

bool BackupLocations::add(const json& document) {
  if (!is_location(document)) return false;
  const json* spec = object_at(document, "spec");
  if (spec == nullptr) return true;
  const std::string provider = string_at(*spec, "provider");
  if (provider != "aws" && provider != "velero.io/aws") return true;
  const json* config = object_at(*spec, "config");
  if (config == nullptr) return true;
  const auto endpoint = credentials::classify_endpoint("s3Url", string_at(*config, "s3Url"));
  if (endpoint.kind != credentials::EndpointKind::kNonAws) return true;
  NonAwsBackupLocation location;
  const json* metadata = object_at(document, "metadata");
  location.namespace_name = metadata != nullptr ? string_at(*metadata, "namespace") : "";
  if (location.namespace_name.empty()) location.namespace_name = "velero";
  location.name = metadata != nullptr ? string_at(*metadata, "name") : "";
  const json* credential = object_at(*spec, "credential");
  location.secret = credential != nullptr ? string_at(*credential, "name") : "";
  if (location.secret.empty()) location.secret = "cloud-credentials";
  location.host = endpoint.host;
  locations_.push_back(std::move(location));
  return true;
}

std::size_t mark_backup_location_keys(const json& pod, std::string_view namespace_name,
                                      const BackupLocations& locations,
                                      std::vector<credentials::Finding>& findings) {
  const json* spec = object_at(pod, "spec");
  if (spec == nullptr) return 0;
  std::size_t marked = 0;
  for (const auto& location : locations.locations()) {
    if (location.namespace_name != namespace_name) continue;
    const auto volumes = secret_volumes(*spec, location.secret);
    // The containers, by (init, name), that read the Secret.
    std::set<std::pair<bool, std::string>> readers;
    for (const auto& [key, init] : {std::pair{"initContainers", true}, {"containers", false}}) {
      const json* list = array_at(*spec, key);
      if (list == nullptr) continue;
      for (const auto& container : *list) {
        if (reads_secret(container, location.secret, volumes)) {
          readers.emplace(init, string_at(container, "name"));
        }
      }
    }
    if (readers.empty()) continue;
    for (auto& finding : findings) {
      if (finding.handling != credentials::Handling::kRemovable) continue;
      const bool ours = finding.kind == credentials::FindingKind::kVolume
                            ? volumes.contains(finding.name)
                            : readers.contains({finding.init_container, finding.container});
      if (!ours) continue;
      finding.handling = credentials::Handling::kNonAwsEndpointOutsidePod;
      finding.endpoint = "BackupStorageLocation " + location.namespace_name + "/" + location.name +
                         " s3Url " + location.host;
      ++marked;
    }
  }
  return marked;
}

}  // namespace irsa::cli
