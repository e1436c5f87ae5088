// The container-credentials (EKS Pod Identity) config file: parsing and lookup.
#include "identity/container_credentials.h"

#include <nlohmann/json.hpp>

#include "files/read.h"
#include "manifest/documents.h"

namespace irsa::identity {
namespace {

constexpr std::string_view kWhat = "container-credentials config";

Error config_error(const std::string& message) {
  return Error{std::string(kWhat) + ": " + message};
}

}  // namespace

void ContainerCredentialsConfig::add(std::string namespace_name, std::string service_account) {
  identities_.emplace(std::move(namespace_name), std::move(service_account));
}

bool ContainerCredentialsConfig::contains(std::string_view namespace_name,
                                          std::string_view service_account) const {
  return identities_.find(std::pair(namespace_name, service_account)) != identities_.end();
}

Result<ContainerCredentialsConfig> parse_container_credentials_config(std::string_view json_text) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    return config_error("not valid JSON: " + manifest::describe_json_error(e));
  }
  ContainerCredentialsConfig config;
  // Like Go's encoding/json, which AWS's webhook uses: null is an empty config.
  if (document.is_null()) return config;
  if (!document.is_object()) {
    return config_error("expected a JSON object like {\"identities\": [...]}");
  }
  auto identities = document.find("identities");
  if (identities == document.end() || identities->is_null()) return config;
  if (!identities->is_array()) return config_error("\"identities\" must be a list");

  std::size_t index = 0;
  for (const auto& entry : *identities) {
    std::string where = "identities[" + std::to_string(index++) + "]";
    if (!entry.is_object()) return config_error(where + " must be an object");
    auto text_field = [&](const char* name) -> const std::string* {
      auto field = entry.find(name);
      if (field == entry.end() || !field->is_string() ||
          field->get_ref<const std::string&>().empty()) {
        return nullptr;
      }
      return &field->get_ref<const std::string&>();
    };
    const std::string* namespace_name = text_field("namespace");
    if (!namespace_name) return config_error(where + ": \"namespace\" must be a non-empty string");
    const std::string* service_account = text_field("serviceAccount");
    if (!service_account) {
      return config_error(where + ": \"serviceAccount\" must be a non-empty string");
    }
    config.add(*namespace_name, *service_account);
  }
  return config;
}

Result<ContainerCredentialsConfig> load_container_credentials_config(const std::string& path) {
  auto text = files::read_file(path);
  if (!text) return Error{text.error()};
  auto config = parse_container_credentials_config(*text);
  if (!config) return Error{path + ": " + config.error()};
  return config;
}

}  // namespace irsa::identity
