// The one command-line reader every command uses (pflag's syntax: --name
// value, --name=value, switches as --name or --name=true|false, repeated
// flags), and the one way a command reports a usage error. The webhook's
// flag table (config.h) and each subcommand's own flags are read with it.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace irsa::cli {

// One argument as a flag: "--name=value" -> {"--name", "value"}, "-o" ->
// {"-o", nullopt}. nullopt for what is not a flag: "x", "-", "--".
struct FlagArgument {
  std::string name;  // as written, with its dashes
  std::optional<std::string> value;
};
std::optional<FlagArgument> split_flag(std::string_view arg);

// True for an argument that is a flag (--name...), which is never taken as
// the previous flag's value: `--aws-default-region --check-config` is a
// mistake, not the region "--check-config".
bool looks_like_flag(std::string_view arg);

// The error for a value flag (as written: "--region", "-o") with no value;
// `next` is the argument that followed it (empty at the end).
std::string missing_value(std::string_view flag, std::string_view next);

// The separate value of the flag `name` at args[i] (the next argument,
// unless that is a flag); advances `i` past it.
Result<std::string> take_value(const std::vector<std::string>& args, std::size_t& i,
                               std::string_view name);

// One flag of a command.
struct CommandFlag {
  std::vector<std::string> names;  // {"--output", "-o"}; the first one keys CommandLine
  bool takes_value = true;         // false: a switch (--name, --name=true|false)
  bool repeatable = true;          // false: given twice is an error
};

struct CommandLine {
  std::vector<std::pair<std::string, std::string>> ordered;  // in command-line order
  std::map<std::string, std::vector<std::string>> values;    // every occurrence
  // Everything that is not one of the command's flags, in order: other
  // flags (with a separate value that follows them) and plain arguments.
  std::vector<std::string> rest;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  // The last occurrence, or `fallback`.
  std::string get(const std::string& name, const std::string& fallback = {}) const;
  std::vector<std::string> all(const std::string& name) const;
};

// Reads the command's own `flags` out of `args`. A switch given as
// --name=false is not recorded.
Result<CommandLine> parse_command_line(const std::vector<std::string>& args,
                                       const std::vector<CommandFlag>& flags);

// "irsa-webhook COMMAND: message" on stderr (just "irsa-webhook: message"
// for an empty command), then `usage` when given; returns 2, the exit code
// of every usage error.
int usage_error(std::string_view command, std::string_view message, std::string_view usage = {});

}  // namespace irsa::cli
