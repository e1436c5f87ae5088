// JSON parsing with a nesting guard in front of nlohmann.
#include "oidc/json_input.h"

#include <string>

#include "manifest/documents.h"

namespace irsa::oidc {

Result<nlohmann::json> parse_json(std::string_view text, std::string_view origin) {
  const std::string where(origin);
  if (manifest::find_json_nesting_beyond(text, kMaxJsonNesting)) {
    return Error{where + " nests JSON deeper than " + std::to_string(kMaxJsonNesting) + " levels"};
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    return Error{where + " is not valid JSON: " + manifest::describe_json_error(error)};
  }
}

}  // namespace irsa::oidc
