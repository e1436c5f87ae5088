// The one command-line reader every command uses (pflag's syntax: --name
// value, --name=value, switches as --name or --name=true|false, repeated
// flags), and the one way a command reports a usage error. The serve flag
// table (config.h's serve_flags) and each command's own flags are read with
// it, a subcommand's own flags and the serve flags together in one pass.
#pragma once

#include <cstddef>
#include <functional>
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
  std::vector<std::string> names;  // as written: {"--output", "-o"}; the first keys CommandLine
  bool takes_value = true;         // false: a switch (--name, --name=true|false)
  bool repeatable = true;          // false: given twice is an error
  // Called with each value as it is read, in command-line order (a switch's
  // "true", or what follows its '='), instead of recording it in
  // CommandLine; an error stops the reading and is the reader's. A switch
  // with `set` judges its own value (Go's spellings: --in-cluster=false,
  // =0, =F), false included.
  std::function<Status(std::string_view value)> set = nullptr;
  // klog's shorthand: a one-letter name with its digits attached (-v3 for
  // -v=3).
  bool attached_digits = false;
};

// A command's table. Where two flags share a name, the first one has it: a
// subcommand puts its own flags before the serve flags it also takes.
using CommandFlags = std::vector<CommandFlag>;

struct CommandLine {
  std::vector<std::pair<std::string, std::string>> ordered;  // in command-line order
  std::map<std::string, std::vector<std::string>> values;    // every occurrence
  // The plain arguments, in order (when the command takes them).
  std::vector<std::string> rest;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  // The last occurrence, or `fallback`.
  std::string get(const std::string& name, const std::string& fallback = {}) const;
  std::vector<std::string> all(const std::string& name) const;
};

// Reads `args` with the command's `flags`, in one pass. An argument that
// looks like a flag (-x, --name) but is none of them is an error ("unknown
// flag --name"); so is a plain argument unless `plain_arguments`, which
// keeps it in `rest`. A switch given as --name=false is not recorded (one
// with `set` is told). Every command's errors read alike: "unknown flag
// --x", "flag --x needs a value", "flag --x is given twice".
Result<CommandLine> parse_command_line(const std::vector<std::string>& args,
                                       const CommandFlags& flags, bool plain_arguments = false);

// "irsa-webhook COMMAND: message" on stderr (just "irsa-webhook: message"
// for an empty command), then `usage` when given; returns 2, the exit code
// of every usage error.
int usage_error(std::string_view command, std::string_view message, std::string_view usage = {});

}  // namespace irsa::cli
