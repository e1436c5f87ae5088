// Flags and files for `issuer documents`, `trust-policy` and `explain`; the
// logic is in src/oidc/.
#include "cli/oidc_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "cli/command_line.h"
#include "cli/config.h"
#include "files/read.h"
#include "kube/api_client.h"
#include "kube/rest_config.h"
#include "manifest/documents.h"
#include "oidc/discovery.h"
#include "oidc/explain.h"
#include "oidc/json_input.h"
#include "oidc/numeric_date.h"
#include "oidc/provider.h"
#include "oidc/public_key.h"
#include "oidc/trust_policy.h"

namespace irsa::cli {
namespace {

constexpr char kIssuerUsage[] =
    "Usage: irsa-webhook issuer documents --issuer https://HOST[/PATH]\n"
    "                                     --signing-key-pub FILE [--signing-key-pub FILE ...]\n"
    "                                     --out DIR [--jwks-path PATH] [--legacy-empty-kid]\n"
    "       irsa-webhook issuer documents --from-cluster [--kubeconfig FILE] [--issuer URL]\n"
    "                                     --out DIR [--jwks-path PATH] [--legacy-empty-kid]\n\n"
    "Writes DIR/.well-known/openid-configuration and DIR/PATH (default keys.json), the\n"
    "documents STS fetches from the issuer; upload DIR as is to the issuer's https host.\n"
    "  --issuer              kube-apiserver's --service-account-issuer (https, no port)\n"
    "  --signing-key-pub     a public key file as given to --service-account-key-file:\n"
    "                        PEM PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE; RSA (RS256),\n"
    "                        EC P-256 (ES256) or P-384 (ES384). Repeat for rotation.\n"
    "  --jwks-path           where the JWKS is served, relative to the issuer\n"
    "  --legacy-empty-kid    also publish every key with an empty kid\n"
    "  --from-cluster        take the issuer and keys from the API server's\n"
    "                        /.well-known/openid-configuration and /openid/v1/jwks (kids kept)\n"
    "  --kubeconfig          with --from-cluster (default $KUBECONFIG, ~/.kube/config, or\n"
    "                        in-cluster); --issuer, if given, must match the server's\n"
    "Prints the paths written. Exit status: 0 written, 2 bad input.\n";

constexpr char kTrustPolicyUsage[] =
    "Usage: irsa-webhook trust-policy (--provider-arn ARN | --issuer URL --account ID) [...]\n"
    "                                 --namespace NS --service-account SA [...]\n"
    "                                 [--audience AUD ...] [--partition aws]\n\n"
    "Prints a role trust policy that lets the named ServiceAccounts' tokens assume the role.\n"
    "  --provider-arn     arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH]; repeatable: one role\n"
    "                     trusted by several clusters (one statement per provider)\n"
    "  --issuer/--account a provider named by its issuer URL (repeatable) and the account id\n"
    "                     its IAM OIDC provider is in (once, for every --issuer)\n"
    "  --namespace NS     the namespace of the --service-account flags that follow\n"
    "  --service-account  SA (in the last --namespace) or NS/SA; repeatable. '*' in a\n"
    "                     name matches any run of characters (StringLike).\n"
    "  --audience         the token audience (default sts.amazonaws.com); repeatable\n"
    "Warns on stderr when the policy is longer than IAM's role trust policy quota\n"
    "(2,048 characters by default, 4,096 at most; white space not counted).\n"
    "Exit status: 0 printed, 2 bad input.\n";

constexpr char kExplainUsage[] =
    "Usage: irsa-webhook explain --trust-policy FILE --token FILE --jwks FILE\n"
    "                            [--provider-arn ARN] [--audience AUD] [--now RFC3339]\n"
    "       irsa-webhook explain --trust-policy FILE --service-account NS/SA\n"
    "                            [--provider-arn ARN] [--audience AUD]\n\n"
    "Runs offline the checks STS makes on AssumeRoleWithWebIdentity and prints each with\n"
    "its verdict, then ALLOWED, DENIED: <reason> or UNKNOWN: <what is not checked here>.\n"
    "  --token            a projected service-account token (a JWT)\n"
    "  --jwks             the issuer's JWKS (keys.json, or /openid/v1/jwks)\n"
    "  --provider-arn     the IAM OIDC provider (default: the one the policy trusts; of a\n"
    "                     policy for several clusters, the one whose issuer is the token's iss)\n"
    "  --audience         the provider's client id (default sts.amazonaws.com)\n"
    "  --now              the time to check exp/nbf/iat at (default: now)\n"
    "  --service-account  check only the policy, for the claims that account's token carries\n"
    "Exit status: 0 allowed, 1 denied or unknown, 2 unusable input.\n";

// A command's own flags (each once unless repeatable), --help/-h, and
// plain arguments; any other flag is an error that names it.
struct OidcFlag {
  std::string name;
  bool takes_value = true;
  bool repeatable = false;
};

struct ParsedFlags : CommandLine {
  std::vector<std::string> positional;
  bool help = false;
};

Result<ParsedFlags> parse_flags(const std::vector<std::string>& args,
                                const std::vector<OidcFlag>& specs) {
  std::vector<CommandFlag> flags = {{{"--help", "-h"}, false, true}};
  for (const auto& spec : specs) flags.push_back({{spec.name}, spec.takes_value, spec.repeatable});
  auto line = parse_command_line(args, flags, /*plain_arguments=*/true);
  if (!line) return Error{line.error()};
  ParsedFlags parsed;
  parsed.help = line->has("--help");
  parsed.positional = std::move(line->rest);
  line->values.erase("--help");
  std::erase_if(line->ordered, [](const auto& flag) { return flag.first == "--help"; });
  static_cast<CommandLine&>(parsed) = std::move(*line);
  return parsed;
}

Status write_file(const std::filesystem::path& path, const std::string& text) {
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) return Error{"cannot create " + path.parent_path().string() + ": " + error.message()};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Error{"cannot write " + path.string()};
  out << text;
  out.close();
  if (!out) return Error{"cannot write " + path.string()};
  return Ok{};
}

// `flag` names where the path came from, so that a file given to the wrong
// flag reads as that: "--trust-policy token.jwt is not valid JSON ...".
Result<nlohmann::json> read_json_file(std::string_view flag, const std::string& path) {
  auto text = files::read_file(path);
  if (!text) return Error{std::string(flag) + " " + text.error()};
  auto parsed = oidc::parse_json(*text, std::string(flag) + " " + path);
  if (!parsed && text->find('{') == std::string::npos &&
      std::count(text->begin(), text->end(), '.') == 2) {
    return Error{parsed.error() + " (it looks like a token: give it to --token)"};
  }
  return parsed;
}

// Every provider named: each --provider-arn, and each --issuer in --account.
Result<std::vector<oidc::Provider>> providers_from_flags(const ParsedFlags& flags) {
  if (!flags.has("--provider-arn") && !flags.has("--issuer")) {
    return Error{"name the provider: --provider-arn ARN, or --issuer URL with --account ID"};
  }
  if (flags.has("--issuer") != flags.has("--account")) {
    return Error{flags.has("--issuer") ? "--issuer needs --account ID (the provider's account)"
                                       : "--account goes with --issuer URL"};
  }
  std::vector<oidc::Provider> providers;
  for (const auto& arn : flags.all("--provider-arn")) {
    auto provider = oidc::parse_provider_arn(arn);
    if (!provider) return Error{provider.error()};
    providers.push_back(std::move(*provider));
  }
  for (const auto& url : flags.all("--issuer")) {
    auto issuer = oidc::parse_issuer(url);
    if (!issuer) return Error{issuer.error()};
    auto provider =
        oidc::provider_for_issuer(*issuer, flags.get("--account"), flags.get("--partition", "aws"));
    if (!provider) return Error{provider.error()};
    providers.push_back(std::move(*provider));
  }
  return providers;
}

std::string trim(const std::string& text) {
  constexpr std::string_view kSpace = " \t\r\n";
  std::size_t start = text.find_first_not_of(kSpace);
  if (start == std::string::npos) return {};
  std::size_t end = text.find_last_not_of(kSpace);
  return text.substr(start, end - start + 1);
}

// --kubeconfig, else $KUBECONFIG (its first file), else ~/.kube/config when
// it exists, else the Pod's in-cluster configuration.
Result<kube::RestConfig> cluster_config(const ParsedFlags& flags) {
  std::string path = flags.get("--kubeconfig");
  if (path.empty()) {
    if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
      path = std::string(env).substr(0, std::string(env).find(':'));
    } else if (const char* home = std::getenv("HOME"); home && *home) {
      std::error_code error;
      std::string candidate = std::string(home) + "/.kube/config";
      if (std::filesystem::exists(candidate, error)) path = candidate;
    }
  }
  if (!path.empty()) return kube::load_kubeconfig(path);
  if (kube::in_cluster_available()) return kube::in_cluster_config();
  return Error{"--from-cluster needs a kubeconfig: pass --kubeconfig FILE"};
}

