// The ServiceAccount registry (read-mostly, shared_mutex) and the resolver
// that combines it with the container-credentials config and the defaults.
#include "identity/registry.h"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>

namespace irsa::identity {
namespace {

// Most ServiceAccounts carry no IRSA annotation: they cost only their key.
// One allocation per ServiceAccount with settings:
//   flags (1 byte), token expiration (8), role ARN length (4), audience
//   length (4), region length (4), problem count (4), role ARN, audience,
//   region, then each problem as length (4) and text.
enum PackedFlags : unsigned char {
  kHasRole = 1,
  kHasAudience = 2,
  kHasRegional = 4,
  kRegional = 8,
  kHasTokenExpiration = 16,
  kRoleSessionName = 32,
  kHasRegion = 64,
};
constexpr std::size_t kPackedHeader = 1 + 8 + 4 + 4 + 4 + 4;

void put_u32(char*& out, std::size_t value) {
  auto narrow = static_cast<uint32_t>(value);
  std::memcpy(out, &narrow, 4);
  out += 4;
}

uint32_t get_u32(const char*& in) {
  uint32_t value;
  std::memcpy(&value, in, 4);
  in += 4;
  return value;
}

std::unique_ptr<const char[]> pack(const ServiceAccountSettings& settings) {
  if (settings.empty() && settings.problems.empty()) return nullptr;
  const std::string empty;
  const std::string& role = settings.role_arn ? *settings.role_arn : empty;
  const std::string& audience = settings.audience ? *settings.audience : empty;
  const std::string& region = settings.region ? *settings.region : empty;
  std::size_t size = kPackedHeader + role.size() + audience.size() + region.size();
  for (const auto& problem : settings.problems) size += 4 + problem.size();
  auto packed = std::make_unique<char[]>(size);
  char* out = packed.get();
  unsigned char flags = 0;
  if (settings.role_arn) flags |= kHasRole;
  if (settings.audience) flags |= kHasAudience;
  if (settings.regional_sts) flags |= kHasRegional | (*settings.regional_sts ? kRegional : 0);
  if (settings.token_expiration) flags |= kHasTokenExpiration;
  if (settings.role_session_name) flags |= kRoleSessionName;
  if (settings.region) flags |= kHasRegion;
  *out++ = static_cast<char>(flags);
  const int64_t token_expiration = settings.token_expiration.value_or(0);
  std::memcpy(out, &token_expiration, 8);
  out += 8;
  put_u32(out, role.size());
  put_u32(out, audience.size());
  put_u32(out, region.size());
  put_u32(out, settings.problems.size());
  out = std::copy(role.begin(), role.end(), out);
  out = std::copy(audience.begin(), audience.end(), out);
  out = std::copy(region.begin(), region.end(), out);
  for (const auto& problem : settings.problems) {
    put_u32(out, problem.size());
    out = std::copy(problem.begin(), problem.end(), out);
  }
  return packed;
}

ServiceAccountSettings unpack(const char* in) {
  ServiceAccountSettings settings;
  if (!in) return settings;
  const auto flags = static_cast<unsigned char>(*in++);
  int64_t token_expiration;
  std::memcpy(&token_expiration, in, 8);
  in += 8;
  const uint32_t role_size = get_u32(in);
  const uint32_t audience_size = get_u32(in);
  const uint32_t region_size = get_u32(in);
  const uint32_t problems = get_u32(in);
  if (flags & kHasRole) settings.role_arn.emplace(in, role_size);
  in += role_size;
  if (flags & kHasAudience) settings.audience.emplace(in, audience_size);
  in += audience_size;
  if (flags & kHasRegion) settings.region.emplace(in, region_size);
  in += region_size;
  if (flags & kHasRegional) settings.regional_sts = (flags & kRegional) != 0;
  if (flags & kHasTokenExpiration) settings.token_expiration = token_expiration;
  settings.role_session_name = (flags & kRoleSessionName) != 0;
  for (uint32_t i = 0; i < problems; ++i) {
    const uint32_t size = get_u32(in);
    settings.problems.emplace_back(in, size);
    in += size;
  }
  return settings;
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
                                    const ServiceAccountSettings& settings) {
  auto value = pack(settings);
  {
    // Looked up before building a key: an update costs no allocation.
    thread_local std::string entry_key;
    entry_key.assign(namespace_name);
    entry_key += '/';
    entry_key += name;
    WriterLock lock(mutex_);
    auto it = entries_.find(entry_key);
    if (it == entries_.end()) it = entries_.try_emplace(entry_key).first;
    value = std::exchange(it->second.settings, std::move(value));
    it->second.generation = generation_;
  }
  // The replaced settings are freed outside the lock.
  value.reset();
  changed();
}

void ServiceAccountRegistry::remove(std::string_view namespace_name, std::string_view name) {
  auto entry_key = key(namespace_name, name);
  PackedSettings removed;
  {
    WriterLock lock(mutex_);
    auto it = entries_.find(entry_key);
    if (it == entries_.end()) return;
    removed = std::move(it->second.settings);
    entries_.erase(it);
  }
  changed();
}

void ServiceAccountRegistry::replace_all(const std::vector<ServiceAccountRecord>& records) {
  decltype(entries_) fresh;
  fresh.reserve(records.size());
  {
    ReaderLock lock(mutex_);
    for (const auto& record : records) {
      // A later record for the same ServiceAccount wins.
      fresh.insert_or_assign(key(record.namespace_name, record.name),
                             Entry{pack(record.settings), generation_});
    }
  }
  {
    WriterLock lock(mutex_);
    entries_.swap(fresh);
  }
  // `fresh` now holds the old content and is freed here, outside the lock.
  decltype(entries_)().swap(fresh);
  changed();
}

ServiceAccountRegistry::Generation ServiceAccountRegistry::begin_full_list() {
  WriterLock lock(mutex_);
  return ++generation_;
}

std::size_t ServiceAccountRegistry::end_full_list(Generation generation) {
  std::vector<PackedSettings> removed;
  std::size_t count = 0;
  {
    WriterLock lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.generation != generation) {
        if (it->second.settings) removed.push_back(std::move(it->second.settings));
        it = entries_.erase(it);
        ++count;
      } else {
        ++it;
      }
    }
  }
  removed.clear();  // freed outside the lock
  if (count > 0) changed();
  return count;
}

