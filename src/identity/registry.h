// The in-memory ServiceAccount registry: what the webhook knows about each
// ServiceAccount, fed by a file (here) or the API server's watch (kube/).
// Read-mostly and thread-safe; readers never wait on the API server.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/thread_annotations.h"
#include "identity/container_credentials.h"
#include "identity/identity.h"
#include "identity/role_mapping.h"

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
              const ServiceAccountSettings& settings);
  // Forgets one ServiceAccount; no-op when unknown.
  void remove(std::string_view namespace_name, std::string_view name);
  // Replaces the whole content at once (a full list).
  void replace_all(const std::vector<ServiceAccountRecord>& records);

  // nullopt when the ServiceAccount is unknown; empty settings when it is
  // known but carries no annotation the webhook acts on.
  std::optional<ServiceAccountSettings> find(std::string_view namespace_name,
                                             std::string_view name) const;
  std::size_t size() const;
  // A copy of every entry, sorted by namespace then name (debug dumps, tests).
  std::vector<ServiceAccountRecord> snapshot() const;

  // A full list delivered piece by piece (the API server's paginated list):
  // begin_full_list(), upsert() each ServiceAccount as it arrives, then
  // end_full_list() with the returned generation removes every entry that was
  // not upserted since. Readers see each entry old or new, never missing
  // while it exists. A list that fails half-way is simply not ended: nothing
  // is removed and the next full list sweeps. One list at a time.
  using Generation = std::uint32_t;
  Generation begin_full_list();
  // Returns how many entries were removed.
  std::size_t end_full_list(Generation generation);

  // Blocks until `done()` returns true or `deadline` passes, re-evaluating
  // `done` after every change to the registry and every notify_waiters().
  // Returns done()'s last value. `done` runs under an internal lock: it may
  // call find(), must be quick and must not call notify_waiters().
  bool wait_until(std::chrono::steady_clock::time_point deadline,
                  const std::function<bool()>& done) const;
  // wait_until() for one ServiceAccount to become known.
  bool wait_until_known(std::string_view namespace_name, std::string_view name,
                        std::chrono::steady_clock::time_point deadline) const;
  // Wakes every waiter to re-evaluate its condition (for conditions that
  // depend on more than the registry).
  void notify_waiters() const;

 private:
  static std::string key(std::string_view namespace_name, std::string_view name);
  void changed() const;

  // Settings packed into one allocation (see registry.cc): 100,000 cached
  // ServiceAccounts must fit in the memory budget even when all carry a role.
  using PackedSettings = std::unique_ptr<const char[]>;
  struct Entry {
    // Entries without settings cost only their key (nullptr).
    PackedSettings settings;
    Generation generation = 0;
  };

  mutable SharedMutex mutex_ IRSA_ACQUIRED_BEFORE(wait_mutex_);
  std::unordered_map<std::string, Entry> entries_ IRSA_GUARDED_BY(mutex_);
  Generation generation_ IRSA_GUARDED_BY(mutex_) = 0;

  // Waiters: taken after mutex_ is released by writers, never the other way
  // round (a waiter's condition takes mutex_ while holding this).
  mutable Mutex wait_mutex_;
  mutable std::condition_variable_any wait_cv_;
  mutable std::atomic<int> waiters_{0};
};

// Resolves (namespace, ServiceAccount) to an Identity from the registry, the
// container-credentials config (swappable at run time) and the defaults.
// Settings that resolving ignores, given what it resolved to: annotations
// that give no identity without a role-arn, and role-arn/audience of a
// ServiceAccount that gets EKS Pod Identity (container credentials) instead.
std::vector<std::string> resolution_problems(const ServiceAccountSettings& settings,
                                             const std::optional<Identity>& identity,
                                             bool container_credentials_listed);

class IdentityResolver {
 public:
  IdentityResolver(const ServiceAccountRegistry& registry, Defaults defaults);

  struct Lookup {
    std::optional<Identity> identity;
    bool service_account_known = false;
    // What is wrong with the identity's configuration, one line each: the
    // ServiceAccount's (or ConfigMap entry's) annotation problems, and
    // settings that resolution ignores (resolution_problems). For admission
    // warnings and log lines.
    std::vector<std::string> problems;
  };
  Lookup resolve(std::string_view namespace_name, std::string_view service_account) const;
  // The same with the ServiceAccount's settings supplied by the caller (read
  // from the API server directly when the registry did not know it yet);
  // nullopt settings means unknown.
  Lookup resolve_with(std::string_view namespace_name, std::string_view service_account,
                      const std::optional<ServiceAccountSettings>& settings) const;

  // Swaps the container-credentials config; nullptr means none.
  void set_container_credentials(std::shared_ptr<const ContainerCredentialsConfig> config);
  std::shared_ptr<const ContainerCredentialsConfig> container_credentials() const;
  const Defaults& defaults() const { return defaults_; }

  // Swaps the ConfigMap role mapping (--watch-config-map); nullptr means
  // none. A ServiceAccount's own role-arn annotation wins over the mapping;
  // without one, the mapping's entry for namespace/name, else */name, applies.
  void set_role_mapping(std::shared_ptr<const RoleMapping> mapping);
  std::shared_ptr<const RoleMapping> role_mapping() const;

  const ServiceAccountRegistry& registry() const { return registry_; }

 private:
  const ServiceAccountRegistry& registry_;
  Defaults defaults_;
  mutable Mutex config_mutex_;
  std::shared_ptr<const ContainerCredentialsConfig> container_credentials_
      IRSA_GUARDED_BY(config_mutex_);
  std::shared_ptr<const RoleMapping> role_mapping_ IRSA_GUARDED_BY(config_mutex_);
};

}  // namespace irsa::identity
