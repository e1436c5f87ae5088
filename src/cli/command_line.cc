// The command-line reader shared by every command.
#include "cli/command_line.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

namespace irsa::cli {

std::optional<FlagArgument> split_flag(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg == "--") return std::nullopt;
  FlagArgument flag;
  if (auto equals = arg.find('='); equals != std::string_view::npos) {
    flag.name = std::string(arg.substr(0, equals));
    flag.value = std::string(arg.substr(equals + 1));
  } else {
    flag.name = std::string(arg);
  }
  return flag;
}

bool looks_like_flag(std::string_view arg) { return arg.size() > 2 && arg.substr(0, 2) == "--"; }

std::string missing_value(std::string_view flag, std::string_view next) {
  std::string name(flag);
  if (next.empty()) return "flag " + name + " needs a value";
  return "flag " + name + " needs a value, but is followed by the flag " + std::string(next) +
         " (for a value that starts with --, write " + name + "=VALUE)";
}

Result<std::string> take_value(const std::vector<std::string>& args, std::size_t& i,
                               std::string_view name) {
  if (i + 1 >= args.size() || looks_like_flag(args[i + 1])) {
    return Error{missing_value(name, i + 1 < args.size() ? args[i + 1] : "")};
  }
  return args[++i];
}

std::string CommandLine::get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second.back();
}

std::vector<std::string> CommandLine::all(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

namespace {

// The flag of `flags` that `name` (as written) names, or null.
const CommandFlag* find_flag(const CommandFlags& flags, std::string_view name) {
  for (const auto& flag : flags) {
    if (std::find(flag.names.begin(), flag.names.end(), name) != flag.names.end()) return &flag;
  }
  return nullptr;
}

// klog's -v3: "-v" and "3" when `arg` is a one-letter flag of `flags` that
// takes its digits attached.
std::optional<FlagArgument> attached_digits(const CommandFlags& flags, std::string_view arg) {
  if (arg.size() < 3 || arg[0] != '-' || arg[1] == '-' ||
      !std::all_of(arg.begin() + 2, arg.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  const CommandFlag* flag = find_flag(flags, arg.substr(0, 2));
  if (!flag || !flag->attached_digits) return std::nullopt;
  return FlagArgument{std::string(arg.substr(0, 2)), std::string(arg.substr(2))};
}

}  // namespace

Result<CommandLine> parse_command_line(const std::vector<std::string>& args,
                                       const CommandFlags& flags, bool plain_arguments) {
  CommandLine line;
  std::set<const CommandFlag*> seen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto argument = attached_digits(flags, args[i]);
    if (!argument) argument = split_flag(args[i]);
    if (!argument) {
      if (!plain_arguments) {
        return Error{"unexpected argument \"" + args[i] + "\" (flags start with --)"};
      }
      line.rest.push_back(args[i]);
      continue;
    }
    const CommandFlag* flag = find_flag(flags, argument->name);
    if (!flag) return Error{"unknown flag " + argument->name};
    const std::string& key = flag->names.front();
    std::string value;
    if (!flag->takes_value) {
      if (!flag->set && argument->value && *argument->value != "true" &&
          *argument->value != "false") {
        return Error{"flag " + argument->name + " takes no value (or =true / =false)"};
      }
      if (!flag->set && argument->value == "false") continue;
      value = argument->value.value_or("true");
    } else if (argument->value) {
      value = *argument->value;
    } else {
      auto next = take_value(args, i, argument->name);
      if (!next) return Error{next.error()};
      value = std::move(*next);
    }
    if (!seen.insert(flag).second && !flag->repeatable) {
      return Error{"flag " + key + " is given twice"};
    }
    if (flag->set) {
      if (auto done = flag->set(value); !done) return Error{done.error()};
      continue;
    }
    line.values[key].push_back(value);
    line.ordered.emplace_back(key, std::move(value));
  }
  return line;
}

int usage_error(std::string_view command, std::string_view message, std::string_view usage) {
  // Printed in pieces: GCC 12's -O3 takes `"a" + std::string` here for an
  // overlapping copy (-Wrestrict).
  std::fputs("irsa-webhook", stderr);
  if (!command.empty()) {
    std::fprintf(stderr, " %.*s", static_cast<int>(command.size()), command.data());
  }
  std::fprintf(stderr, ": %.*s\n", static_cast<int>(message.size()), message.data());
  if (!usage.empty()) {
    std::fprintf(stderr, "\n%.*s", static_cast<int>(usage.size()), usage.data());
  }
  return 2;
}

}  // namespace irsa::cli
