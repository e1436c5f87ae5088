// Injection and static-credential handling combined into one answer.
#include "decision/decision.h"

#include <algorithm>
#include <cstddef>

#include "common/quote.h"
#include "common/utf8.h"
#include "identity/identity.h"
#include "mutation/containers.h"
#include "mutation/plan.h"

namespace irsa::decision {
namespace {

using credentials::Finding;
using credentials::ManagedMode;
using credentials::UnmanagedMode;

std::size_t warnings_bytes(const Decision& decision) {
  std::size_t total = 0;
  for (const auto& warning : decision.warnings) total += warning.size();
  return total;
}

// One line, and cut on a character boundary: a cut inside a UTF-8 sequence
// became U+FFFD on the wire and the warning outgrew the API server's limit
// (found by fuzz/).
std::string warning_text(std::string text) {
  text = one_line(text);
  if (text.size() > kMaxWarningLength) {
    text.resize(utf8_prefix_length(text, kMaxWarningLength - 3));
    text += "...";
  }
  return text;
}

void add_warnings(Decision& decision, std::string_view verb, const std::vector<Finding>& findings) {
  std::size_t total = warnings_bytes(decision);
  for (std::size_t i = 0; i < findings.size(); ++i) {
    std::string text = warning_text(std::string(verb) + " " + findings[i].describe());
    if (total + text.size() > kMaxWarningsBytes - 40) {
      decision.warnings.push_back("... and " + std::to_string(findings.size() - i) +
                                  " more static AWS credentials");
      return;
    }
    total += text.size();
    decision.warnings.push_back(std::move(text));
  }
}

// A problem: kept whole for the log, cut for the warning. Problems come
// first and are few; past half the warnings budget they are only logged.
void add_problem(Decision& decision, std::string text) {
  std::string warning = warning_text(text);
  if (warnings_bytes(decision) + warning.size() <= kMaxWarningsBytes / 2) {
    decision.warnings.push_back(std::move(warning));
    ++decision.problem_warnings;
  }
  decision.problems.push_back(std::move(text));
}

std::string keys_of(const std::vector<Finding>& findings) {
  std::string keys;
  for (const auto& finding : findings) {
    if (!keys.empty()) keys += ',';
    keys += finding.key();
  }
  return keys;
}

std::string listing(const std::vector<Finding>& findings) {
  std::string text;
  for (const auto& finding : findings) {
    if (finding.kind == credentials::FindingKind::kVolume) continue;  // implied by its mounts
    if (!text.empty()) text += "; ";
    text += finding.describe();
  }
  return text;
}

// Findings the webhook keeps whatever the mode, each with its warning's
// opening words and its audit annotation.
void add_kept_aside(Decision& decision, const std::vector<Finding>& aside) {
  for (auto handling :
       {credentials::Handling::kNonAwsEndpoint, credentials::Handling::kEndpointNotVerifiable,
        credentials::Handling::kReportOnly}) {
    std::vector<Finding> group;
    for (const auto& finding : aside) {
      if (finding.handling == handling) group.push_back(finding);
    }
    if (group.empty()) continue;
    // One warning per finding, the endpoint in each (containers may name
    // different ones); one add_warnings per run of the same words, and none
    // once the budget is spent, so at most one "... and N more" line.
    for (std::size_t i = 0; i < group.size();) {
      auto verb_of = [handling](const Finding& finding) {
        return handling == credentials::Handling::kNonAwsEndpoint
                   ? "kept (keys for a non-AWS endpoint, " + finding.endpoint + "):"
               : handling == credentials::Handling::kEndpointNotVerifiable
                   ? "kept (endpoint not verifiable, " + finding.endpoint + "):"
                   : std::string("not removed (volume kind strip keeps):");
      };
      std::string verb = verb_of(group[i]);
      std::vector<Finding> run;
      for (; i < group.size() && verb_of(group[i]) == verb; ++i) run.push_back(group[i]);
      bool spent = !decision.warnings.empty() && decision.warnings.back().starts_with("... and ");
      if (!spent) add_warnings(decision, verb, run);
    }
    auto& annotation = decision.audit_annotations[handling == credentials::Handling::kReportOnly
                                                      ? kAuditFoundKey
                                                      : kAuditNonAwsEndpointKey];
    if (!annotation.empty()) annotation += ',';
    annotation += keys_of(group);
  }
}

// The Pod as `findings`' removals leave it, for planning the injection after
// a strip: a removed volume or mount that carries the injected volume's name
// must be injected again, not taken as already there.
mutation::PodView without(const mutation::PodView& pod, std::vector<Finding> findings) {
  mutation::PodView view = pod;
  std::sort(findings.begin(), findings.end(),
            [](const Finding& a, const Finding& b) { return a.index > b.index; });
  for (const auto& finding : findings) {
    if (finding.kind == credentials::FindingKind::kVolume) {
      if (finding.index < view.volumes.size()) {
        view.volumes.erase(view.volumes.begin() + static_cast<std::ptrdiff_t>(finding.index));
      }
      continue;
    }
    auto& list = finding.init_container ? view.init_containers : view.containers;
    if (finding.container_index >= list.size()) continue;
    auto& container = list[finding.container_index];
    auto erase = [&finding](auto& items) {
      if (finding.index < items.size()) {
        items.erase(items.begin() + static_cast<std::ptrdiff_t>(finding.index));
      }
    };
    if (finding.kind == credentials::FindingKind::kEnv) erase(container.env);
    if (finding.kind == credentials::FindingKind::kEnvFrom) erase(container.env_from);
    if (finding.kind == credentials::FindingKind::kVolumeMount) erase(container.volume_mounts);
  }
  return view;
}

// Splits `findings` into those in containers that receive the identity
// (`managed`) and those in containers that do not (`kept`); a volume goes
// with its mounts, kept when any of them is.
void split_findings(const std::vector<Finding>& findings,
                    const mutation::ContainerSelection& selection, std::vector<Finding>& managed,
                    std::vector<Finding>& kept) {
  auto excluded = [&selection](const Finding& finding) {
    return !selection.receives(finding.init_container, finding.container_index);
  };
  for (const auto& finding : findings) {
    if (finding.kind != credentials::FindingKind::kVolume) {
      (excluded(finding) ? kept : managed).push_back(finding);
      continue;
    }
    bool mounted_by_excluded = std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
      return f.kind == credentials::FindingKind::kVolumeMount && f.name == finding.name &&
             excluded(f);
    });
    (mounted_by_excluded ? kept : managed).push_back(finding);
  }
}

}  // namespace

