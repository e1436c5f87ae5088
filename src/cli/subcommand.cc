// ServiceAccount loading for the offline subcommands.
#include "cli/subcommand.h"

#include "identity/service_accounts_file.h"

namespace irsa::cli {

Status load_service_account_files(const std::vector<std::string>& files,
                                  std::string_view annotation_prefix,
                                  identity::ServiceAccountRegistry& registry,
                                  std::vector<std::string>* loaded) {
  for (const auto& file : files) {
    auto records = identity::load_service_accounts(file, annotation_prefix);
    if (!records) return Error{records.error()};
    for (auto& record : *records) {
      if (loaded) loaded->push_back(record.namespace_name + "/" + record.name);
      registry.upsert(record.namespace_name, record.name, record.settings);
    }
  }
  return Ok{};
}

}  // namespace irsa::cli
