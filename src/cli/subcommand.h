// What the offline subcommands (mutate, audit) share besides the flags
// (config.h's parse_flags reads their own with the serve flags): the
// ServiceAccounts they load from files.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "identity/registry.h"

namespace irsa::cli {

// Loads every file into `registry`. Annotation problems are not logged here:
// they stay in the settings, and the decision reports those of each Pod's
// ServiceAccount once, with the Pod. The error names the file and what is
// wrong with it. `loaded`,
// when given, receives each ServiceAccount's "namespace/name".
Status load_service_account_files(const std::vector<std::string>& files,
                                  std::string_view annotation_prefix,
                                  identity::ServiceAccountRegistry& registry,
                                  std::vector<std::string>* loaded = nullptr);

}  // namespace irsa::cli
