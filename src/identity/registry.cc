// The ServiceAccount registry (read-mostly, shared_mutex) and the resolver
// that combines it with the container-credentials config and the defaults.
#include "identity/registry.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace irsa::identity {
namespace {

// Most ServiceAccounts carry no IRSA annotation: they cost only their key.
std::shared_ptr<const ServiceAccountSettings> compact(ServiceAccountSettings settings) {
  if (settings.empty() && settings.problems.empty()) return nullptr;
  return std::make_shared<const ServiceAccountSettings>(std::move(settings));
}

}  // namespace

std::string ServiceAccountRegistry::key(std::string_view namespace_name, std::string_view name) {
  // Namespace names are DNS labels: they cannot contain '/'.
  std::string out;
  out.reserve(namespace_name.size() + 1 + name.size());
  out += namespace_name;
  out += '/';
  out += name;
  return out;
}

void ServiceAccountRegistry::upsert(std::string_view namespace_name, std::string_view name,
                                    ServiceAccountSettings settings) {
  auto value = compact(std::move(settings));
  auto entry_key = key(namespace_name, name);
  std::unique_lock lock(mutex_);
  auto [it, inserted] = entries_.try_emplace(std::move(entry_key));
  value = std::exchange(it->second, std::move(value));
  lock.unlock();  // the replaced settings are freed outside the lock
}

void ServiceAccountRegistry::remove(std::string_view namespace_name, std::string_view name) {
  auto entry_key = key(namespace_name, name);
  std::shared_ptr<const ServiceAccountSettings> removed;
  std::unique_lock lock(mutex_);
  auto it = entries_.find(entry_key);
  if (it == entries_.end()) return;
  removed = std::move(it->second);
  entries_.erase(it);
}

void ServiceAccountRegistry::replace_all(std::vector<ServiceAccountRecord> records) {
  decltype(entries_) fresh;
  fresh.reserve(records.size());
  for (auto& record : records) {
    // A later record for the same ServiceAccount wins.
    fresh.insert_or_assign(key(record.namespace_name, record.name),
                           compact(std::move(record.settings)));
  }
  {
    std::unique_lock lock(mutex_);
    entries_.swap(fresh);
  }
  // `fresh` now holds the old content and is freed here, outside the lock.
}

std::optional<ServiceAccountSettings> ServiceAccountRegistry::find(std::string_view namespace_name,
                                                                   std::string_view name) const {
  // Reused per thread: the request path looks up without allocating.
  thread_local std::string lookup_key;
  lookup_key.assign(namespace_name);
  lookup_key += '/';
  lookup_key += name;
  std::shared_lock lock(mutex_);
  auto it = entries_.find(lookup_key);
  if (it == entries_.end()) return std::nullopt;
  if (!it->second) return ServiceAccountSettings{};
  return *it->second;
}

std::size_t ServiceAccountRegistry::size() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

std::vector<ServiceAccountRecord> ServiceAccountRegistry::snapshot() const {
  std::vector<ServiceAccountRecord> records;
  {
    std::shared_lock lock(mutex_);
    records.reserve(entries_.size());
    for (const auto& [entry_key, settings] : entries_) {
      auto slash = entry_key.find('/');
      ServiceAccountRecord record;
      record.namespace_name = entry_key.substr(0, slash);
      record.name = entry_key.substr(slash + 1);
      if (settings) record.settings = *settings;
      records.push_back(std::move(record));
    }
  }
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return std::tie(a.namespace_name, a.name) < std::tie(b.namespace_name, b.name);
  });
  return records;
}

IdentityResolver::IdentityResolver(const ServiceAccountRegistry& registry, Defaults defaults)
    : registry_(registry), defaults_(std::move(defaults)) {}

IdentityResolver::Lookup IdentityResolver::resolve(std::string_view namespace_name,
                                                   std::string_view service_account) const {
  Lookup lookup;
  auto settings = registry_.find(namespace_name, service_account);
  lookup.service_account_known = settings.has_value();
  auto config = container_credentials();
  bool listed = config && config->contains(namespace_name, service_account);
  lookup.identity = resolve_identity(settings, listed, defaults_);
  return lookup;
}

void IdentityResolver::set_container_credentials(
    std::shared_ptr<const ContainerCredentialsConfig> config) {
  std::lock_guard lock(config_mutex_);
  container_credentials_.swap(config);
}

std::shared_ptr<const ContainerCredentialsConfig> IdentityResolver::container_credentials() const {
  std::lock_guard lock(config_mutex_);
  return container_credentials_;
}

}  // namespace irsa::identity
