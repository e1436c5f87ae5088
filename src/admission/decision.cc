// Injection and static-credential handling combined into one answer.
#include "admission/decision.h"

#include "mutation/plan.h"

namespace irsa::admission {
namespace {

using credentials::Finding;
using credentials::ManagedMode;
using credentials::UnmanagedMode;

void add_warnings(Decision& decision, std::string_view verb, const std::vector<Finding>& findings) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < findings.size(); ++i) {
    std::string text = std::string(verb) + " " + findings[i].describe();
    if (text.size() > kMaxWarningLength) text = text.substr(0, kMaxWarningLength - 3) + "...";
    if (total + text.size() > kMaxWarningsBytes - 40) {
      decision.warnings.push_back("... and " + std::to_string(findings.size() - i) +
                                  " more static AWS credentials");
      return;
    }
    total += text.size();
    decision.warnings.push_back(std::move(text));
  }
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

}  // namespace

Decision decide(const mutation::PodView& pod, const std::optional<identity::Identity>& identity,
                const mutation::Options& options, const credentials::Policy& policy,
                double jitter) {
  Decision decision;
  const std::string prefix = options.annotation_prefix + "/";
  bool look =
      identity ? policy.managed != ManagedMode::kOff : policy.unmanaged != UnmanagedMode::kAllow;
  if (look) decision.findings = credentials::find_static_credentials(pod, policy.detect);
  const auto& findings = decision.findings;

  if (!identity) {
    if (findings.empty()) return decision;
    if (policy.unmanaged == UnmanagedMode::kDeny) {
      decision.allowed = false;
      decision.denial =
          "the Pod carries static AWS credentials and its ServiceAccount has no IAM role: " +
          listing(findings) + ". Give the ServiceAccount an " + prefix +
          "role-arn annotation and remove the keys from the Pod spec";
      return decision;
    }
    add_warnings(decision, "static AWS credentials:", findings);
    decision.audit_annotations[kAuditFoundKey] = keys_of(findings);
    return decision;
  }

  ManagedMode mode = policy.managed;
  if (!findings.empty() && policy.allow_opt_out &&
      pod.annotation(prefix + "keep-static-credentials") == "true" &&
      (mode == ManagedMode::kStrip || mode == ManagedMode::kDeny)) {
    decision.opted_out = true;
    decision.notes.push_back("static credentials kept: the Pod opts out with " + prefix +
                             "keep-static-credentials");
    mode = ManagedMode::kWarn;
  }
  if (!findings.empty() && mode == ManagedMode::kDeny) {
    decision.allowed = false;
    decision.denial =
        "the Pod carries static AWS credentials that its ServiceAccount's IAM role replaces: " +
        listing(findings) +
        ". Remove them from the Pod spec; the role's credentials are injected automatically";
    return decision;
  }

  mutation::Plan plan = mutation::plan_mutation(pod, *identity, options, jitter);
  decision.notes = std::move(plan.notes);
  if (!findings.empty() && mode == ManagedMode::kStrip) {
    decision.patch = credentials::plan_removal(findings);
    decision.stripped = true;
    add_warnings(decision, "removed", findings);
    decision.audit_annotations[kAuditRemovedKey] = keys_of(findings);
  } else if (!findings.empty() && mode == ManagedMode::kWarn) {
    add_warnings(decision, "static AWS credentials:", findings);
    decision.audit_annotations[kAuditFoundKey] = keys_of(findings);
  }
  for (auto& op : plan.patch) decision.patch.push_back(std::move(op));
  return decision;
}

}  // namespace irsa::admission