std::string_view action_name(Action action) {
  switch (action) {
    case Action::kNone:
      return "none";
    case Action::kIgnore:
      return "ignore";
    case Action::kAllow:
      return "allow";
    case Action::kWarn:
      return "warn";
    case Action::kStrip:
      return "strip";
    case Action::kDeny:
      return "deny";
  }
  return "none";
}

std::string decision_namespace(std::string_view given, const mutation::PodView& pod,
                               std::string_view fallback) {
  if (!given.empty()) return std::string(given);
  if (!pod.namespace_name.empty()) return std::string(pod.namespace_name);
  return std::string(fallback);
}

Decision decide(const mutation::PodView& pod, const identity::IdentityResolver::Lookup& lookup,
                const Config& config, double jitter, Scope scope) {
  const std::optional<identity::Identity>& identity = lookup.identity;
  const mutation::Options& options = config.mutation;
  const credentials::Policy& policy = config.static_credentials;
  if (!(jitter >= 0.0 && jitter < 1.0)) jitter = 0.0;  // NaN too

  Decision decision;
  const std::string prefix = options.annotation_prefix + "/";
  for (const auto& problem : lookup.problems) {
    add_problem(decision,
                "ServiceAccount " + name_or_quote(pod.service_account_name, 40) + ": " + problem);
  }
  for (auto field : pod.annotations) {
    if (auto problem = identity::annotation_key_problem(field.key, options.annotation_prefix,
                                                        identity::AnnotationTarget::kPod)) {
      add_problem(decision, "Pod " + *problem);
    }
  }
  bool look = scope == Scope::kAudit || (identity ? policy.managed != ManagedMode::kOff
                                                  : policy.unmanaged != UnmanagedMode::kAllow);
  if (look) decision.findings = credentials::find_static_credentials(pod, policy.detect);
  // Only removable findings are stripped or denied for; the others (keys for
  // a non-AWS or unverifiable endpoint, volumes at .aws that strip keeps) are
  // set aside: kept, and reported whenever the policy looks.
  std::vector<Finding> all_findings, aside;
  for (const auto& finding : decision.findings) {
    (finding.handling == credentials::Handling::kRemovable ? all_findings : aside)
        .push_back(finding);
  }
  const std::string aside_detail =
      "the webhook keeps them (a non-AWS endpoint, or a volume strip keeps)";

  if (!identity) {
    if (decision.findings.empty()) return decision;
    switch (policy.unmanaged) {
      case UnmanagedMode::kAllow:
        decision.action = Action::kAllow;  // audit scope only: the webhook does not look
        return decision;
      case UnmanagedMode::kDeny:
        if (all_findings.empty()) break;
        decision.action = Action::kDeny;
        decision.allowed = false;
        decision.denial =
            "the Pod carries static AWS credentials and its ServiceAccount has no IAM role: " +
            listing(all_findings) + ". Give the ServiceAccount an " + prefix +
            "role-arn annotation and remove the keys from the Pod spec";
        add_kept_aside(decision, aside);
        return decision;
      case UnmanagedMode::kWarn:
        break;
    }
    decision.action = Action::kWarn;
    if (!all_findings.empty()) {
      add_warnings(decision, "static AWS credentials:", all_findings);
      decision.audit_annotations[kAuditFoundKey] = keys_of(all_findings);
    } else {
      decision.action_detail = aside_detail;
    }
    add_kept_aside(decision, aside);
    return decision;
  }

  // Keys in containers that do not receive the identity stay: stripping them
  // would leave those containers with no credentials at all.
  std::vector<Finding> findings;
  if (!all_findings.empty()) {
    split_findings(all_findings, mutation::select_containers(pod, options.annotation_prefix),
                   findings, decision.kept);
  }
  const auto& kept = decision.kept;

  ManagedMode mode = policy.managed;
  const bool report = mode != ManagedMode::kOff;
  if (!report) {
    // Audit scope only (the webhook does not look): found, and left alone.
    if (!decision.findings.empty()) {
      decision.action = Action::kIgnore;
      decision.action_detail = "--static-credentials=off";
    }
    findings.clear();
    aside.clear();
  }
  if (!findings.empty() && policy.allow_opt_out &&
      pod.annotation(prefix + "keep-static-credentials") == "true" &&
      (mode == ManagedMode::kStrip || mode == ManagedMode::kDeny)) {
    decision.opted_out = true;
    decision.action_detail = "the Pod opts out with " + prefix + "keep-static-credentials";
    decision.notes.push_back("static credentials kept: " + decision.action_detail);
    mode = ManagedMode::kWarn;
  }
  if (!findings.empty() && mode == ManagedMode::kDeny) {
    decision.action = Action::kDeny;
    decision.allowed = false;
    decision.denial =
        "the Pod carries static AWS credentials that its ServiceAccount's IAM role replaces: " +
        listing(findings) +
        ". Remove them from the Pod spec; the role's credentials are injected automatically";
    add_kept_aside(decision, aside);
    return decision;
  }

  const bool strip = !findings.empty() && mode == ManagedMode::kStrip;
  std::optional<mutation::PodView> stripped_pod;
  if (strip) stripped_pod = without(pod, findings);
  const mutation::PodView& planned = stripped_pod ? *stripped_pod : pod;
  mutation::Plan plan = mutation::plan_mutation(planned, *identity, options, jitter);
  for (auto& note : plan.notes) decision.notes.push_back(std::move(note));
  for (auto& warning : plan.warnings) add_problem(decision, std::move(warning));
  if (strip) {
    decision.action = Action::kStrip;
    decision.patch = credentials::plan_removal(findings, options.max_patch_bytes);
    decision.stripped = true;
    decision.removed = findings.size();
    add_warnings(decision, "removed", findings);
    decision.audit_annotations[kAuditRemovedKey] = keys_of(findings);
  } else if (!findings.empty() && mode == ManagedMode::kWarn) {
    decision.action = Action::kWarn;
    add_warnings(decision, "static AWS credentials:", findings);
    decision.audit_annotations[kAuditFoundKey] = keys_of(findings);
  }
  if (report && !kept.empty()) {
    if (decision.action == Action::kNone) {
      decision.action = Action::kWarn;
      decision.action_detail = "every one is in a container that gets no AWS identity";
    }
    add_warnings(decision, "kept (container gets no AWS identity):", kept);
    decision.notes.push_back(
        "static credentials kept in containers that do not receive the "
        "identity: " +
        keys_of(kept));
    auto& found = decision.audit_annotations[kAuditFoundKey];
    if (!found.empty()) found += ',';
    found += keys_of(kept);
  }
  if (!aside.empty()) {
    if (decision.action == Action::kNone) {
      decision.action = Action::kWarn;
      decision.action_detail = aside_detail;
    }
    add_kept_aside(decision, aside);
  }
  decision.patch.append(std::move(plan.patch));
  return decision;
}

}  // namespace irsa::decision
