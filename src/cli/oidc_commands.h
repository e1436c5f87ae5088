// Subcommands for self-managed clusters: publish the issuer's documents,
// print a role trust policy, explain STS's verdict on a token. Only the
// result goes to stdout; messages go to stderr.
#pragma once

#include <string>
#include <vector>

namespace irsa::cli {

// `irsa-webhook issuer documents ...`: writes the discovery document and
// the JWKS under --out. `args` follow "issuer". Exit 0 written, 2 bad input.
int run_issuer(const std::vector<std::string>& args);

// `irsa-webhook trust-policy ...`: prints the role trust policy JSON.
// `args` follow "trust-policy". Exit 0 printed, 2 bad input.
int run_trust_policy(const std::vector<std::string>& args);

// `irsa-webhook explain ...`: prints each check STS makes and the verdict.
// `args` follow "explain". Exit 0 allowed, 1 denied or unknown, 2 bad input.
int run_explain(const std::vector<std::string>& args);

}  // namespace irsa::cli