std::optional<ServiceAccountSettings> ServiceAccountRegistry::find(std::string_view namespace_name,
                                                                   std::string_view name) const {
  // Reused per thread: the request path looks up without allocating. A key
  // too long to be a real name (the names come from requests) gets a string
  // of its own, so no thread keeps a large buffer for good.
  constexpr std::size_t kReusedKeyMaxBytes = 1024;
  thread_local std::string reused_key;
  std::string own_key;
  const bool reuse = namespace_name.size() + name.size() < kReusedKeyMaxBytes;
  std::string& lookup_key = reuse ? reused_key : own_key;
  lookup_key.assign(namespace_name);
  lookup_key += '/';
  lookup_key += name;
  ReaderLock lock(mutex_);
  auto it = entries_.find(lookup_key);
  if (it == entries_.end()) return std::nullopt;
  return unpack(it->second.settings.get());
}

std::size_t ServiceAccountRegistry::size() const {
  ReaderLock lock(mutex_);
  return entries_.size();
}

std::vector<ServiceAccountRecord> ServiceAccountRegistry::snapshot() const {
  std::vector<ServiceAccountRecord> records;
  {
    ReaderLock lock(mutex_);
    records.reserve(entries_.size());
    for (const auto& [entry_key, entry] : entries_) {
      auto slash = entry_key.find('/');
      ServiceAccountRecord record;
      record.namespace_name = entry_key.substr(0, slash);
      record.name = entry_key.substr(slash + 1);
      record.settings = unpack(entry.settings.get());
      records.push_back(std::move(record));
    }
  }
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return std::tie(a.namespace_name, a.name) < std::tie(b.namespace_name, b.name);
  });
  return records;
}

void ServiceAccountRegistry::changed() const {
  // A waiter registers (waiters_) before it first evaluates its condition, and
  // the change is published (mutex_ released) before this load: either the
  // waiter sees the change, or this sees the waiter.
  if (waiters_.load() == 0) return;
  { MutexLock lock(wait_mutex_); }
  wait_cv_.notify_all();
}

