// The pod-identity-webhook ConfigMap's mapping of ServiceAccounts to roles
// (--watch-config-map), in AWS's webhook's format: its `config` key holds
//   {"ns/sa": {"RoleARN": "...", "Audience": "...", "UseRegionalSTS": true,
//              "TokenExpiration": 3600}, "*/sa": {...}}
// (plus our "Region", as the ServiceAccount annotation <prefix>/region)
// where the namespace "*" matches every namespace. Pure: text in, values out.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "identity/identity.h"

namespace irsa::identity {

class RoleMapping {
 public:
  // Adds or replaces the entry for "namespace/name" (namespace may be "*").
  void add(std::string_view namespace_name, std::string_view name, ServiceAccountSettings settings);

  // The entry for namespace/name, else the one for */name, else nullptr.
  const ServiceAccountSettings* find(std::string_view namespace_name, std::string_view name) const;
  std::size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, ServiceAccountSettings, std::less<>> entries_;
};

// Parses the ConfigMap's `config` text as AWS's webhook does (Go's
// encoding/json into map[string]*Entry): field names match case-insensitively,
// an exact match first; unknown fields are ignored; a value of the wrong type
// fails the whole config. Each entry becomes settings as AWS's cache uses them:
// an empty RoleARN gives no identity, an empty Audience means the default,
// UseRegionalSTS is the entry's value (false when absent, as AWS's webhook),
// TokenExpiration 0 or absent means the default and is otherwise raised to the
// 600 s minimum. Keys without "/" and null entries are skipped with a problem
// noted in the returned `problems`. Empty or whitespace-only text is an empty
// mapping.
struct ParsedRoleMapping {
  RoleMapping mapping;
  std::vector<std::string> problems;
};
Result<ParsedRoleMapping> parse_role_mapping(std::string_view config_text);

}  // namespace irsa::identity
