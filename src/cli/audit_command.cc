// `irsa-webhook audit`: the static AWS credentials in a set of manifests and
// what the webhook would do with each, for planning a migration to IRSA.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "cli/audit_cluster.h"
#include "cli/audit_findings.h"
#include "cli/audit_secrets.h"
#include "cli/audit_velero.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/subcommand.h"
#include "common/quote.h"
#include "credentials/static_credentials.h"
#include "decision/decision.h"
#include "identity/registry.h"
#include "manifest/documents.h"
#include "manifest/workloads.h"
#include "mutation/pod_view.h"

namespace irsa::cli {
namespace {

using nlohmann::json;

constexpr char kAuditUsage[] =
    "Usage: irsa-webhook audit -f FILE|DIR [-f FILE|DIR ...] [--service-account FILE ...]\n"
    "                          [--output text|json] [webhook flags]\n"
    "       irsa-webhook audit --from-cluster [--kubeconfig FILE] [--namespace NS]\n"
    "                          [--selector SELECTOR] [--container-credentials-config FILE]\n"
    "                          [--watch-config-map [--config-map-namespace NS]]\n"
    "                          [--page-size N] [--output text|json] [webhook flags]\n\n"
    "Lists, per workload and container, the static AWS credentials in Kubernetes\n"
    "manifests (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob;\n"
    "YAML or JSON, several documents or a List; directories are read recursively\n"
    "for *.yaml, *.yml and *.json) and what the webhook would do with them under\n"
    "the given --static-credentials* flags. With --service-account files it knows\n"
    "which ServiceAccounts have a role; without them it assumes each will get one.\n"
    "Keys in containers that do not receive the identity (skip-containers,\n"
    "include-containers) are listed as kept, keys for a non-AWS endpoint and\n"
    "volumes at .aws that strip keeps on their own lines. Secret manifests among\n"
    "the inputs are read for key names and credentials-file shapes (never\n"
    "printed): what only they reveal is listed apart, as the webhook never reads\n"
    "Secrets. Velero BackupStorageLocations among the inputs whose s3Url is not\n"
    "AWS's set apart the keys of the Velero Pods that read their credentials\n"
    "Secret: the webhook cannot see the location and would strip them.\n"
    "Problems with a workload's identity annotations are printed on\n"
    "stderr as notes, as the webhook warns of them.\n"
    "\n"
    "With --from-cluster it reads the running cluster instead (--kubeconfig, else\n"
    "--kube-api, else the in-cluster config), page by page: ServiceAccounts, the\n"
    "workloads and their Pods, Secrets' key names where RBAC allows it (never their\n"
    "values), and the pod-identity-webhook ConfigMap with --watch-config-map. It\n"
    "reports, per workload: static AWS credentials, Pods that missed their identity\n"
    "(with the command that fixes them), and ServiceAccounts whose annotations look\n"
    "wrong. --namespace and --selector narrow what it reads.\n"
    "Exit status: 0 nothing found, 1 static credentials (or, with --from-cluster,\n"
    "Pods that missed their identity or ServiceAccount annotation problems) found,\n"
    "2 unreadable input (a file, or the cluster) or bad flags.\n";

struct AuditArgs {
  std::vector<std::string> inputs;
  std::vector<std::string> service_account_files;
  std::string output;
  Config config;  // the serve flags
  bool help = false;
  bool from_cluster = false;
  ClusterAuditArgs cluster;
  bool config_map_namespace_given = false;
  std::string page_size;
};

// audit's own flags and the serve flags, read in one pass.
Result<AuditArgs> parse_audit_args(const std::vector<std::string>& args) {
  CommandLine line;
  auto config = parse_flags(args,
                            {{{"-f", "--filename"}},
                             {{"--service-account"}},
                             {{"--output", "-o"}},
                             {{"--from-cluster"}, false},
                             {{"--namespace", "-n"}},
                             {{"--selector", "-l"}},
                             {{"--container-credentials-config"}},
                             {{"--config-map-namespace"}},
                             {{"--page-size"}},
                             {{"--help", "-h"}, false}},
                            &line);
  if (!config) return Error{config.error()};
  AuditArgs parsed;
  parsed.config = std::move(*config);
  parsed.help = line.has("--help");
  if (parsed.help) return parsed;
  parsed.inputs = line.all("-f");
  parsed.service_account_files = line.all("--service-account");
  parsed.output = line.get("--output", "text");
  parsed.from_cluster = line.has("--from-cluster");
  std::string namespace_name = line.get("--namespace"), selector = line.get("--selector"),
              credentials_config = line.get("--container-credentials-config"),
              config_map_namespace = line.get("--config-map-namespace");
  parsed.page_size = line.get("--page-size");
  if (parsed.output != "text" && parsed.output != "json") {
    return Error{"--output must be text or json, got " + quote(parsed.output)};
  }
  if (!parsed.from_cluster) {
    for (const auto& [flag, value] :
         {std::pair{"--namespace", &namespace_name}, std::pair{"--selector", &selector},
          std::pair{"--container-credentials-config", &credentials_config},
          std::pair{"--config-map-namespace", &config_map_namespace},
          std::pair{"--page-size", &parsed.page_size}}) {
      if (!value->empty()) return Error{std::string(flag) + " needs --from-cluster"};
    }
    if (parsed.inputs.empty()) return Error{"-f FILE|DIR is required (or --from-cluster)"};
    return parsed;
  }
  if (!parsed.inputs.empty() || !parsed.service_account_files.empty()) {
    return Error{"--from-cluster reads the cluster: -f and --service-account do not go with it"};
  }
  parsed.cluster.namespace_name = namespace_name;
  parsed.cluster.selector = selector;
  parsed.cluster.container_credentials_config = credentials_config;
  if (!config_map_namespace.empty()) {
    parsed.cluster.config_map_namespace = config_map_namespace;
    parsed.config_map_namespace_given = true;
  }
  if (!parsed.page_size.empty()) {
    const auto& text = parsed.page_size;
    const bool digits = text.size() <= 6 && std::all_of(text.begin(), text.end(), [](char c) {
                          return c >= '0' && c <= '9';
                        });
    const int size = digits ? std::stoi(text) : 0;
    if (size < 1 || size > 10000) {
      return Error{"--page-size must be a number from 1 to 10000, got " + quote(text)};
    }
    parsed.cluster.page_size = size;
  }
  parsed.cluster.json = parsed.output == "json";
  return parsed;
}

// The manifest files named by `input`: the file itself, or a directory's
// YAML/JSON files, recursively, in a stable order.
Result<std::vector<std::string>> expand_input(const std::string& input) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(input, error)) return std::vector<std::string>{input};
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(input, fs::directory_options::skip_permission_denied, error);
  if (error) return Error{"cannot read directory " + input + ": " + error.message()};
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) return Error{"cannot read directory " + input + ": " + error.message()};
    std::string extension = it->path().extension().string();
    if (it->is_regular_file(error) &&
        (extension == ".yaml" || extension == ".yml" || extension == ".json")) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Why the webhook takes the decision's action: what it knows of the
