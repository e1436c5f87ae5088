// Writing JSON values as YAML, for people reading the webhook's output.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace irsa::manifest {

// Block-style YAML for `value`; strings that YAML would read as another type
// ("true", "8443", "") are quoted, so the YAML reads back as the same JSON.
std::string to_yaml(const nlohmann::json& value);

}  // namespace irsa::manifest
