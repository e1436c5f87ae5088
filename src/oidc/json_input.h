// Parsing untrusted JSON (policies, JWKS, token parts) into values, with a
// nesting limit, as one-line errors.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace irsa::oidc {

// Containers nested deeper than this are refused before parsing.
inline constexpr int kMaxJsonNesting = 64;

// Parses `text` as one JSON value. `origin` names the input in errors.
Result<nlohmann::json> parse_json(std::string_view text, std::string_view origin);

}  // namespace irsa::oidc
