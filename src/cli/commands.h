// The binary's commands. main.cc only dispatches to these.
#pragma once

#include <string>
#include <vector>

#include "cli/config.h"
#include "cli/sources.h"

namespace irsa::cli {

// Serves the webhook over HTTPS until SIGTERM/SIGINT; returns the exit code.
// `checked` is what preflight() read (sources.h), used rather than read again.
int run_serve(const Config& config, Preflight checked);

// `irsa-webhook mutate ...`: prints the patch (or mutated Pod) for a Pod file.
// `args` are the arguments after "mutate". Returns the exit code.
int run_mutate(const std::vector<std::string>& args);

// `irsa-webhook audit ...`: static AWS credentials in manifests and what the
// webhook would do with them. Exit 0 clean, 1 findings, 2 unreadable input.
int run_audit(const std::vector<std::string>& args);

}  // namespace irsa::cli
