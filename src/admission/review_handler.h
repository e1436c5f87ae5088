// One AdmissionReview in, one answer out: decode, resolve the Pod's identity,
// plan the mutation, encode. Knows nothing of sockets or TLS.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <vector>

#include "credentials/static_credentials.h"
#include "decision/decision.h"
#include "identity/registry.h"
#include "mutation/options.h"

namespace irsa::admission {

enum class Outcome {
  kMutated,     // allowed with a patch
  kUnchanged,   // allowed without a patch
  kDenied,      // allowed: false (the review's Pod cannot be interpreted)
  kBadRequest,  // HTTP 400: the body is not an AdmissionReview
};

// "mutated", "unchanged", "denied", "bad_request".
std::string_view outcome_name(Outcome outcome);

// Why a review was refused before its Pod was acted on (also counted in
// the outcome: kDenied or kBadRequest).
enum class Refusal {
  kNone,
  kDuplicateKey,      // an object in the review holds a key twice
  kResponseTooLarge,  // the answer would pass max_response_bytes
};

// "none", "duplicate_key", "response_too_large".
std::string_view refusal_name(Refusal refusal);

// The default reply budget: 4 MiB. etcd stores objects up to 1.5 MiB by
// default (--max-request-bytes), and what a patch adds ends up in the stored
// Pod, so no Pod that can be stored needs a patch of even 2 MiB (2.7 MiB in
// base64); a few KiB is usual.
inline constexpr std::size_t kDefaultMaxResponseBytes = 4 * 1024 * 1024;

struct ReviewLimits {
  // The largest AdmissionReview answer, in bytes. A review whose answer would
  // be larger is refused (allowed: false, code 413); its JSON Patch is never
  // built past the budget. 0: no limit.
  std::size_t max_response_bytes = kDefaultMaxResponseBytes;
  // How many reviews with a large body (over 256 KiB; a usual one is a few
  // KiB) are decoded at once; the others wait their turn (try_handle: nullopt).
  // The parsed document and the Pod's view take about 15 times the body, so
  // this bounds what large reviews take together: about 2 x 15 x
  // --max-request-bytes. 0: no limit.
  std::size_t max_concurrent_large_reviews = 2;
};

struct HandleResult {
  int http_status = 200;
  // The AdmissionReview response when http_status is 200 (application/json),
  // otherwise a one-line reason (text/plain).
  std::string body;
  Outcome outcome = Outcome::kBadRequest;
  // For logs and metrics; empty when unknown. Never secret values.
  std::string uid;
  std::string pod_name;  // metadata.name, or metadata.generateName when unnamed
  std::string namespace_name;
  std::string service_account;
  std::string reason;  // why unchanged or denied, one line
  std::string notes;   // the mutation plan's notes, "; "-separated
  // Static credentials found (keys such as "app/env/AWS_SECRET_ACCESS_KEY",
  // never values) and how many of them were removed (kept ones are not).
  std::vector<std::string> static_credentials;
  std::size_t static_credentials_removed = 0;
  // The kind of identity injected, when the outcome is kMutated because of
  // one (for metrics).
  std::optional<identity::Mode> mode;
  Refusal refusal = Refusal::kNone;  // for metrics
  // For AWS's webhook's metrics: the identity the Pod's ServiceAccount
  // resolved to, whatever the outcome (pod_identity_webhook_pod_count), and
  // whether the ServiceAccount was in neither the cache nor the ConfigMap
  // mapping when first looked up (pod_identity_webhook_missing_sa_count).
  std::optional<identity::Mode> resolved_mode;
  bool service_account_missing = false;
};

// What happens when a Pod's ServiceAccount is not in the registry. The API
// server's ServiceAccount admission plugin has already checked that it
// exists, so a miss is only the watch lagging behind.
struct UnknownServiceAccounts {
  // Waits (bounded by the lookup grace period) for the watch to bring the
  // ServiceAccount, or reads it from the API server directly; returns its
  // settings, or nullopt when it is still unknown. Unset: no wait. Must be
  // safe to call from many threads at once.
  std::function<std::optional<identity::ServiceAccountSettings>(std::string_view namespace_name,
                                                                std::string_view name)>
      lookup;
  // --unknown-service-account=deny: answer allowed: false (403) with a
  // message saying the ServiceAccount was not found yet, so that the
  // controller retries instead of starting a Pod without credentials.
  // Otherwise (admit, AWS's behaviour) the Pod is admitted unchanged.
  bool deny = false;
};

class ReviewHandler {
 public:
  // `jitter` returns a number in [0, 1) and must be safe to call from many
  // threads at once. `resolver` must outlive the handler.
  ReviewHandler(const identity::IdentityResolver& resolver, mutation::Options options,
                credentials::Policy static_credentials, std::function<double()> jitter,
                UnknownServiceAccounts unknown_service_accounts = {}, ReviewLimits limits = {});

  // Answers one review. Thread-safe; never throws: any failure becomes an
  // HTTP 400 or an allowed: false response, never a 5xx. Logs one line per
  // review at verbosity 3, and a warning for a reply over the budget.
  HandleResult handle(std::string_view body) const;

  // Answers one review without waiting: nullopt when the answer would have to
  // wait for a ServiceAccount lookup (the ServiceAccount is not in the cache
  // and a lookup is configured); then call handle() on a thread that may block.
  // (Also nullopt for a large body while max_concurrent_large_reviews others
  // are being answered.)
  std::optional<HandleResult> try_handle(std::string_view body) const;

 private:
  // handle() when `may_block`, else try_handle(). Logs only what it answers.
  std::optional<HandleResult> answer(std::string_view body, bool may_block) const;
  // Fills `result` step by step, so that after an exception handle() still
  // knows the uid and apiVersion (kept in `api_version`) to answer with.
  // Returns false, having answered nothing, when it would have to wait for a
  // lookup and may not block.
  bool handle_into(std::string_view body, bool may_block, HandleResult& result,
                   std::string& api_version) const;
  // Refuses the review (allowed: false, 413) because its answer would pass
  // the budget; `patch_bytes` is how far the patch got.
  void refuse_too_large(HandleResult& result, std::string_view api_version, std::size_t patch_bytes,
                        std::size_t containers, std::size_t init_containers) const;

  const identity::IdentityResolver& resolver_;
  decision::Config config_;
  std::function<double()> jitter_;
  UnknownServiceAccounts unknown_service_accounts_;
  ReviewLimits limits_;
  // Slots for large reviews; null without a limit.
  std::unique_ptr<std::counting_semaphore<>> large_reviews_;
};

}  // namespace irsa::admission
