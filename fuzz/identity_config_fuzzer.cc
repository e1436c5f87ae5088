// The two JSON configs that map ServiceAccounts to identities: the
// pod-identity-webhook ConfigMap's `config` key (--watch-config-map,
// identity::parse_role_mapping) and the EKS Pod Identity file
// (--watch-container-credentials-config,
// identity::parse_container_credentials_config); both fed to a resolver.
//
// Properties: never a crash; errors are non-empty; every "ns/name" entry of
// a parsed mapping is found again, with a token lifetime within what the API
// server accepts; every identity of a parsed container-credentials config is
// contained; a resolver with both resolves to a well-formed identity.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "identity/container_credentials.h"
#include "identity/registry.h"
#include "identity/role_mapping.h"

namespace {

using irsa::fuzz::excerpt;
using nlohmann::json;

void check_identity(const std::optional<irsa::identity::Identity>& identity) {
  if (!identity) return;
  FUZZ_CHECK(!identity->audience.empty(), "empty audience");
  FUZZ_CHECK(identity->token_expiration >= irsa::identity::kMinTokenExpiration &&
                 identity->token_expiration <= irsa::identity::kMaxTokenExpiration,
             std::to_string(identity->token_expiration));
  if (identity->mode == irsa::identity::Mode::kWebIdentity) {
    FUZZ_CHECK(!identity->role_arn.empty(), "web identity without a role");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = irsa::fuzz::as_text(data, size);
  json document = json::parse(text, nullptr, false);  // the same text as a real parser reads it

  std::shared_ptr<const irsa::identity::RoleMapping> mapping;
  auto parsed = irsa::identity::parse_role_mapping(text);
  if (!parsed) {
    FUZZ_CHECK(!parsed.error().empty(), "empty error");
  } else {
    FUZZ_CHECK(document.is_discarded() || document.is_null() || document.is_object(),
               "a mapping from a non-object: " + excerpt(text));
    if (!document.is_discarded() && document.is_object()) {
      for (const auto& [key, entry] : document.items()) {
        auto slash = key.find('/');
        if (slash == std::string::npos || !entry.is_object()) continue;
        const auto* settings = parsed->mapping.find(std::string_view(key).substr(0, slash),
                                                    std::string_view(key).substr(slash + 1));
        FUZZ_CHECK(settings != nullptr, "entry not found: " + key);
        if (settings->token_expiration) {
          FUZZ_CHECK(*settings->token_expiration >= irsa::identity::kMinTokenExpiration &&
                         *settings->token_expiration <= irsa::identity::kMaxTokenExpiration,
                     std::to_string(*settings->token_expiration));
        }
        FUZZ_CHECK(!settings->role_arn || !settings->role_arn->empty(), key);
      }
    }
    mapping = std::make_shared<irsa::identity::RoleMapping>(std::move(parsed->mapping));
  }

  std::shared_ptr<const irsa::identity::ContainerCredentialsConfig> container_credentials;
  auto config = irsa::identity::parse_container_credentials_config(text);
  if (!config) {
    FUZZ_CHECK(!config.error().empty(), "empty error");
    FUZZ_CHECK(irsa::fuzz::one_line(config.error()), config.error());
  } else {
    if (!document.is_discarded() && document.is_object() && document.contains("identities") &&
        document["identities"].is_array()) {
      for (const auto& entry : document["identities"]) {
        FUZZ_CHECK(config->contains(entry["namespace"].get<std::string>(),
                                    entry["serviceAccount"].get<std::string>()),
                   entry.dump());
      }
    }
    container_credentials =
        std::make_shared<irsa::identity::ContainerCredentialsConfig>(std::move(*config));
  }

  static irsa::identity::ServiceAccountRegistry* registry = [] {
    auto* r = new irsa::identity::ServiceAccountRegistry;
    irsa::identity::ServiceAccountSettings with_role;
    with_role.role_arn = "arn:aws:iam::111122223333:role/own";
    r->upsert("default", "own-role", with_role);
    r->upsert("default", "default", {});
    r->upsert("team-a", "app", {});
    return r;
  }();
  irsa::identity::IdentityResolver resolver(*registry, irsa::identity::Defaults{});
  resolver.set_role_mapping(mapping);
  resolver.set_container_credentials(container_credentials);
  for (auto [ns, name] : {std::pair{"default", "own-role"}, std::pair{"default", "default"},
                          std::pair{"team-a", "app"}, std::pair{"other", "unknown"}}) {
    check_identity(resolver.resolve(ns, name).identity);
  }
  if (!document.is_discarded() && document.is_object()) {
    for (const auto& [key, entry] : document.items()) {
      auto slash = key.find('/');
      if (slash == std::string::npos) continue;
      check_identity(resolver
                         .resolve_with(std::string_view(key).substr(0, slash),
                                       std::string_view(key).substr(slash + 1),
                                       irsa::identity::ServiceAccountSettings{})
                         .identity);
    }
  }
  return 0;
}
