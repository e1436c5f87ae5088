// `audit --from-cluster`: every list is read page by page and each item is
// looked at once, as it arrives; what is kept is a summary per workload that
// has something to report, the owner of each ReplicaSet and Job (to name a
// Pod's workload), the names of the Secrets that hold AWS key names, and the
// ServiceAccounts (in the registry the webhook uses). Secret values are read
// off the wire by the API server's list and dropped at once: never kept,
// compared or printed.
#include "cli/audit_cluster.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "cli/audit_findings.h"
#include "common/quote.h"
#include "credentials/static_credentials.h"
#include "decision/decision.h"
#include "files/read.h"
#include "identity/container_credentials.h"
#include "identity/identity.h"
#include "identity/registry.h"
#include "identity/role_mapping.h"
#include "kube/api_client.h"
#include "kube/list_pager.h"
#include "kube/object_meta.h"
#include "kube/reflector.h"
#include "kube/rest_config.h"
#include "manifest/documents.h"
#include "manifest/workloads.h"
#include "mutation/containers.h"
#include "mutation/injected.h"
#include "mutation/pod_view.h"

namespace irsa::cli {
namespace {

using nlohmann::json;

// Pod names kept per workload as examples; the count is exact.
constexpr std::size_t kExamplePods = 5;
constexpr std::size_t kMaxNotes = 100;

constexpr char kSecretsRule[] =
    "- apiGroups: [\"\"]\n"
    "  resources: [\"secrets\"]\n"
    "  verbs: [\"list\"]\n";

int fail(const std::string& message) {
  std::fprintf(stderr, "irsa-webhook audit: %s\n", one_line(message).c_str());
  return 2;
}

// The API server's configuration, as serve resolves it: --kubeconfig (with
// --kube-api overriding its server), --kube-api alone, in-cluster.
Result<kube::RestConfig> api_config(const ServeConfig& serve) {
  if (!serve.kubeconfig.empty()) return kube::load_kubeconfig(serve.kubeconfig, serve.kube_api);
  if (!serve.kube_api.empty()) return kube::server_only_config(serve.kube_api);
  if (kube::in_cluster_available()) return kube::in_cluster_config();
  return Error{
      "--from-cluster: no API server: pass --kubeconfig or --kube-api, or run in a cluster "
      "(KUBERNETES_SERVICE_HOST)"};
}

// AWS key names a Secret may hold (its data keys; values are never read).
bool is_aws_key_name(std::string_view key) {
  std::string lower;
  for (char c : key) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "aws_access_key_id" || lower == "aws_secret_access_key" ||
         lower == "aws_session_token";
}

struct StaticReport {
  std::string action;
  std::string why;
  json findings = json::array();
  std::vector<std::string> lines;
  // Findings set apart (keys for a non-AWS endpoint, ...): aside_lines.
  std::vector<std::string> aside;
  std::size_t non_aws = 0;
};

struct WorkloadReport {
  std::string kind;
  std::string namespace_name;
  std::string name;
  std::string service_account;
  std::optional<StaticReport> static_credentials;
  // Secrets the template reads (envFrom, volumes) that hold AWS key names,
  // and whether some could not be checked.
  std::vector<std::pair<std::string, std::vector<std::string>>> secrets;
  std::vector<std::string> unknown_secrets;
  std::size_t missed = 0;
  std::map<std::string, std::size_t> reasons;
  json examples = json::array();
  std::vector<std::string> example_lines;
};

class ClusterAudit {
 public:
  ClusterAudit(const ClusterAuditArgs& args, const Config& config)
      : args_(args),
        config_(config),
        resolver_(registry_, config.identity),
        decoder_(config.mutation.annotation_prefix) {}

  int run();

