// Registry snapshot -> JSON (nlohmann: off the request path).
#include "server/debug_cache.h"

#include <nlohmann/json.hpp>

namespace irsa::server {

std::string service_account_cache_json(const identity::IdentityResolver& resolver) {
  const identity::Defaults& defaults = resolver.defaults();
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& record : resolver.registry().snapshot()) {
    const auto& settings = record.settings;
    nlohmann::ordered_json entry;
    entry["RoleARN"] = settings.role_arn.value_or("");
    entry["Audience"] = settings.audience.value_or(defaults.audience);
    entry["UseRegionalSTS"] = settings.regional_sts.value_or(defaults.regional_sts);
    entry["TokenExpiration"] = settings.token_expiration.value_or(defaults.token_expiration);
    auto resolved = resolver.resolve_with(record.namespace_name, record.name, settings);
    if (resolved.identity) {
      const identity::Identity& id = *resolved.identity;
      nlohmann::ordered_json identity;
      identity["Mode"] =
          id.mode == identity::Mode::kWebIdentity ? "web_identity" : "container_credentials";
      if (id.mode == identity::Mode::kWebIdentity) identity["RoleARN"] = id.role_arn;
      identity["Audience"] = id.audience;
      identity["TokenExpiration"] = id.token_expiration;
      if (!id.region.empty()) identity["Region"] = id.region;
      entry["Identity"] = std::move(identity);
    } else {
      entry["Identity"] = nullptr;
    }
    if (!settings.problems.empty()) entry["Problems"] = settings.problems;
    out[record.namespace_name + "/" + record.name] = std::move(entry);
  }
  return out.dump(1) + "\n";
}

}  // namespace irsa::server
