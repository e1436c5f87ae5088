// JSON parsing with a nesting guard in front of nlohmann.
#include "oidc/json_input.h"

#include <algorithm>
#include <string>

#include "manifest/documents.h"

namespace irsa::oidc {
namespace {

// The deepest container nesting in `text`, counting brackets outside strings.
int nesting_depth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, std::string_view origin) {
  const std::string where(origin);
  if (nesting_depth(text) > kMaxJsonNesting) {
    return Error{where + " nests JSON deeper than " + std::to_string(kMaxJsonNesting) + " levels"};
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    return Error{where + " is not valid JSON: " + manifest::describe_json_error(error)};
  }
}

}  // namespace irsa::oidc