 private:
  std::string scoped(const std::string& group_version, const std::string& resource) const {
    std::string base = group_version == "v1" ? "/api/v1" : "/apis/" + group_version;
    if (args_.namespace_name.empty()) return base + "/" + resource;
    return base + "/namespaces/" + kube::url_encode(args_.namespace_name) + "/" + resource;
  }
  kube::PagedListResult list(const std::string& path, bool with_selector,
                             const std::function<bool(std::string_view)>& on_item,
                             const std::function<void()>& on_restart,
                             std::string_view accept = kube::kAcceptJson);
  Status read_service_accounts();
  Status read_config_map();
  Status read_container_credentials();
  Status read_secrets();
  Status read_owners(const char* resource, const char* owner_kind,
                     std::unordered_map<std::string, std::string>& owners, const char* kind);
  Status read_workloads(const char* group_version, const char* resource, const char* kind);
  Status read_pods();

  // The static-credential check of one Pod template (or bare Pod).
  void check_template(const std::string& kind, const std::string& namespace_name,
                      const std::string& name, const mutation::PodView& pod);
  void check_template_json(const std::string& kind, const json& object);
  WorkloadReport& report_for(const std::string& kind, const std::string& namespace_name,
                             const std::string& name);
  std::string fix_for(const WorkloadReport& report) const;
  int print();
  // Notes are bounded: a cluster of unreadable objects gives a count, not
  // one line each.
  void note(std::string text) {
    if (notes_.size() < kMaxNotes) {
      notes_.push_back(std::move(text));
    } else {
      ++notes_dropped_;
    }
  }

  const ClusterAuditArgs& args_;
  const Config& config_;
  identity::ServiceAccountRegistry registry_;
  identity::IdentityResolver resolver_;
  kube::ObjectDecoder decoder_;
  std::shared_ptr<kube::ApiClient> client_;
  std::unique_ptr<kube::Connection> connection_;
  simdjson::dom::parser parser_;

