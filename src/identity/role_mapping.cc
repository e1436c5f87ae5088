// The ConfigMap role mapping: AWS's JSON format, parsed as Go's encoding/json
// reads it into AWS's cache entries.
#include "identity/role_mapping.h"

#include <array>
#include <cctype>
#include <limits>

#include <nlohmann/json.hpp>

#include "manifest/documents.h"

namespace irsa::identity {
namespace {

using nlohmann::json;

// Region is ours (a ServiceAccount's region, as the <prefix>/region
// annotation); AWS's webhook ignores the unknown field.
constexpr std::array<std::string_view, 5> kFields = {"RoleARN", "Audience", "UseRegionalSTS",
                                                     "TokenExpiration", "Region"};

bool equal_fold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The member Go would decode into `field`: an exact name match wins over a
// case-insensitive one; nullptr when there is none.
const json* member(const json& object, std::string_view field) {
  if (auto exact = object.find(std::string(field)); exact != object.end()) return &*exact;
  const json* folded = nullptr;
  for (const auto& [key, value] : object.items()) {
    if (equal_fold(key, field)) folded = &value;  // Go keeps the last match
  }
  return folded;
}

Error mapping_error(const std::string& key, const std::string& message) {
  return Error{"ConfigMap config: entry \"" + key + "\": " + message};
}

}  // namespace

void RoleMapping::add(std::string_view namespace_name, std::string_view name,
                      ServiceAccountSettings settings) {
  std::string key(namespace_name);
  key += '/';
  key += name;
  entries_.insert_or_assign(std::move(key), std::move(settings));
}

const ServiceAccountSettings* RoleMapping::find(std::string_view namespace_name,
                                                std::string_view name) const {
  std::string key(namespace_name);
  key += '/';
  key += name;
  if (auto it = entries_.find(key); it != entries_.end()) return &it->second;
  key.assign("*/");
  key += name;
  if (auto it = entries_.find(key); it != entries_.end()) return &it->second;
  return nullptr;
}

Result<ParsedRoleMapping> parse_role_mapping(std::string_view config_text) {
  ParsedRoleMapping parsed;
  if (config_text.find_first_not_of(" \t\r\n") == std::string_view::npos) return parsed;
  json document;
  try {
    document = json::parse(config_text);
  } catch (const json::exception& e) {
    return Error{"ConfigMap config: not valid JSON: " + manifest::describe_json_error(e)};
  }
  if (document.is_null()) return parsed;
  if (!document.is_object()) {
    return Error{
        "ConfigMap config: expected a JSON object like {\"namespace/name\": {\"RoleARN\": "
        "\"...\"}}, found a " +
        std::string(document.type_name())};
  }
  for (const auto& [key, entry] : document.items()) {
    auto slash = key.find('/');
    if (slash == std::string::npos) {
      parsed.problems.push_back("ConfigMap config: key \"" + key +
                                "\" is not \"namespace/name\"; skipping it");
      continue;
    }
    if (entry.is_null()) {
      parsed.problems.push_back("ConfigMap config: entry \"" + key + "\" is null; skipping it");
      continue;
    }
    if (!entry.is_object()) return mapping_error(key, "expected an object");

    ServiceAccountSettings settings;
    settings.regional_sts = false;
    for (std::string_view field : kFields) {
      const json* value = member(entry, field);
      if (!value || value->is_null()) continue;
      if (field == "RoleARN" || field == "Audience") {
        if (!value->is_string())
          return mapping_error(key, std::string(field) + " must be a string");
        const auto& text = value->get_ref<const std::string&>();
        if (text.empty()) continue;
        (field == "RoleARN" ? settings.role_arn : settings.audience) = text;
      } else if (field == "Region") {
        if (!value->is_string()) return mapping_error(key, "Region must be a string");
        const auto& text = value->get_ref<const std::string&>();
        if (text.empty()) continue;
        if (is_region_name(text)) {
          settings.region = text;
        } else {
          settings.problems.push_back("ConfigMap config: entry \"" + key +
                                      "\": Region is not a region name such as us-east-1; "
                                      "using the default");
        }
      } else if (field == "UseRegionalSTS") {
        if (!value->is_boolean()) return mapping_error(key, "UseRegionalSTS must be true or false");
        settings.regional_sts = value->get<bool>();
      } else {
        if (!value->is_number_integer()) {
          return mapping_error(key, "TokenExpiration must be an integer number of seconds");
        }
        int64_t seconds = 0;
        if (value->is_number_unsigned()) {
          auto unsigned_seconds = value->get<uint64_t>();
          if (unsigned_seconds > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return mapping_error(key, "TokenExpiration is out of range");
          }
          seconds = static_cast<int64_t>(unsigned_seconds);
        } else {
          seconds = value->get<int64_t>();
        }
        if (seconds == 0) continue;
        settings.token_expiration = validate_token_expiration(seconds);
        if (!settings.token_expiration) {
          settings.problems.push_back("ConfigMap config: entry \"" + key + "\": TokenExpiration " +
                                      std::to_string(seconds) + " is above the maximum of " +
                                      std::to_string(kMaxTokenExpiration) +
                                      " seconds; using the default");
        }
      }
    }
    parsed.mapping.add(std::string_view(key).substr(0, slash),
                       std::string_view(key).substr(slash + 1), std::move(settings));
  }
  return parsed;
}

}  // namespace irsa::identity
