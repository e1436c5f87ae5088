// The webhook's Prometheus metrics: what happened to reviews, mutations,
// certificates and the ServiceAccount cache, rendered in the text format.
// Names and labels are documented in docs/metrics.md; change both together.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace irsa::metrics {

enum class ReviewOutcome {
  kMutated,    // allowed with a patch
  kUnchanged,  // allowed without a patch
  kDenied,     // allowed: false
  kError,      // not answerable as a review (HTTP 400)
};

enum class MutationMode { kWebIdentity, kContainerCredentials };

// Why a review was refused before its Pod was acted on.
enum class Refusal {
  kDuplicateKey,      // "duplicate_key": a JSON key twice in the review
  kResponseTooLarge,  // "response_too_large": the answer would pass --max-response-bytes
};

// Thread-safe; recording is a few atomic operations (the latency histogram
// takes a short lock), cheap enough for the request path.
class Metrics {
 public:
  // `version` and `revision` label irsa_webhook_build_info.
  Metrics(std::string_view version, std::string_view revision);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One review answered, and how long decode + resolve + plan + encode took.
  void record_review(ReviewOutcome outcome, std::chrono::nanoseconds elapsed);
  void record_mutation(MutationMode mode);
  // One review refused (also counted by record_review as denied or error).
  void record_refusal(Refusal reason);
  // Static credentials (env vars, mounts, envFrom) removed from one Pod.
  void record_static_credentials_removed(std::size_t count);

  // An HTTP reply on the webhook port. `handler` is "mutate", "healthz",
  // "readyz" or "other" (never the raw path: it would be unbounded).
  void record_http_response(std::string_view handler, int status);
  void record_certificate_reload(bool success);
  // The serving certificate's notAfter, seconds since the epoch.
  void set_certificate_expiry(int64_t not_after_seconds);
  void set_open_connections(std::size_t count);

  // For the ServiceAccount source: the size of the cache, and one restart of
  // a list+watch (a new list after an expired or broken watch) of `resource`.
  void set_service_accounts_cached(std::size_t count);
  void record_watch_restart(std::string_view resource);

  // The missed-Pod sweep (--report-missed-pods-interval). After each
  // completed sweep, the Pods that missed their identity by (namespace,
  // reason) replace the previous counts whole: a namespace whose count
  // dropped to zero disappears. `finished` is seconds since the epoch.
  void set_missed_pods(std::map<std::pair<std::string, std::string>, std::size_t> counts,
                       double finished);
  // A sweep that could not list the Pods (the counts stay as they were).
  void record_missed_pods_sweep_failed();
  // One Event for a missed Pod: "posted", "exists" (another replica's, or
  // one from before a restart), "forbidden" (RBAC), "error".
  void record_missed_pod_event(std::string_view result);

  // AWS's webhook's metrics, under its names, for dashboards and alerts
  // written for it (README "Metrics": the name map). Same types, labels and
  // label values, and counted at the same moments.
  //
  // pod_identity_webhook_pod_count{Method}: a Pod whose ServiceAccount
  // resolved to an identity, whether or not its patch changes anything.
  void record_pod_identity(MutationMode mode);
  // pod_identity_webhook_missing_sa_count: a Pod whose ServiceAccount was in
  // neither the cache nor the ConfigMap mapping when first looked up.
  void record_service_account_missing();
  // pod_identity_webhook_used: 1 from the first ServiceAccount the cache
  // holds; never back to 0.
  void set_webhook_used();
  // One reply to a request for /mutate (AWS instruments that route only):
  // http_request_count{verb,path,code}, and the time from the request's
  // head to its reply, in whole microseconds, in the histogram
  // http_request_latencies{verb,path} and the summary
  // http_request_duration_microseconds{verb,path}. `method` outside the
  // standard HTTP methods counts as "OTHER" (AWS's would take it as sent).
  void record_mutate_request(std::string_view method, int status, std::chrono::nanoseconds elapsed);

  // Runs before each scrape, on the scraping thread: to set gauges read from
  // their owners (the cache size, ...). Add hooks before serving scrapes.
  void add_scrape_hook(std::function<void(Metrics&)> hook);

  // Every metric in the Prometheus text exposition format 0.0.4.
  std::string scrape();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The Content-Type of scrape()'s text.
inline constexpr std::string_view kTextFormatContentType =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace irsa::metrics