void ServiceAccountRegistry::notify_waiters() const {
  { MutexLock lock(wait_mutex_); }
  wait_cv_.notify_all();
}

bool ServiceAccountRegistry::wait_until(std::chrono::steady_clock::time_point deadline,
                                        const std::function<bool()>& done) const {
  MutexLock lock(wait_mutex_);
  ++waiters_;
  bool result = done();
  while (!result) {
    if (wait_cv_.wait_until(wait_mutex_, deadline) == std::cv_status::timeout) {
      result = done();
      break;
    }
    result = done();
  }
  --waiters_;
  return result;
}

bool ServiceAccountRegistry::wait_until_known(
    std::string_view namespace_name, std::string_view name,
    std::chrono::steady_clock::time_point deadline) const {
  std::string wanted = key(namespace_name, name);
  return wait_until(deadline, [this, &wanted] {
    ReaderLock lock(mutex_);
    return entries_.find(wanted) != entries_.end();
  });
}

std::vector<std::string> resolution_problems(const ServiceAccountSettings& settings,
                                             const std::optional<Identity>& identity,
                                             bool container_credentials_listed) {
  std::vector<std::string> problems;
  if (container_credentials_listed) {
    if (settings.role_arn || settings.audience) {
      problems.emplace_back(
          "role-arn and audience annotations are ignored: this ServiceAccount gets EKS Pod "
          "Identity credentials");
    }
  } else if (!identity && !settings.empty()) {
    problems.emplace_back("annotations without role-arn give the Pod no AWS identity");
  }
  return problems;
}

IdentityResolver::IdentityResolver(const ServiceAccountRegistry& registry, Defaults defaults)
    : registry_(registry), defaults_(std::move(defaults)) {}

IdentityResolver::Lookup IdentityResolver::resolve(std::string_view namespace_name,
                                                   std::string_view service_account) const {
  return resolve_with(namespace_name, service_account,
                      registry_.find(namespace_name, service_account));
}

IdentityResolver::Lookup IdentityResolver::resolve_with(
    std::string_view namespace_name, std::string_view service_account,
    const std::optional<ServiceAccountSettings>& settings) const {
  Lookup lookup;
  lookup.service_account_known = settings.has_value();
  auto config = container_credentials();
  bool listed = config && config->contains(namespace_name, service_account);
  auto mapping = role_mapping();
  const ServiceAccountSettings* mapped =
      mapping ? mapping->find(namespace_name, service_account) : nullptr;
  // As AWS's cache: the ServiceAccount's own role-arn wins; otherwise the
  // ConfigMap's entry; container credentials read the ServiceAccount's
  // settings when it is known, the ConfigMap's otherwise.
  if (mapped && !(settings && settings->role_arn) && !(listed && settings)) {
    lookup.identity = resolve_identity(*mapped, listed, defaults_);
    // The ServiceAccount's own region annotation still wins over the entry's.
    if (lookup.identity && settings && settings->region)
      lookup.identity->region = *settings->region;
    lookup.problems = mapped->problems;
    if (settings) {
      lookup.problems.insert(lookup.problems.end(), settings->problems.begin(),
                             settings->problems.end());
    }
  } else if (settings) {
    lookup.identity = resolve_identity(settings, listed, defaults_);
    lookup.problems = settings->problems;
    auto ignored = resolution_problems(*settings, lookup.identity, listed);
    lookup.problems.insert(lookup.problems.end(), ignored.begin(), ignored.end());
  } else {
    lookup.identity = resolve_identity(settings, listed, defaults_);
  }
  return lookup;
}

void IdentityResolver::set_role_mapping(std::shared_ptr<const RoleMapping> mapping) {
  MutexLock lock(config_mutex_);
  role_mapping_.swap(mapping);
}

std::shared_ptr<const RoleMapping> IdentityResolver::role_mapping() const {
  MutexLock lock(config_mutex_);
  return role_mapping_;
}

void IdentityResolver::set_container_credentials(
    std::shared_ptr<const ContainerCredentialsConfig> config) {
  MutexLock lock(config_mutex_);
  container_credentials_.swap(config);
}

std::shared_ptr<const ContainerCredentialsConfig> IdentityResolver::container_credentials() const {
  MutexLock lock(config_mutex_);
  return container_credentials_;
}

}  // namespace irsa::identity
