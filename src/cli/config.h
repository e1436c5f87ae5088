// Everything the command line sets, with AWS's webhook's flag names and
// defaults, parsed and validated once at start.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admission/review_handler.h"
#include "cli/command_line.h"
#include "common/result.h"
#include "credentials/static_credentials.h"
#include "identity/identity.h"
#include "mutation/options.h"
#include "server/https_server.h"

namespace irsa::cli {

enum class LogFormat { kText, kJson };

// Fields go in the order the flags read, not by size: one per process.
struct ServeConfig {  // NOLINT(clang-analyzer-optin.performance.Padding)
  // Listener, TLS and limits: the server's own options, defaults included
  // (server/https_server.h); the flags set them in place.
  server::ServerOptions server;
  int metrics_port = 9999;
  // The largest AdmissionReview answer; a review whose answer would be
  // larger is refused (allowed: false, code 413). See
  // admission::kDefaultMaxResponseBytes for why 4 MiB.
  std::size_t max_response_bytes = admission::kDefaultMaxResponseBytes;
  double shutdown_grace_seconds = 10;
  // After SIGTERM, how long new connections are still served (with
  // Connection: close) while the Service stops routing here; within the grace.
  double shutdown_delay_seconds = 2;

  // Where ServiceAccounts come from.
  std::string service_accounts_file;
  std::string kubeconfig;
  std::string kube_api;
  bool in_cluster = true;
  std::string namespace_name = "eks";
  std::string service_name = "pod-identity-webhook";
  std::string tls_secret = "pod-identity-webhook";
  bool watch_config_map = false;
  double service_account_lookup_grace_seconds = 0.1;
  // --unknown-service-account: true for deny (allowed: false, so the
  // controller retries), false for admit unchanged (AWS's behaviour).
  bool unknown_service_account_deny = false;
  std::string watch_container_credentials_config;

  bool enable_debugging_handlers = false;
  // --report-missed-pods-interval: how often the missed-Pod sweep runs; 0: off.
  double report_missed_pods_interval_seconds = 0;
};

struct Config {
  mutation::Options mutation;
  identity::Defaults identity;
  credentials::Policy static_credentials;
  ServeConfig serve;

  int verbosity = 0;  // klog's -v
  LogFormat log_format = LogFormat::kText;
  bool show_version = false;
  bool show_help = false;
  // --check-config: validate flags and files, print "configuration OK", exit.
  bool check_config = false;
  // Flags that AWS's webhook has and that are accepted but have no effect
  // yet, as "--name (reason)": printed as a warning at start.
  std::vector<std::string> not_implemented;
  // The names of the flags given (without --), in order.
  std::vector<std::string> given;

  bool was_given(std::string_view name) const {
    return std::find(given.begin(), given.end(), name) != given.end();
  }
};

// The serve flags as the command-line reader (command_line.h) takes them,
// each setting its field of `config` and recording its name in
// config.given: --name and Go's -name, klog's underscore flags also spelled
// with '-', klog's -v N and -vN. `config` must outlive the table.
CommandFlags serve_flags(Config& config);

// Reads the serve flags in one pass over `args`, together with a
// subcommand's `own` flags (which take a name both have: mutate's
// --namespace is its own); `own_values` receives the own flags' values
// (the serve flags' are in the Config). An unknown flag or a plain argument is an error that names
// it.
Result<Config> parse_flags(const std::vector<std::string>& args, const CommandFlags& own = {},
                           CommandLine* own_values = nullptr);

// The list of commands, for `irsa-webhook help` and every usage error.
std::string commands_text();

// Checks the values the mutation core uses (prefix, paths, audiences,
// region); used by `mutate` and by validate_config.
Status validate_mutation_config(const Config& config);

// Checks cross-field rules and values (ports, paths, prefixes, URIs) and
// returns an error that says what to fix.
Status validate_config(const Config& config);

// Go's time.ParseDuration syntax ("100ms", "1m30s", "0") in seconds;
// nullopt when malformed.
std::optional<double> parse_go_duration(std::string_view text);

// The --help text. The defaults it shows are those of a default-built
// Config, written by the flag table.
std::string usage_text();

// Each flag's value in `config` as the flag takes it ("443", "10s",
// "strip"), for the flags whose value can be written back; in table order.
std::vector<std::pair<std::string, std::string>> flag_values(const Config& config);

// "irsa-webhook <version> (<git revision>)".
std::string version_string();
// The parts of it, for the metrics' build info.
const char* version();
const char* git_revision();

}  // namespace irsa::cli
