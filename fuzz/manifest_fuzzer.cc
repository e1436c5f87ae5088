// Manifest loading as `mutate`, `audit` and --service-accounts-file read it:
// JSON or YAML, several documents, Lists; ServiceAccounts out of them; the
// Pod inside each workload, read like a review's Pod, its static credentials
// and the webhook's decision; and the YAML that `mutate --output yaml` writes.
//
// Properties: parsing never crashes or hangs and fails with a one-line
// error; no document is null and every one serialises (valid UTF-8); a workload's Pod serialises to
// JSON that the request path's parser reads; a decision's patch applies to that Pod; to_yaml() of a
// document reads back as the same document.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "credentials/static_credentials.h"
#include "decision/decision.h"
#include "fuzz_support.h"
#include "identity/service_accounts_file.h"
#include "manifest/documents.h"
#include "manifest/workloads.h"
#include "manifest/yaml_emit.h"
#include "mutation/pod_view.h"

namespace {

using irsa::fuzz::excerpt;
using nlohmann::json;

bool is_list_kind(const json& document) {
  if (!document.is_object()) return false;
  auto kind = document.find("kind");
  if (kind == document.end() || !kind->is_string()) return false;
  const auto& name = kind->get_ref<const std::string&>();
  return name.size() >= 4 && name.compare(name.size() - 4, 4, "List") == 0;
}

// YAML's .inf and .nan (and floats beyond double's range) are read as
// non-finite numbers, which JSON cannot hold: to_yaml writes them as null.
bool has_non_finite(const json& value) {
  if (value.is_number_float()) return !std::isfinite(value.get<double>());
  if (!value.is_structured()) return false;
  for (const auto& item : value) {
    if (has_non_finite(item)) return true;
  }
  return false;
}

void check_yaml_round_trip(const json& document) {
  if (is_list_kind(document)) return;  // read back as its items, by design
  // A JSON array is read as its elements, each a document (by design), so
  // an array document (from "[[]]") cannot come back as one.
  if (document.is_array()) return;
  if (has_non_finite(document)) return;
  // yaml-cpp reads U+FFFE and U+FFFF in quoted scalars back as U+FFFD.
  const std::string text = document.dump();
  if (text.find("\xef\xbf\xbe") != std::string::npos ||
      text.find("\xef\xbf\xbf") != std::string::npos) {
    return;
  }
  std::string yaml = irsa::manifest::to_yaml(document);
  // Aliases can make a 300-byte input a document of 60,000 values, whose
  // YAML yaml-cpp takes seconds to read back under ASan: the emitter is
  // checked on the documents of ordinary size, the expansion elsewhere.
  if (yaml.size() > 64 * 1024) return;
  auto again = irsa::manifest::parse_documents(yaml, "to_yaml");
  FUZZ_CHECK(again.ok(), again.error() + "\nyaml:\n" + excerpt(yaml, 2000));
  FUZZ_CHECK(again->size() == 1 && (*again)[0] == document,
             "to_yaml does not read back:\n" + excerpt(document.dump(), 2000) + "\nyaml:\n" +
                 excerpt(yaml, 2000) + "\nread back: " +
                 (again->empty() ? std::string("nothing") : excerpt((*again)[0].dump(), 2000)));
}

void check_workload(const json& document, simdjson::dom::parser& parser) {
  auto workload = irsa::manifest::workload_pod(document);
  if (!workload) return;
  FUZZ_CHECK(workload->pod.is_object() && workload->pod.contains("spec"), workload->pod.dump());
  std::string text = workload->pod.dump();
  simdjson::dom::element element;
  auto error = parser.parse(text).get(element);
  FUZZ_CHECK(error == simdjson::SUCCESS,
             std::string(simdjson::error_message(error)) + ": " + excerpt(text));
  auto pod = irsa::mutation::read_pod(element);
  if (!pod) {
    FUZZ_CHECK(irsa::fuzz::one_line(pod.error()), pod.error());
    return;
  }
  irsa::credentials::DetectOptions detect;
  detect.secret_name_patterns = {"aws-*"};
  auto findings = irsa::credentials::find_static_credentials(*pod, detect);
  for (const auto& finding : findings) {
    FUZZ_CHECK(!finding.key().empty(), finding.describe());
  }

  irsa::identity::IdentityResolver::Lookup lookup;
  lookup.identity.emplace();
  lookup.identity->role_arn = "arn:aws:iam::111122223333:role/audit";
  irsa::decision::Config config;
  config.mutation.region = "eu-west-1";
  config.static_credentials.detect = detect;  // strip, as `mutate` by default
  auto decision = irsa::decision::decide(*pod, lookup, config, 0.25, irsa::decision::Scope::kAudit);
  FUZZ_CHECK(decision.allowed, decision.denial);
  if (decision.patch.empty()) return;
  try {
    json mutated = workload->pod.patch(decision.patch.to_json());
    FUZZ_CHECK(mutated.is_object(), mutated.dump());
  } catch (const json::exception& e) {
    irsa::fuzz::fail(__FILE__, __LINE__, "patch applies",
                     std::string(e.what()) + "\npatch: " + decision.patch.text() +
                         "\npod: " + excerpt(text, 4000));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static simdjson::dom::parser* parser = new simdjson::dom::parser;
  auto documents = irsa::manifest::parse_documents(irsa::fuzz::as_text(data, size), "input");
  if (!documents) {
    FUZZ_CHECK(!documents.error().empty() && irsa::fuzz::one_line(documents.error()),
               documents.error());
    return 0;
  }
  for (const auto& document : *documents) {
    FUZZ_CHECK(!document.is_null(), "a null document");
    // mutate and audit serialise what they read: every string must be UTF-8.
    try {
      (void)document.dump();
    } catch (const json::exception& e) {
      irsa::fuzz::fail(__FILE__, __LINE__, "document serialises", e.what());
    }
  }

  auto accounts =
      irsa::identity::service_accounts_from_documents(*documents, "eks.amazonaws.com", "input");
  if (!accounts) {
    FUZZ_CHECK(irsa::fuzz::one_line(accounts.error()), accounts.error());
  } else {
    for (const auto& record : *accounts) FUZZ_CHECK(!record.name.empty(), "unnamed account");
  }

  for (const auto& document : *documents) {
    check_workload(document, *parser);
    check_yaml_round_trip(document);
  }
  return 0;
}