Result<nlohmann::json> fetch_json(kube::Connection& connection, const std::string& origin,
                                  const std::string& path) {
  auto response = connection.get(path, "application/json");
  if (!response) return Error{"GET " + origin + path + ": " + response.error()};
  if (response->status != 200) {
    return Error{"GET " + origin + path + ": HTTP " + std::to_string(response->status) + ": " +
                 kube::status_message(response->body)};
  }
  return oidc::parse_json(response->body, origin + path);
}

// The API server's issuer and keys, rendered for a static host.
Result<oidc::IssuerDocuments> documents_from_cluster(const ParsedFlags& flags,
                                                     oidc::IssuerDocumentsOptions& options) {
  auto config = cluster_config(flags);
  if (!config) return Error{config.error()};
  auto client = kube::ApiClient::create(std::move(*config));
  if (!client) return Error{client.error()};
  auto connection = (*client)->connect();
  const std::string origin = (*client)->describe();
  auto discovery = fetch_json(*connection, origin, "/.well-known/openid-configuration");
  if (!discovery) return Error{discovery.error()};
  auto issuer_field = discovery->find("issuer");
  if (!discovery->is_object() || issuer_field == discovery->end() || !issuer_field->is_string()) {
    return Error{origin + "/.well-known/openid-configuration has no \"issuer\""};
  }
  auto issuer = oidc::parse_issuer(issuer_field->get<std::string>());
  if (!issuer) return Error{"the API server's " + issuer.error()};
  if (flags.has("--issuer") && flags.get("--issuer") != issuer->url) {
    return Error{"the API server's issuer is " + issuer->url + ", not --issuer " +
                 flags.get("--issuer")};
  }
  auto jwks_json = fetch_json(*connection, origin, "/openid/v1/jwks");
  if (!jwks_json) return Error{jwks_json.error()};
  auto jwks = oidc::parse_jwks(*jwks_json, origin + "/openid/v1/jwks");
  if (!jwks) return Error{jwks.error()};
  for (const auto& skipped : jwks->skipped) {
    std::fprintf(stderr, "irsa-webhook issuer documents: skipping %s\n", skipped.c_str());
  }
  options.issuer = std::move(*issuer);
  return oidc::render_issuer_documents(*jwks, options);
}

}  // namespace

