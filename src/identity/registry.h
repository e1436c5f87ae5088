// The in-memory ServiceAccount registry: what the webhook knows about each
// ServiceAccount, fed by a file (here) or the API server's watch (kube/).
// Read-mostly and thread-safe; readers never wait on the API server.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "identity/container_credentials.h"
#include "identity/identity.h"

namespace irsa::identity {

struct ServiceAccountRecord {
  std::string namespace_name;
  std::string name;
  ServiceAccountSettings settings;
};

class ServiceAccountRegistry {
 public:
  // Adds or replaces one ServiceAccount.
  void upsert(std::string_view namespace_name, std::string_view name,
              ServiceAccountSettings settings);
  // Forgets one ServiceAccount; no-op when unknown.
  void remove(std::string_view namespace_name, std::string_view name);
  // Replaces the whole content at once (a full list).
  void replace_all(std::vector<ServiceAccountRecord> records);

  // nullopt when the ServiceAccount is unknown; empty settings when it is
  // known but carries no annotation the webhook acts on.
  std::optional<ServiceAccountSettings> find(std::string_view namespace_name,
                                             std::string_view name) const;
  std::size_t size() const;
  // A copy of every entry, sorted by namespace then name (debug dumps, tests).
  std::vector<ServiceAccountRecord> snapshot() const;

 private:
  static std::string key(std::string_view namespace_name, std::string_view name);

  mutable std::shared_mutex mutex_;
  // Entries without settings cost only their key (nullptr).
  std::unordered_map<std::string, std::shared_ptr<const ServiceAccountSettings>> entries_;
};

// Resolves (namespace, ServiceAccount) to an Identity from the registry, the
// container-credentials config (swappable at run time) and the defaults.
class IdentityResolver {
 public:
  IdentityResolver(const ServiceAccountRegistry& registry, Defaults defaults);

  struct Lookup {
    std::optional<Identity> identity;
    bool service_account_known = false;
  };
  Lookup resolve(std::string_view namespace_name, std::string_view service_account) const;

  // Swaps the container-credentials config; nullptr means none.
  void set_container_credentials(std::shared_ptr<const ContainerCredentialsConfig> config);
  std::shared_ptr<const ContainerCredentialsConfig> container_credentials() const;
  const Defaults& defaults() const { return defaults_; }

 private:
  const ServiceAccountRegistry& registry_;
  Defaults defaults_;
  mutable std::mutex config_mutex_;
  std::shared_ptr<const ContainerCredentialsConfig> container_credentials_;
};

}  // namespace irsa::identity
