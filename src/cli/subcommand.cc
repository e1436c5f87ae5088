// Flag splitting and ServiceAccount loading for the offline subcommands.
#include "cli/subcommand.h"

#include "cli/command_line.h"
#include "identity/service_accounts_file.h"

namespace irsa::cli {

Result<std::vector<std::string>> parse_subcommand_flags(const std::vector<std::string>& args,
                                                        const std::vector<SubcommandFlag>& flags) {
  std::vector<CommandFlag> own;
  own.reserve(flags.size());
  for (const auto& flag : flags) own.push_back({flag.names, flag.on == nullptr, true});
  auto line = parse_command_line(args, own);
  if (!line) return Error{line.error()};
  for (const auto& flag : flags) {
    const std::string& key = flag.names.front();
    if (!line->has(key)) continue;
    if (flag.on) {
      *flag.on = true;
    } else if (flag.list) {
      auto values = line->all(key);
      flag.list->insert(flag.list->end(), values.begin(), values.end());
    } else {
      *flag.value = line->get(key);
    }
  }
  return std::move(line->rest);
}

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
