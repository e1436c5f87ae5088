// `irsa-webhook mutate`: the webhook's decision for one Pod file, offline.
// Only the result goes to stdout; notes and errors go to stderr.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <simdjson.h>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/subcommand.h"
#include "common/quote.h"
#include "decision/decision.h"
#include "identity/container_credentials.h"
#include "identity/registry.h"
#include "log/log.h"
#include "manifest/documents.h"
#include "manifest/yaml_emit.h"
#include "mutation/pod_view.h"

namespace irsa::cli {
namespace {

constexpr char kMutateUsage[] =
    "Usage: irsa-webhook mutate --pod FILE --service-account FILE [--service-account FILE ...]\n"
    "                           [--container-credentials-config FILE] [--namespace NS]\n"
    "                           [--output patch|pod|yaml] [--jitter F] [webhook flags]\n\n"
    "Prints what the webhook would do to the Pod in FILE (YAML or JSON):\n"
    "  --output patch   the JSON Patch (default; [] when nothing changes)\n"
    "  --output pod     the mutated Pod as JSON\n"
    "  --output yaml    the mutated Pod as YAML\n"
    "--service-account files hold ServiceAccounts (YAML/JSON, several documents or a List).\n"
    "--container-credentials-config is the file the server reads with\n"
    "  --watch-container-credentials-config (EKS Pod Identity).\n"
    "--namespace is the request's namespace (default: the Pod's, else \"default\").\n"
    "--jitter F in [0,1) pins the container-credentials token lifetime jitter (default random).\n"
    "Every serve flag that shapes the mutation applies (--aws-default-region,\n"
    "--annotation-prefix, --token-expiration, --static-credentials, ...).\n"
    "Static credentials found are reported on stderr (and removed from the patch\n"
    "with --static-credentials=strip, the default).\n"
    "No --max-response-bytes limit applies: the whole patch is printed.\n"
    "Exit status: 0 done, 1 the webhook would deny the Pod, 2 bad input.\n";

struct MutateArgs {
  std::string pod_file;
  std::vector<std::string> service_account_files;
  std::string container_credentials_file;
  std::string namespace_name;
  std::string output;
  std::optional<double> jitter;
  Config config;  // the serve flags
  bool help = false;
};

// mutate's own flags and the serve flags, read in one pass.
Result<MutateArgs> parse_mutate_args(const std::vector<std::string>& args) {
  CommandLine line;
  auto config = parse_flags(args,
                            {{{"--pod"}},
                             {{"--service-account"}},
                             {{"--container-credentials-config"}},
                             {{"--namespace"}},
                             {{"--output", "-o"}},
                             {{"--jitter"}},
                             {{"--help", "-h"}, false}},
                            &line);
  if (!config) return Error{config.error()};
  MutateArgs parsed;
  parsed.config = std::move(*config);
  parsed.help = line.has("--help");
  if (parsed.help) return parsed;
  parsed.pod_file = line.get("--pod");
  parsed.service_account_files = line.all("--service-account");
  parsed.container_credentials_file = line.get("--container-credentials-config");
  parsed.namespace_name = line.get("--namespace");
  parsed.output = line.get("--output", "patch");
  if (const std::string jitter = line.get("--jitter"); !jitter.empty()) {
    char* end = nullptr;
    double number = std::strtod(jitter.c_str(), &end);
    if (*end != '\0' || !(number >= 0 && number < 1)) {
      return Error{"--jitter wants a number in [0, 1), got " + quote(jitter)};
    }
    parsed.jitter = number;
  }
  if (parsed.pod_file.empty()) return Error{"--pod FILE is required"};
  if (parsed.output != "patch" && parsed.output != "pod" && parsed.output != "yaml") {
    return Error{"--output must be patch, pod or yaml, got " + quote(parsed.output)};
  }
  return parsed;
}

Result<nlohmann::json> load_pod(const std::string& path) {
  auto documents = manifest::read_documents(path);
  if (!documents) return Error{documents.error()};
  if (documents->size() != 1) {
    return Error{path + ": expected exactly one Pod, found " + std::to_string(documents->size()) +
                 " documents"};
  }
  return std::move(documents->front());
}

int fail(const std::string& message) { return usage_error("mutate", message); }

}  // namespace

int run_mutate(const std::vector<std::string>& args) {
  auto parsed = parse_mutate_args(args);
  if (!parsed) return fail(parsed.error() + "\n\n" + kMutateUsage);
  if (parsed->help) {
    std::fputs(kMutateUsage, stdout);
    return 0;
  }
  const Config& config = parsed->config;
  if (auto valid = validate_mutation_config(config); !valid) return fail(valid.error());
  if (parsed->service_account_files.empty() && parsed->container_credentials_file.empty()) {
    return fail(
        "--service-account FILE is required: the ServiceAccounts that give the Pod its identity "
        "(or --container-credentials-config FILE for EKS Pod Identity); without them nothing "
        "would be injected\n\n" +
        std::string(kMutateUsage));
  }
  log::configure(config.log_format == LogFormat::kJson ? log::Format::kJson : log::Format::kText,
                 config.verbosity);

  auto pod_json = load_pod(parsed->pod_file);
  if (!pod_json) return fail(pod_json.error());

  identity::ServiceAccountRegistry registry;
  std::vector<std::string> loaded_names;
  if (auto loaded =
          load_service_account_files(parsed->service_account_files,
                                     config.mutation.annotation_prefix, registry, &loaded_names);
      !loaded) {
    return fail(loaded.error());
  }
  identity::IdentityResolver resolver(registry, config.identity);
  if (!parsed->container_credentials_file.empty()) {
    auto cc = identity::load_container_credentials_config(parsed->container_credentials_file);
    if (!cc) return fail(cc.error());
    resolver.set_container_credentials(
        std::make_shared<const identity::ContainerCredentialsConfig>(std::move(*cc)));
  }

  // The same path as a review: the Pod is read from a simdjson DOM.
  std::string pod_text = pod_json->dump();
  simdjson::dom::parser parser;
  simdjson::dom::element pod_element;
  if (auto error = parser.parse(pod_text).get(pod_element); error) {
    return fail(parsed->pod_file + ": " + simdjson::error_message(error));
  }
  auto pod = mutation::read_pod(pod_element);
  if (!pod) return fail(parsed->pod_file + ": " + pod.error());

  // A manifest without metadata.namespace lands where kubectl's context
  // points; "default" stands for it here.
  std::string namespace_name =
      decision::decision_namespace(parsed->namespace_name, *pod, "default");

  auto lookup = resolver.resolve(namespace_name, pod->service_account_name);
  if (!lookup.service_account_known && !lookup.identity) {
    // The same name in another namespace is the usual mistake: a
    // ServiceAccount file without metadata.namespace reads as "default".
    std::string elsewhere;
    for (const auto& loaded : loaded_names) {
      if (loaded.substr(loaded.find('/') + 1) == pod->service_account_name) {
        elsewhere += (elsewhere.empty() ? "" : ", ") + loaded;
      }
    }
    if (elsewhere.empty()) {
      log::info(
          "ServiceAccount not found in the given files; nothing to inject",
          {{"serviceaccount", namespace_name + "/" + std::string(pod->service_account_name)}});
    } else {
      log::warning(
          "ServiceAccount not found in the Pod's namespace, only in another; nothing to inject "
          "(set metadata.namespace in the ServiceAccount file, or --namespace)",
          {{"serviceaccount", namespace_name + "/" + std::string(pod->service_account_name)},
           {"found", elsewhere}});
    }
  }
  double jitter = 0;
  if (parsed->jitter) {
    jitter = *parsed->jitter;
  } else {
    std::random_device device;
    jitter = std::uniform_real_distribution<double>(0, 1)(device);
  }
  decision::Decision decision = decision::decide(
      *pod, lookup, decision::Config{config.mutation, config.static_credentials}, jitter);
  for (const auto& note : decision.notes) log::warning(note);
  // The problems whole, then the other warnings (the first ones are the
  // problems, cut to the warning length).
  for (const auto& problem : decision.problems) log::warning(problem);
  for (std::size_t i = decision.problem_warnings; i < decision.warnings.size(); ++i) {
    log::warning(decision.warnings[i]);
  }
  if (!decision.allowed) {
    std::fprintf(stderr, "irsa-webhook mutate: the webhook would deny this Pod: %s\n",
                 decision.denial.c_str());
    return 1;
  }
  const nlohmann::json patch = decision.patch.to_json();

  if (parsed->output == "patch") {
    std::printf("%s\n", patch.dump(2).c_str());
    return 0;
  }
  nlohmann::json mutated;
  try {
    mutated = pod_json->patch(patch);
  } catch (const nlohmann::json::exception& error) {
    return fail(std::string("internal error: the patch does not apply: ") + error.what());
  }
  if (parsed->output == "pod") {
    std::printf("%s\n", mutated.dump(2).c_str());
  } else {
    std::fputs(manifest::to_yaml(mutated).c_str(), stdout);
  }
  return 0;
}

}  // namespace irsa::cli
