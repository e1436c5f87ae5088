// irsa-webhook: with no subcommand it serves (AWS webhook's flags); the
// subcommands are offline tools over the same core.
#include <csignal>
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/oidc_commands.h"
#include "cli/sources.h"
#include "common/quote.h"
#include "log/log.h"

namespace {

// `irsa-webhook help [COMMAND]`: the list of commands and the serve flags,
// or one command's usage.
int run_help(const std::vector<std::string>& args) {
  if (args.empty() || args.front() == "serve") {
    std::fputs(irsa::cli::usage_text().c_str(), stdout);
    return 0;
  }
  const std::vector<std::string> help = {"--help"};
  if (args.front() == "mutate") return irsa::cli::run_mutate(help);
  if (args.front() == "audit") return irsa::cli::run_audit(help);
  if (args.front() == "issuer") return irsa::cli::run_issuer(help);
  if (args.front() == "trust-policy") return irsa::cli::run_trust_policy(help);
  if (args.front() == "explain") return irsa::cli::run_explain(help);
  return irsa::cli::usage_error("", "no command " + irsa::quote(args.front()),
                                irsa::cli::commands_text());
}

int run(std::vector<std::string> args) {
  if (!args.empty() && (args.front() == "help" || args.front() == "-h")) {
    return run_help({args.begin() + 1, args.end()});
  }
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
    return irsa::cli::usage_error(
        "", config.error() + "\nRun 'irsa-webhook help' for the commands and flags.");
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
    return irsa::cli::usage_error("", valid.error());
  }
  // What a start checks before it serves, so that --check-config and a
  // start fail alike: exit 1, as every start-up failure.
  auto checked = irsa::cli::preflight(*config, std::time(nullptr));
  if (!checked) {
    std::fprintf(stderr, "irsa-webhook: %s\n", checked.error().c_str());
    return 1;
  }
  if (config->check_config) {
    std::printf("configuration OK\n");
    return 0;
  }
  return irsa::cli::run_serve(*config, std::move(*checked));
}

}  // namespace

int main(int argc, char** argv) {
  // For every command, before any thread: a peer that closes a TLS
  // connection mid-write (the API server, a webhook client) must not kill
  // the process; OpenSSL writes with write(2). (HttpsServer::start does the
  // same for itself, for programs other than this one, such as its tests.)
  std::signal(SIGPIPE, SIG_IGN);
  // Errors are values (Result); an exception reaching here is a bug: said
  // on one line, with exit 70 (EX_SOFTWARE), not an abort.
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "irsa-webhook: internal error: %s\n",
                 irsa::one_line(error.what()).c_str());
  } catch (...) {
    std::fprintf(stderr, "irsa-webhook: internal error\n");
  }
  return 70;
}
