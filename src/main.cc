// irsa-webhook: with no subcommand it serves (AWS webhook's flags); the
// subcommands are offline tools over the same core.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/oidc_commands.h"
#include "log/log.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args.front() == "mutate") {
    return irsa::cli::run_mutate({args.begin() + 1, args.end()});
  }
  if (!args.empty() && args.front() == "issuer") {
    return irsa::cli::run_issuer({args.begin() + 1, args.end()});
  }
  if (!args.empty() && args.front() == "trust-policy") {
    return irsa::cli::run_trust_policy({args.begin() + 1, args.end()});
  }
  if (!args.empty() && args.front() == "explain") {
    return irsa::cli::run_explain({args.begin() + 1, args.end()});
  }
  if (!args.empty() && args.front() == "audit") {
    return irsa::cli::run_audit({args.begin() + 1, args.end()});
  }
  if (!args.empty() && args.front() == "serve") args.erase(args.begin());

  auto config = irsa::cli::parse_flags(args);
  if (!config) {
    std::fprintf(stderr, "irsa-webhook: %s\nRun 'irsa-webhook --help' for the flags.\n",
                 config.error().c_str());
    return 2;
  }
  if (config->show_help) {
    std::fputs(irsa::cli::usage_text().c_str(), stdout);
    return 0;
  }
  if (config->show_version) {
    std::printf("%s\n", irsa::cli::version_string().c_str());
    return 0;
  }
  if (auto valid = irsa::cli::validate_config(*config); !valid) {
    std::fprintf(stderr, "irsa-webhook: %s\n", valid.error().c_str());
    return 2;
  }
  if (config->check_config) {
    std::printf("configuration OK\n");
    return 0;
  }
  return irsa::cli::run_serve(*config);
}
