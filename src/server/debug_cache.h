// The cache dump of --enable-debugging-handlers (GET /debug/alpha/cache on
// the metrics port): every ServiceAccount the registry knows, keyed
// "namespace/name", with AWS's webhook's fields (RoleARN, Audience,
// UseRegionalSTS, TokenExpiration: annotation values with the defaults
// filled in) plus what the webhook resolves for it (Identity) and annotation
// problems. Role ARNs are not secret; no token or Secret is in it.
#pragma once

#include <string>

#include "identity/registry.h"

namespace irsa::server {

std::string service_account_cache_json(const identity::IdentityResolver& resolver);

}  // namespace irsa::server