int run_issuer(const std::vector<std::string>& args) {
  constexpr std::string_view kCommand = "issuer documents";
  auto flags = parse_flags(args, {{"--issuer"},
                                  {"--signing-key-pub", true, true},
                                  {"--out"},
                                  {"--jwks-path"},
                                  {"--legacy-empty-kid", false},
                                  {"--from-cluster", false},
                                  {"--kubeconfig"}});
  if (!flags) return usage_error(kCommand, flags.error(), kIssuerUsage);
  if (flags->help) {
    std::fputs(kIssuerUsage, stdout);
    return 0;
  }
  if (flags->positional.size() != 1 || flags->positional.front() != "documents") {
    return usage_error("issuer", "expected the subcommand \"documents\"", kIssuerUsage);
  }
  if (!flags->has("--out")) return usage_error(kCommand, "--out DIR is required", kIssuerUsage);
  oidc::IssuerDocumentsOptions options;
  options.jwks_path = flags->get("--jwks-path", options.jwks_path);
  options.legacy_empty_kid = flags->has("--legacy-empty-kid");

  Result<oidc::IssuerDocuments> documents = Error{""};
  if (flags->has("--from-cluster")) {
    if (flags->has("--signing-key-pub")) {
      return usage_error(
          kCommand, "--from-cluster takes the keys from the API server; drop --signing-key-pub");
    }
    documents = documents_from_cluster(*flags, options);
  } else {
    if (flags->has("--kubeconfig"))
      return usage_error(kCommand, "--kubeconfig needs --from-cluster");
    if (!flags->has("--issuer")) return usage_error(kCommand, "--issuer is required", kIssuerUsage);
    if (!flags->has("--signing-key-pub")) {
      return usage_error(kCommand, "at least one --signing-key-pub FILE is required", kIssuerUsage);
    }
    auto issuer = oidc::parse_issuer(flags->get("--issuer"));
    if (!issuer) return usage_error(kCommand, issuer.error());
    options.issuer = *issuer;
    std::vector<oidc::PublicKey> keys;
    for (const auto& file : flags->all("--signing-key-pub")) {
      auto text = files::read_file(file);
      if (!text) return usage_error(kCommand, text.error());
      auto loaded = oidc::parse_public_keys_pem(*text, file);
      if (!loaded) return usage_error(kCommand, loaded.error());
      for (auto& key : *loaded) keys.push_back(std::move(key));
    }
    documents = oidc::render_issuer_documents(keys, options);
  }
  if (!documents) return usage_error(kCommand, documents.error());
  for (const auto& note : documents->notes) {
    std::fprintf(stderr, "irsa-webhook %s: %s\n", kCommand.data(), note.c_str());
  }

  const std::filesystem::path out = flags->get("--out");
  const std::filesystem::path discovery_path = out / ".well-known" / "openid-configuration";
  const std::filesystem::path jwks_path = out / options.jwks_path;
  if (auto written = write_file(discovery_path, documents->discovery); !written) {
    return usage_error(kCommand, written.error());
  }
  if (auto written = write_file(jwks_path, documents->jwks); !written) {
    return usage_error(kCommand, written.error());
  }
  std::printf("%s\n%s\n", discovery_path.string().c_str(), jwks_path.string().c_str());
  return 0;
}