// workload's ServiceAccount, and what changed the action, if anything.
std::string why_for(const decision::Decision& decision,
                    const identity::IdentityResolver::Lookup& lookup, bool assumed) {
  std::string why = assumed                        ? "assuming its ServiceAccount gets an IAM role"
                    : lookup.identity              ? "its ServiceAccount has an AWS identity"
                    : lookup.service_account_known ? "its ServiceAccount has no IAM role"
                                                   : "its ServiceAccount is not in the given files";
  if (!decision.action_detail.empty()) why += "; " + decision.action_detail;
  return why;
}

int fail(const std::string& message) { return usage_error("audit", message); }

}  // namespace

int run_audit(const std::vector<std::string>& args) {
  auto parsed = parse_audit_args(args);
  if (!parsed) return fail(parsed.error() + "\n\n" + kAuditUsage);
  if (parsed->help) {
    std::fputs(kAuditUsage, stdout);
    return 0;
  }
  const Config& config = parsed->config;
  if (auto valid = validate_mutation_config(config); !valid) return fail(valid.error());
  if (parsed->from_cluster) {
    ClusterAuditArgs cluster = parsed->cluster;
    // --config-map-namespace alone asks for the ConfigMap too.
    cluster.read_config_map = config.serve.watch_config_map || parsed->config_map_namespace_given;
    if (cluster.container_credentials_config.empty()) {
      cluster.container_credentials_config = config.serve.watch_container_credentials_config;
    }
    return run_cluster_audit(cluster, config);
  }

  identity::ServiceAccountRegistry registry;
  if (auto loaded = load_service_account_files(parsed->service_account_files,
                                               config.mutation.annotation_prefix, registry);
      !loaded) {
    return fail(loaded.error());
  }
  identity::IdentityResolver resolver(registry, config.identity);
  const decision::Config decision_config{config.mutation, config.static_credentials};

  bool unreadable = false;
  std::size_t scanned = 0, with_findings = 0, total_findings = 0;
  std::size_t non_aws_findings = 0, secret_only_findings = 0;
  json report = json::array();
  std::string text;
  simdjson::dom::parser parser;
  // First every input: the workloads, and the Secrets' facts (a Secret may
  // come after the workload that uses it). Documents are dropped file by
  // file; no Secret value outlives SecretIndex::add.
  struct Input {
    std::string file;
    manifest::WorkloadPod workload;
  };
  std::vector<Input> workloads;
  SecretIndex secrets;
  BackupLocations backup_locations;
  for (const auto& input : parsed->inputs) {
    auto files = expand_input(input);
    if (!files) {
      std::fprintf(stderr, "irsa-webhook audit: %s\n", files.error().c_str());
      unreadable = true;
      continue;
    }
    for (const auto& file : *files) {
      auto documents = manifest::read_documents(file);
      if (!documents) {
        std::fprintf(stderr, "irsa-webhook audit: %s\n", documents.error().c_str());
        unreadable = true;
        continue;
      }
      for (const auto& document : *documents) {
        if (secrets.add(document) || backup_locations.add(document)) continue;
        auto workload = manifest::workload_pod(document);
        if (workload) workloads.push_back({file, std::move(*workload)});
      }
    }
  }

  for (auto& [file, workload_value] : workloads) {
    auto* workload = &workload_value;
    std::string pod_text = workload->pod.dump();
    simdjson::dom::element element;
    if (parser.parse(pod_text).get(element) != simdjson::SUCCESS) continue;
    auto pod = mutation::read_pod(element);
    std::string label = workload->kind + " " + workload->namespace_name + "/" + workload->name;
    if (!pod) {
      std::fprintf(stderr, "irsa-webhook audit: %s: %s: %s\n", file.c_str(), label.c_str(),
                   pod.error().c_str());
      unreadable = true;
      continue;
    }
    ++scanned;
    auto lookup = resolver.resolve(workload->namespace_name, pod->service_account_name);
    // Without ServiceAccount files, every ServiceAccount is assumed to
    // get a role: audit then says what the webhook does once it has one.
    const bool assumed = !lookup.identity && parsed->service_account_files.empty();
    if (assumed) {
      lookup.identity.emplace();
      lookup.identity->role_arn = "arn:aws:iam::000000000000:role/assumed";
      lookup.identity->audience = config.identity.audience;
    }
    // The webhook's own decision: the verdict, the findings, which are
    // kept, and what it would warn of (as notes).
    const auto decision =
        decision::decide(*pod, lookup, decision_config, 0.0, decision::Scope::kAudit);
    for (const auto& problem : decision.problems) {
      std::fprintf(stderr, "irsa-webhook audit: note: %s (%s): %s\n", label.c_str(), file.c_str(),
                   one_line(problem).c_str());
    }
    // The webhook's findings, then what only Secrets among the inputs show.
    auto findings = decision.findings;
    // Keys whose endpoint only a Velero BackupStorageLocation names.
    const bool outside_pod = mark_backup_location_keys(workload->pod, workload->namespace_name,
                                                       backup_locations, findings) > 0;
    auto through_secrets =
        secret_findings(workload->pod, workload->namespace_name, secrets, findings);
    findings.insert(findings.end(), through_secrets.begin(), through_secrets.end());
    if (findings.empty()) continue;
    ++with_findings;
    total_findings += findings.size();
    non_aws_findings += std::count_if(findings.begin(), findings.end(), [](const auto& f) {
      return is_endpoint_handling(f.handling);
    });
    secret_only_findings += through_secrets.size();
    const auto& kept = decision.kept;
    std::string action(decision::action_name(decision.action));
    std::string why = why_for(decision, lookup, assumed);
    if (decision.findings.empty()) {
      action = "none";
      why = "found only in Secrets among the inputs; the webhook never reads Secrets";
    }
    if (outside_pod) {
      why +=
          "; a BackupStorageLocation among the inputs sends some of these keys to a non-AWS "
          "endpoint the webhook cannot see";
    }
    std::string service_account =
        workload->namespace_name + "/" + std::string(pod->service_account_name);

    json entry = {{"file", file},
                  {"kind", workload->kind},
                  {"namespace", workload->namespace_name},
                  {"name", workload->name},
                  {"serviceAccount", service_account},
                  {"action", action},
                  {"why", why},
                  {"findings", json::array()}};
    text += label + " (" + file + ", ServiceAccount " + service_account + "): " + action + ", " +
            why + "\n";
    for (const auto& finding : findings) {
      credentials::Finding as_decided = finding;
      if (finding.handling == credentials::Handling::kNonAwsEndpointOutsidePod) {
        as_decided.handling = credentials::Handling::kRemovable;
        as_decided.endpoint.clear();
      }
      bool is_kept = std::find(kept.begin(), kept.end(), as_decided) != kept.end();
      json item = {{"kind", credentials::kind_name(finding.kind)},
                   {"name", finding.name},
                   {"reason", finding.reason},
                   {"handling", credentials::handling_name(finding.handling)}};
      if (!finding.endpoint.empty()) item["endpoint"] = finding.endpoint;
      if (!finding.container.empty()) {
        item["container"] = finding.container;
        item["initContainer"] = finding.init_container;
      }
      if (!finding.mount_path.empty()) item["mountPath"] = finding.mount_path;
      if (is_kept) item["kept"] = true;
      entry["findings"].push_back(std::move(item));
      if (finding.handling == credentials::Handling::kRemovable) {
        text += "  " + one_line(finding.describe()) +
                (is_kept ? " [kept: the container gets no AWS identity]" : "") + "\n";
      }
    }
    // Then what is set apart, each kind under its own line.
    for (const auto& line : aside_lines(findings)) text += "  " + line + "\n";
    report.push_back(std::move(entry));
  }

  if (parsed->output == "json") {
    json out = {{"workloads", report},
                {"summary",
                 {{"scanned", scanned},
                  {"withStaticCredentials", with_findings},
                  {"findings", total_findings},
                  {"nonAwsEndpointFindings", non_aws_findings},
                  {"secretContentFindings", secret_only_findings}}}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::fputs(text.c_str(), stdout);
    std::printf("%zu %s scanned, %zu with static AWS credentials (%zu %s", scanned,
                scanned == 1 ? "workload" : "workloads", with_findings, total_findings,
                total_findings == 1 ? "finding" : "findings");
    if (non_aws_findings > 0) std::printf(", %zu for non-AWS endpoints", non_aws_findings);
    if (secret_only_findings > 0) std::printf(", %zu only in Secrets", secret_only_findings);
    std::printf(")\n");
  }
  if (unreadable) return 2;
  return with_findings > 0 ? 1 : 0;
}

}  // namespace irsa::cli