  std::map<std::string, WorkloadReport> reports_;  // "ns\x01kind\x01name"
  std::map<std::string, std::vector<std::string>> service_account_problems_;
  std::unordered_map<std::string, std::string> replica_set_owner_;         // ns/rs -> Deployment
  std::unordered_map<std::string, std::string> job_owner_;                 // ns/job -> CronJob
  std::unordered_map<std::string, std::vector<std::string>> aws_secrets_;  // ns/name -> keys
  std::unordered_set<std::string> other_owners_checked_;
  std::optional<std::string> secrets_unknown_;  // why Secrets could not be read
  std::vector<std::string> notes_;
  std::size_t notes_dropped_ = 0;
  std::size_t pods_ = 0;
  std::size_t templates_ = 0;
  int restarts_ = 0;
};

kube::PagedListResult ClusterAudit::list(const std::string& path, bool with_selector,
                                         const std::function<bool(std::string_view)>& on_item,
                                         const std::function<void()>& on_restart,
                                         std::string_view accept) {
  kube::PagedListOptions options;
  options.collection_path = path;
  if (with_selector) options.label_selector = args_.selector;
  options.accept = std::string(accept);
  options.page_size = args_.page_size;
  auto result = kube::list_all(*connection_, options, on_item, on_restart);
  restarts_ += result.restarts;
  return result;
}

Status ClusterAudit::read_service_accounts() {
  const std::string& prefix = config_.mutation.annotation_prefix;
  auto on_item = [&](std::string_view item) {
    auto meta = decoder_.decode_object(item);
    if (!meta || meta->name.empty()) return true;
    auto settings = identity::parse_service_account_annotations(meta->annotations, prefix);
    if (!settings.problems.empty()) {
      service_account_problems_[meta->namespace_name + "/" + meta->name] = settings.problems;
    }
    registry_.upsert(meta->namespace_name, meta->name, settings);
    return true;
  };
  auto on_restart = [&] { service_account_problems_.clear(); };
  const std::string path = scoped("v1", "serviceaccounts");
  auto result = list(path, false, on_item, on_restart, kube::kAcceptPartialMetadataList);
  if (!result.ok && (result.status == 406 || result.status == 415)) {
    result = list(path, false, on_item, on_restart, kube::kAcceptJson);
  }
  if (!result.ok) return Error{"cannot list ServiceAccounts: " + result.error};
  return Ok{};
}

Status ClusterAudit::read_config_map() {
  const std::string path = "/api/v1/namespaces/" + kube::url_encode(args_.config_map_namespace) +
                           "/configmaps/pod-identity-webhook";
  auto response = connection_->get(path, kube::kAcceptJson);
  if (!response)
    return Error{"cannot read the pod-identity-webhook ConfigMap: " + response.error()};
  if (response->status == 404) {
    note("no ConfigMap pod-identity-webhook in namespace " +
         name_or_quote(args_.config_map_namespace) + ": no role mapping");
    return Ok{};
  }
  if (response->status != 200) {
    return Error{"cannot read the pod-identity-webhook ConfigMap: HTTP " +
                 std::to_string(response->status) + ": " + kube::status_message(response->body)};
  }
  std::string text;
  try {
    auto object = json::parse(response->body);
    if (auto data = object.find("data"); data != object.end() && data->is_object()) {
      if (auto value = data->find("config"); value != data->end() && value->is_string()) {
        text = value->get<std::string>();
      }
    }
  } catch (const json::exception&) {
    return Error{"the pod-identity-webhook ConfigMap is not valid JSON"};
  }
  auto parsed = identity::parse_role_mapping(text);
  if (!parsed) return Error{"the pod-identity-webhook ConfigMap's config: " + parsed.error()};
  for (const auto& problem : parsed->problems) {
    note("ConfigMap pod-identity-webhook: " + problem);
  }
  resolver_.set_role_mapping(
      std::make_shared<const identity::RoleMapping>(std::move(parsed->mapping)));
  return Ok{};
}

Status ClusterAudit::read_container_credentials() {
  const std::string& path = args_.container_credentials_config;
  auto text = files::read_file(path);
  if (!text) return Error{text.error()};
  auto parsed = identity::parse_container_credentials_config(*text);
  if (!parsed) return Error{path + ": " + parsed.error()};
  resolver_.set_container_credentials(
      std::make_shared<const identity::ContainerCredentialsConfig>(std::move(*parsed)));
  return Ok{};
}

Status ClusterAudit::read_secrets() {
  auto on_item = [&](std::string_view item) {
    simdjson::dom::element root;
    if (parser_.parse(item.data(), item.size()).get(root) != simdjson::SUCCESS) return true;
    std::string_view namespace_name, name;
    if (root["metadata"]["namespace"].get(namespace_name) != simdjson::SUCCESS ||
        root["metadata"]["name"].get(name) != simdjson::SUCCESS) {
      return true;
    }
    std::vector<std::string> keys;
    // Only the keys: the values stay in the parser's buffer until the next item.
    simdjson::dom::object data;
    if (root["data"].get(data) == simdjson::SUCCESS) {
      for (auto field : data) {
        if (is_aws_key_name(field.key)) keys.emplace_back(field.key);
      }
    }
    if (!keys.empty()) {
      std::sort(keys.begin(), keys.end());
      aws_secrets_[std::string(namespace_name) + "/" + std::string(name)] = std::move(keys);
    }
    return true;
  };
  auto result = list(scoped("v1", "secrets"), false, on_item, [&] { aws_secrets_.clear(); });
  if (result.ok) return Ok{};
  if (result.status == 403 || result.status == 401) {
    secrets_unknown_ = result.error;
    aws_secrets_.clear();
    return Ok{};
  }
  return Error{"cannot list Secrets: " + result.error};
}

Status ClusterAudit::read_owners(const char* resource, const char* owner_kind,
                                 std::unordered_map<std::string, std::string>& owners,
                                 const char* kind) {
  const std::string group_version = std::string(resource) == "jobs" ? "batch/v1" : "apps/v1";
  auto on_item = [&](std::string_view item) {
    json object = json::parse(item, nullptr, false);
    if (!object.is_object()) return true;
    const json& metadata = object.value("metadata", json::object());
    std::string namespace_name = metadata.value("namespace", "");
    std::string name = metadata.value("name", "");
    std::string owner;
    if (auto refs = metadata.find("ownerReferences"); refs != metadata.end() && refs->is_array()) {
      for (const auto& ref : *refs) {
        if (!ref.is_object() || !ref.value("controller", false)) continue;
        owner = ref.value("kind", "") + "/" + ref.value("name", "");
        if (ref.value("kind", "") == owner_kind)
          owners[namespace_name + "/" + name] = ref.value("name", "");
      }
    }
    // A ReplicaSet or Job of its own: its template is the workload.
    if (owner.empty()) {
      object["kind"] = kind;
      check_template_json(kind, object);
    }
    return true;
  };
  auto result = list(scoped(group_version, resource), true, on_item, [&] { owners.clear(); });
  if (!result.ok) return Error{"cannot list " + std::string(resource) + ": " + result.error};
  return Ok{};
}

Status ClusterAudit::read_workloads(const char* group_version, const char* resource,
                                    const char* kind) {
  auto on_item = [&](std::string_view item) {
    json object = json::parse(item, nullptr, false);
    if (!object.is_object()) return true;
    object["kind"] = kind;  // list items carry no kind
    check_template_json(kind, object);
    return true;
  };
  // A restart re-reads every template; reports are keyed, so they are
  // replaced, not doubled.
  auto result = list(scoped(group_version, resource), true, on_item, [] {});
  if (!result.ok) return Error{"cannot list " + std::string(resource) + ": " + result.error};
  return Ok{};
}

WorkloadReport& ClusterAudit::report_for(const std::string& kind, const std::string& namespace_name,
                                         const std::string& name) {
  auto& report = reports_[namespace_name + "\x01" + kind + "\x01" + name];
  if (report.kind.empty()) {
    report.kind = kind;
    report.namespace_name = namespace_name;
    report.name = name;
  }
  return report;
}

void ClusterAudit::check_template_json(const std::string& kind, const json& object) {
  auto workload = manifest::workload_pod(object);
  if (!workload) return;
  std::string text = workload->pod.dump();
  simdjson::dom::element element;
  if (parser_.parse(text).get(element) != simdjson::SUCCESS) return;
  auto pod = mutation::read_pod(element);
  if (!pod) {
    note(kind + " " + workload->namespace_name + "/" + workload->name +
         ": unreadable Pod template: " + pod.error());
    return;
  }
  check_template(kind, workload->namespace_name, workload->name, *pod);
}

void ClusterAudit::check_template(const std::string& kind, const std::string& namespace_name,
                                  const std::string& name, const mutation::PodView& pod) {
  ++templates_;
  auto lookup = resolver_.resolve(namespace_name, pod.service_account_name);
  // The webhook's own decision: the verdict, the findings and which are kept.
  const decision::Config decision_config{config_.mutation, config_.static_credentials};
  const auto decision =
      decision::decide(pod, lookup, decision_config, 0.0, decision::Scope::kAudit);
  const auto& findings = decision.findings;

  // Secrets the Pod reads whole (envFrom, volumes) that hold AWS key names.
  std::vector<std::pair<std::string, std::vector<std::string>>> secrets;
  std::vector<std::string> unknown;
  std::set<std::string> referenced;
  for (const auto* list : {&pod.init_containers, &pod.containers}) {
    for (const auto& container : *list) {
      for (const auto& from : container.env_from) {
        if (!from.secret_name.empty()) referenced.emplace(from.secret_name);
      }
    }
  }
  for (const auto& volume : pod.volumes) {
    for (auto secret : volume.secret_names) referenced.emplace(secret);
  }
  for (const auto& secret : referenced) {
    bool already = std::any_of(findings.begin(), findings.end(), [&](const auto& finding) {
      return finding.kind == credentials::FindingKind::kEnvFrom && finding.name == secret;
    });
    if (already) continue;
    if (secrets_unknown_) {
      unknown.push_back(secret);
      continue;
    }
    auto it = aws_secrets_.find(namespace_name + "/" + secret);
    if (it != aws_secrets_.end()) secrets.emplace_back(secret, it->second);
  }
  if (findings.empty() && secrets.empty() && unknown.empty()) return;

  WorkloadReport& report = report_for(kind, namespace_name, name);
  report.service_account = std::string(pod.service_account_name);
  report.secrets = std::move(secrets);
  report.unknown_secrets = std::move(unknown);
  if (findings.empty() && report.secrets.empty()) {
    report.static_credentials.reset();
    return;
  }
  StaticReport out;
  out.action = std::string(decision::action_name(decision.action));
  out.why = lookup.identity                ? "its ServiceAccount has an AWS identity"
            : lookup.service_account_known ? "its ServiceAccount has no IAM role"
                                           : "its ServiceAccount does not exist";
  if (!decision.action_detail.empty()) out.why += "; " + decision.action_detail;
  if (findings.empty()) {
    // Only Secrets read whole: the webhook never reads a Secret, so it acts
    // on them only when --static-credentials-secret-names names them.
    out.why +=
        "; the webhook does not read Secrets: name them in "
        "--static-credentials-secret-names for it to act";
  }
  const auto& kept = decision.kept;
  for (const auto& finding : findings) {
    const bool is_kept = std::find(kept.begin(), kept.end(), finding) != kept.end();
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
    out.findings.push_back(std::move(item));
    if (is_endpoint_handling(finding.handling)) ++out.non_aws;
    // Keys for another endpoint (and volumes strip keeps) go on their own
    // lines below, as file audit lists them.
    if (finding.handling != credentials::Handling::kRemovable) continue;
    out.lines.push_back(one_line(finding.describe()) +
                        (is_kept ? " [kept: the container gets no AWS identity]" : ""));
  }
  out.aside = aside_lines(findings);
  for (const auto& [secret, keys] : report.secrets) {
    std::string names;
    for (const auto& key : keys) names += (names.empty() ? "" : ", ") + name_or_quote(key);
    out.findings.push_back(json({{"kind", "secret"},
                                 {"name", secret},
                                 {"keys", keys},
                                 {"reason", "the Pod reads a Secret that holds AWS key names"}}));
    out.lines.push_back("Secret " + name_or_quote(secret) + " holds " + names +
                        " (read by the Pod whole: envFrom or a volume)");
  }
  report.static_credentials = std::move(out);
}

Status ClusterAudit::read_pods() {
  auto on_item = [&](std::string_view item) {
    simdjson::dom::element root;
    if (parser_.parse(item.data(), item.size()).get(root) != simdjson::SUCCESS) return true;
    std::string_view phase;
    if (root["status"]["phase"].get(phase) == simdjson::SUCCESS &&
        (phase == "Succeeded" || phase == "Failed")) {
      return true;  // not running: nothing to fix
    }
    simdjson::dom::element deleting;
    if (root["metadata"]["deletionTimestamp"].get(deleting) == simdjson::SUCCESS) return true;
    auto pod = mutation::read_pod(root);
    if (!pod) {
      std::string_view name;
      if (root["metadata"]["name"].get(name) != simdjson::SUCCESS) name = "(no name)";
      note("Pod " + quote(name, 253) + ": unreadable: " + pod.error());
      return true;
    }
    ++pods_;
    const std::string namespace_name(pod->namespace_name);
    const std::string pod_name(pod->name);
    // The workload: the controller owner, through ReplicaSets and Jobs.
    std::string kind = "Pod", name = pod_name;
    simdjson::dom::array refs;
    if (root["metadata"]["ownerReferences"].get(refs) == simdjson::SUCCESS) {
      for (auto ref : refs) {
        bool controller = false;
        if (ref["controller"].get(controller) != simdjson::SUCCESS || !controller) continue;
        std::string_view ref_kind, ref_name;
        if (ref["kind"].get(ref_kind) != simdjson::SUCCESS ||
            ref["name"].get(ref_name) != simdjson::SUCCESS) {
          continue;
        }
        kind = std::string(ref_kind);
        name = std::string(ref_name);
      }
    }
    const std::string owner_key = namespace_name + "/" + name;
    if (kind == "ReplicaSet") {
      if (auto it = replica_set_owner_.find(owner_key); it != replica_set_owner_.end()) {
        kind = "Deployment";
        name = it->second;
      }
    } else if (kind == "Job") {
      if (auto it = job_owner_.find(owner_key); it != job_owner_.end()) {
        kind = "CronJob";
        name = it->second;
      }
    }
    const bool listed_kind = kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
                             kind == "ReplicaSet" || kind == "Job" || kind == "CronJob";
    if (!listed_kind) {
      // A bare Pod, or one whose owner this does not list (a static Pod's
      // Node, an operator's resource): the Pod itself stands for its template.
      if (other_owners_checked_.insert(namespace_name + "\x01" + kind + "\x01" + name).second) {
        check_template(kind, namespace_name, name, *pod);
      }
    }
    auto lookup = resolver_.resolve(namespace_name, pod->service_account_name);
    auto check = mutation::check_injection(*pod, lookup.identity, config_.mutation);
    if (!check.missed()) return true;
    WorkloadReport& report = report_for(kind, namespace_name, name);
    report.service_account = std::string(pod->service_account_name);
    ++report.missed;
    const std::string reason(mutation::injection_problem_name(check.problem));
    ++report.reasons[reason];
    if (report.examples.size() < kExamplePods) {
      json example = {{"pod", pod_name}, {"reason", reason}};
      std::string line = "Pod " + name_or_quote(pod_name, 253) + ": " + reason;
      if (!check.container.empty()) {
        example["container"] = check.container;
        line += " (container " + name_or_quote(check.container) + ")";
      }
      if (!check.carried_role.empty()) {
        example["carriedRole"] = check.carried_role;
        line += " (carries " + quote(check.carried_role, 200) + ")";
      }
      report.examples.push_back(std::move(example));
      report.example_lines.push_back(std::move(line));
    }
    return true;
  };
  auto on_restart = [&] {
    pods_ = 0;
    other_owners_checked_.clear();
    for (auto& [key, report] : reports_) {
      report.missed = 0;
      report.reasons.clear();
      report.examples = json::array();
      report.example_lines.clear();
    }
  };
  auto result = list(scoped("v1", "pods"), true, on_item, on_restart);
  if (!result.ok) return Error{"cannot list Pods: " + result.error};
  return Ok{};
}

std::string ClusterAudit::fix_for(const WorkloadReport& report) const {
  const std::string ns = " -n " + name_or_quote(report.namespace_name, 253);
  std::string kind = report.kind;
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (report.kind == "Deployment" || report.kind == "StatefulSet" || report.kind == "DaemonSet") {
    return "kubectl rollout restart " + kind + "/" + name_or_quote(report.name, 253) + ns;
  }
  std::string pods;
  for (const auto& example : report.examples) {
    pods += " " + name_or_quote(example["pod"].get<std::string>(), 253);
  }
  if (report.kind == "Pod") {
    return "kubectl delete pod" + pods + ns +
           " (a bare Pod is not recreated: apply its manifest again)";
  }
  if (report.kind == "CronJob") {
    return "the CronJob's next run gets the identity; for the running Job: kubectl delete pod" +
           pods + ns;
  }
  if (report.kind == "ReplicaSet" || report.kind == "Job") {
    return "kubectl delete pod" + pods + ns + " (the " + report.kind + " recreates them)";
  }
  return "restart the Pods of " + name_or_quote(report.kind) + " " +
         name_or_quote(report.name, 253) + " (kubectl delete pod" + pods + ns + ")";
}

int ClusterAudit::print() {
  std::size_t with_static = 0, findings = 0, missed_workloads = 0, missed_pods = 0;
  std::size_t non_aws = 0;
  json workloads = json::array();
  std::string text;
  for (const auto& [key, report] : reports_) {
    if (!report.static_credentials && report.missed == 0 && report.unknown_secrets.empty()) {
      continue;
    }
    const std::string label = report.kind + " " + name_or_quote(report.namespace_name, 253) + "/" +
                              name_or_quote(report.name, 253);
    json entry = {{"kind", report.kind},
                  {"namespace", report.namespace_name},
                  {"name", report.name},
                  {"serviceAccount", report.namespace_name + "/" + report.service_account}};
    text += label + " (ServiceAccount " + name_or_quote(report.service_account, 253) + ")\n";
    if (report.static_credentials) {
      const auto& credentials = *report.static_credentials;
      ++with_static;
      findings += credentials.findings.size();
      entry["staticCredentials"] = {{"action", credentials.action},
                                    {"why", credentials.why},
                                    {"findings", credentials.findings}};
      text += "  static AWS credentials: " + credentials.action + ", " + credentials.why + "\n";
      for (const auto& line : credentials.lines) text += "    " + line + "\n";
      for (const auto& line : credentials.aside) text += "    " + line + "\n";
      non_aws += credentials.non_aws;
    }
    if (!report.unknown_secrets.empty()) {
      entry["unknownSecrets"] = report.unknown_secrets;
      std::string names;
      for (const auto& name : report.unknown_secrets) {
        names += (names.empty() ? "" : ", ") + name_or_quote(name, 253);
      }
      text += "  Secrets read whole: unknown (Secrets cannot be listed): " + names + "\n";
    }
    if (report.missed > 0) {
      ++missed_workloads;
      missed_pods += report.missed;
      const std::string fix = fix_for(report);
      entry["missedIdentity"] = {{"pods", report.missed},
                                 {"reasons", report.reasons},
                                 {"examples", report.examples},
                                 {"fix", fix}};
      std::string reasons;
      for (const auto& [reason, count] : report.reasons) {
        reasons += (reasons.empty() ? "" : ", ") + reason + ": " + std::to_string(count);
      }
      text += "  " + std::to_string(report.missed) +
              (report.missed == 1 ? " Pod missed" : " Pods missed") + " its identity (" + reasons +
              ")\n";
      for (const auto& line : report.example_lines) text += "    " + line + "\n";
      if (report.missed > report.example_lines.size()) {
        text += "    ... and " + std::to_string(report.missed - report.example_lines.size()) +
                " more\n";
      }
      text += "  fix: " + fix + "\n";
    }
    workloads.push_back(std::move(entry));
  }
  json service_accounts = json::array();
  for (const auto& [key, problems] : service_account_problems_) {
    auto slash = key.find('/');
    service_accounts.push_back(json({{"namespace", key.substr(0, slash)},
                                     {"name", key.substr(slash + 1)},
                                     {"problems", problems}}));
    for (const auto& problem : problems) {
      text += "ServiceAccount " + name_or_quote(key, 253) + ": " + one_line(problem) + "\n";
    }
  }
  json unknown = json::array();
  if (secrets_unknown_) {
    json grant = {{"apiGroups", json::array({""})},
                  {"resources", json::array({"secrets"})},
                  {"verbs", json::array({"list"})}};
    unknown.push_back(
        json({{"resource", "secrets"}, {"error", *secrets_unknown_}, {"grant", std::move(grant)}}));
    text += "Secrets: unknown: " + one_line(*secrets_unknown_) +
            "\n  Which Secrets hold AWS keys is not known. To let audit read their key names "
            "(never their values), grant its ServiceAccount or user (see "
            "manifests/components/audit-reader):\n" +
            kSecretsRule;
  }
  const std::size_t problems = service_account_problems_.size();
  json summary = {{"pods", pods_},
                  {"templates", templates_},
                  {"withStaticCredentials", with_static},
                  {"findings", findings},
                  {"nonAwsEndpointFindings", non_aws},
                  {"missedPods", missed_pods},
                  {"workloadsWithMissedPods", missed_workloads},
                  {"serviceAccountsWithProblems", problems},
                  {"listRestarts", restarts_}};
  if (notes_dropped_ > 0) {
    notes_.push_back("... and " + std::to_string(notes_dropped_) + " more notes");
  }
  if (args_.json) {
    json out = {{"workloads", workloads},
                {"serviceAccounts", service_accounts},
                {"unknown", unknown},
                {"notes", notes_},
                {"summary", summary}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& note : notes_) {
      std::fprintf(stderr, "irsa-webhook audit: note: %s\n", one_line(note).c_str());
    }
    std::fputs(text.c_str(), stdout);
    const std::string non_aws_text =
        non_aws > 0 ? ", " + std::to_string(non_aws) + " for non-AWS endpoints" : "";
    std::printf(
        "%zu Pods read; %zu %s with static AWS credentials (%zu %s%s); %zu %s in %zu %s missed "
        "their identity; %zu %s with annotation problems\n",
        pods_, with_static, with_static == 1 ? "workload" : "workloads", findings,
        findings == 1 ? "finding" : "findings", non_aws_text.c_str(), missed_pods,
        missed_pods == 1 ? "Pod" : "Pods", missed_workloads,
        missed_workloads == 1 ? "workload" : "workloads", problems,
        problems == 1 ? "ServiceAccount" : "ServiceAccounts");
  }
  return with_static + missed_pods + problems > 0 ? 1 : 0;
}

int ClusterAudit::run() {
  auto rest = api_config(config_.serve);
  if (!rest) return fail(rest.error());
  auto client = kube::ApiClient::create(std::move(*rest));
  if (!client) return fail(client.error());
  client_ = *client;
  connection_ = client_->connect();
  if (!args_.container_credentials_config.empty()) {
    if (auto read = read_container_credentials(); !read) return fail(read.error());
  }
  const std::string server = " (" + client_->describe() + ")";
  for (auto step : {&ClusterAudit::read_service_accounts, &ClusterAudit::read_config_map,
                    &ClusterAudit::read_secrets}) {
    if (step == &ClusterAudit::read_config_map && !args_.read_config_map) continue;
    if (auto read = (this->*step)(); !read) return fail(read.error() + server);
  }
  if (auto read = read_owners("replicasets", "Deployment", replica_set_owner_, "ReplicaSet");
      !read) {
    return fail(read.error() + server);
  }
  if (auto read = read_owners("jobs", "CronJob", job_owner_, "Job"); !read) {
    return fail(read.error() + server);
  }
  for (auto [group_version, resource, kind] : {std::tuple{"apps/v1", "deployments", "Deployment"},
                                               std::tuple{"apps/v1", "statefulsets", "StatefulSet"},
                                               std::tuple{"apps/v1", "daemonsets", "DaemonSet"},
                                               std::tuple{"batch/v1", "cronjobs", "CronJob"}}) {
    if (auto read = read_workloads(group_version, resource, kind); !read) {
      return fail(read.error() + server);
    }
  }
  if (auto read = read_pods(); !read) return fail(read.error() + server);
  return print();
}

}  // namespace

int run_cluster_audit(const ClusterAuditArgs& args, const Config& config) {
  ClusterAudit audit(args, config);
  return audit.run();
}

}  // namespace irsa::cli
