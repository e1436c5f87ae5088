// ServiceAccounts from a local manifest file (--service-accounts-file): the
// cluster-less source for the registry. YAML or JSON, one ServiceAccount,
// several documents, or a List.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "identity/registry.h"

namespace irsa::identity {

// Reads the ServiceAccounts in the file at `path`, keeping the annotations
// under `annotation_prefix`. Fails on a document that is not a ServiceAccount,
// has no metadata.name or has a non-string annotation; the error names the
// document. A missing namespace is "default". When a namespace/name appears
// twice, the later one wins (and a warning is logged).
Result<std::vector<ServiceAccountRecord>> load_service_accounts(const std::string& path,
                                                                std::string_view annotation_prefix);

// The same on already parsed documents (manifest::parse_documents); `origin`
// names the input in errors.
Result<std::vector<ServiceAccountRecord>> service_accounts_from_documents(
    const std::vector<nlohmann::json>& docs, std::string_view annotation_prefix,
    std::string_view origin);

}  // namespace irsa::identity
