// What the offline subcommands (mutate, audit) share: their own flags on top
// of the serve flags, and ServiceAccounts loaded from files.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "identity/registry.h"

namespace irsa::cli {

// One flag of a subcommand. Exactly one target is set: `value` takes the
// last occurrence, `list` every occurrence, `on` needs no value.
struct SubcommandFlag {
  std::vector<std::string> names;  // e.g. {"--output", "-o"}
  std::string* value = nullptr;
  std::vector<std::string>* list = nullptr;
  bool* on = nullptr;
};

// Takes the subcommand's own flags out of `args` (--name value, --name=value)
// and returns the rest, in order, for parse_flags.
Result<std::vector<std::string>> parse_subcommand_flags(const std::vector<std::string>& args,
                                                        const std::vector<SubcommandFlag>& flags);

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
