// Flag splitting and ServiceAccount loading for the offline subcommands.
#include "cli/subcommand.h"

#include <algorithm>
#include <optional>

#include "cli/config.h"
#include "identity/service_accounts_file.h"

namespace irsa::cli {

Result<std::vector<std::string>> parse_subcommand_flags(const std::vector<std::string>& args,
                                                        const std::vector<SubcommandFlag>& flags) {
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (name.rfind("--", 0) == 0) {
      if (auto equals = name.find('='); equals != std::string::npos) {
        value = name.substr(equals + 1);
        name = name.substr(0, equals);
      }
    }
    auto flag = std::find_if(flags.begin(), flags.end(), [&](const SubcommandFlag& candidate) {
      return std::find(candidate.names.begin(), candidate.names.end(), name) !=
             candidate.names.end();
    });
    if (flag == flags.end()) {
      rest.push_back(args[i]);
      continue;
    }
    if (flag->on) {
      *flag->on = true;
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size() || looks_like_flag(args[i + 1])) {
        return Error{missing_value(name, i + 1 < args.size() ? args[i + 1] : "")};
      }
      value = args[++i];
    }
    if (flag->list) {
      flag->list->push_back(*value);
    } else {
      *flag->value = *value;
    }
  }
  return rest;
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
      registry.upsert(record.namespace_name, record.name, std::move(record.settings));
    }
  }
  return Ok{};
}

}  // namespace irsa::cli