int run_trust_policy(const std::vector<std::string>& args) {
  constexpr std::string_view kCommand = "trust-policy";
  auto flags = parse_flags(args, {{"--provider-arn", true, true},
                                  {"--issuer", true, true},
                                  {"--account"},
                                  {"--partition"},
                                  {"--namespace", true, true},
                                  {"--service-account", true, true},
                                  {"--audience", true, true}});
  if (!flags) return usage_error(kCommand, flags.error(), kTrustPolicyUsage);
  if (flags->help) {
    std::fputs(kTrustPolicyUsage, stdout);
    return 0;
  }
  if (!flags->positional.empty()) {
    return usage_error(kCommand, "unexpected argument " + flags->positional.front(),
                       kTrustPolicyUsage);
  }
  auto providers = providers_from_flags(*flags);
  if (!providers) return usage_error(kCommand, providers.error());

  std::vector<oidc::ServiceAccountRef> accounts;
  std::optional<std::string> current_namespace;
  bool namespace_used = true;
  for (const auto& [name, value] : flags->ordered) {
    if (name == "--namespace") {
      if (!namespace_used) {
        return usage_error(
            kCommand, "--namespace " + *current_namespace + " is followed by no --service-account");
      }
      current_namespace = value;
      namespace_used = false;
    } else if (name == "--service-account") {
      Result<oidc::ServiceAccountRef> account = Error{""};
      if (value.find('/') != std::string::npos) {
        account = oidc::parse_service_account_ref(value, true);
      } else if (current_namespace) {
        account = oidc::make_service_account_ref(*current_namespace, value, true);
        namespace_used = true;
      } else {
        return usage_error(kCommand, "--service-account " + value +
                                         " needs a --namespace before it (or write NS/SA)");
      }
      if (!account) return usage_error(kCommand, account.error());
      accounts.push_back(std::move(*account));
    }
  }
  if (!namespace_used) {
    return usage_error(
        kCommand, "--namespace " + *current_namespace + " is followed by no --service-account");
  }
  if (accounts.empty()) {
    return usage_error(kCommand, "name at least one --namespace NS --service-account SA",
                       kTrustPolicyUsage);
  }
  std::vector<std::string> audiences = flags->all("--audience");
  if (audiences.empty()) audiences.emplace_back("sts.amazonaws.com");
  for (const auto& audience : audiences) {
    if (audience.empty()) return usage_error(kCommand, "--audience is empty");
  }
  const auto policy = oidc::render_trust_policy(*providers, accounts, audiences);
  std::printf("%s\n", policy.dump(2).c_str());
  if (auto warning = oidc::trust_policy_size_warning(oidc::iam_policy_length(policy))) {
    std::fprintf(stderr, "irsa-webhook %s: warning: %s\n", kCommand.data(), warning->c_str());
  }
  return 0;
}

