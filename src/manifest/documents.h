// Reading Kubernetes manifests as users write them: JSON or YAML, one object,
// several YAML documents, or a List (kind List / *List with items).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace irsa::manifest {

// Parses `text` (JSON, or YAML 1.2 with its core schema: plain scalars
// null/true/false/numbers are typed, quoted scalars stay strings) into its
// documents. Empty documents are skipped; a document that is a List is
// replaced by its items. `origin` names the input in error messages.
Result<std::vector<nlohmann::json>> parse_documents(std::string_view text, std::string_view origin);

// Reads the file at `path` (files::read_file) and parses it as above.
Result<std::vector<nlohmann::json>> read_documents(const std::string& path);

// Containers nested deeper than this are refused (the converters recurse).
inline constexpr int kMaxNestingDepth = 256;

// nlohmann's parse error as one line without its exception id:
// "line 2, column 5: syntax error while parsing value - ...".
std::string describe_json_error(const nlohmann::json::exception& error);

// The offset of the first bracket, outside strings, that opens a container
// nested deeper than `max_depth`; nullopt when there is none. A cheap scan
// before parsing, so that deep input is refused instead of recursed into.
std::optional<std::size_t> find_json_nesting_beyond(std::string_view text, int max_depth);

}  // namespace irsa::manifest