int run_explain(const std::vector<std::string>& args) {
  constexpr std::string_view kCommand = "explain";
  auto flags = parse_flags(args, {{"--trust-policy"},
                                  {"--token"},
                                  {"--jwks"},
                                  {"--provider-arn"},
                                  {"--audience"},
                                  {"--now"},
                                  {"--service-account"}});
  if (!flags) return usage_error(kCommand, flags.error(), kExplainUsage);
  if (flags->help) {
    std::fputs(kExplainUsage, stdout);
    return 0;
  }
  if (!flags->positional.empty()) {
    return usage_error(kCommand, "unexpected argument " + flags->positional.front(), kExplainUsage);
  }
  if (!flags->has("--trust-policy")) {
    return usage_error(kCommand, "--trust-policy FILE is required", kExplainUsage);
  }
  const bool by_token = flags->has("--token");
  if (by_token == flags->has("--service-account")) {
    return usage_error(kCommand, "give exactly one of --token FILE and --service-account NS/SA",
                       kExplainUsage);
  }
  if (by_token && !flags->has("--jwks")) {
    return usage_error(kCommand, "--jwks FILE is required with --token", kExplainUsage);
  }

  auto policy = read_json_file("--trust-policy", flags->get("--trust-policy"));
  if (!policy) return usage_error(kCommand, policy.error());
  oidc::ExplainOptions options;
  std::optional<std::string> token;
  if (by_token) {
    auto text = files::read_file(flags->get("--token"));
    if (!text) return usage_error(kCommand, text.error());
    token = trim(*text);
  }
  // A policy that trusts several clusters: the token's issuer picks the
  // provider, unless --provider-arn names one.
  auto provider = flags->has("--provider-arn")
                      ? oidc::parse_provider_arn(flags->get("--provider-arn"))
                  : token ? oidc::provider_for_token(*policy, *token)
                          : oidc::provider_from_policy(*policy);
  if (!provider) return usage_error(kCommand, provider.error());
  options.provider = std::move(*provider);
  options.audience = flags->get("--audience", options.audience);
  if (options.audience.empty()) return usage_error(kCommand, "--audience is empty");
  if (flags->has("--now")) {
    auto now = oidc::parse_rfc3339(flags->get("--now"));
    if (!now) return usage_error(kCommand, "--now: " + now.error());
    options.now = *now;
  } else {
    options.now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  }

  Result<oidc::Report> report = Error{""};
  if (by_token) {
    auto jwks_json = read_json_file("--jwks", flags->get("--jwks"));
    if (!jwks_json) return usage_error(kCommand, jwks_json.error());
    auto jwks = oidc::parse_jwks(*jwks_json, flags->get("--jwks"));
    if (!jwks) return usage_error(kCommand, jwks.error());
    for (const auto& skipped : jwks->skipped) {
      std::fprintf(stderr, "irsa-webhook explain: skipping %s\n", skipped.c_str());
    }
    report = oidc::explain_token(*policy, *token, *jwks, options);
  } else {
    auto account = oidc::parse_service_account_ref(flags->get("--service-account"), false);
    if (!account) return usage_error(kCommand, account.error());
    report = oidc::explain_service_account(*policy, *account, options);
  }
  if (!report) return usage_error(kCommand, report.error());
  std::fputs(oidc::render_report(*report).c_str(), stdout);
  return report->outcome == oidc::Outcome::kAllowed ? 0 : 1;
}

}  // namespace irsa::cli
