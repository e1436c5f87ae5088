// prometheus-cpp core (families, counters, a histogram) with every fixed
// label combination created up front, so that recording never looks a label
// set up on the request path.
#include "metrics/metrics.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace irsa::metrics {
namespace {

// From 100 µs (a review's usual cost) to the 10 s the API server waits by
// default (timeoutSeconds) at most.
const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return kBuckets;
}

// AWS's webhook: buckets from 125 ms to 8 s, in microseconds
// (prometheus.ExponentialBuckets(125000, 2, 7)).
const prometheus::Histogram::BucketBoundaries& aws_latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      125000, 250000, 500000, 1000000, 2000000, 4000000, 8000000};
  return kBuckets;
}

// The verbs AWS's labels can carry, bounded: the standard methods as sent,
// anything else as "OTHER".
constexpr std::array<std::string_view, 10> kVerbs = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"};

std::size_t verb_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < kVerbs.size(); ++i) {
    if (kVerbs[i] == method) return i;
  }
  return kVerbs.size() - 1;
}

// AWS's webhook instruments only this route, and labels it by URL path.
constexpr std::string_view kMutatePath = "/mutate";

}  // namespace

struct Metrics::State {
  // Tells this instance from one made later at the same address.
  const uint64_t id = [] {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1);
  }();
  prometheus::Registry registry;

  prometheus::Family<prometheus::Counter>& reviews =
      prometheus::BuildCounter()
          .Name("irsa_webhook_reviews_total")
          .Help("AdmissionReviews answered, by outcome: mutated, unchanged, denied, error")
          .Register(registry);
  std::array<prometheus::Counter*, 4> review_by_outcome{};

  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("irsa_webhook_review_duration_seconds")
          .Help(
              "Time to answer one AdmissionReview once its body is read (decode, resolve, plan, "
              "encode; includes waiting for an unknown ServiceAccount)")
          .Register(registry);
  prometheus::Histogram* latency_histogram = nullptr;

  prometheus::Family<prometheus::Counter>& mutations =
      prometheus::BuildCounter()
          .Name("irsa_webhook_mutations_total")
          .Help(
              "Pods mutated, by the identity injected: web_identity (IRSA) or "
              "container_credentials (EKS Pod Identity)")
          .Register(registry);
  std::array<prometheus::Counter*, 2> mutation_by_mode{};

  prometheus::Family<prometheus::Counter>& refusals =
      prometheus::BuildCounter()
          .Name("irsa_webhook_reviews_refused_total")
          .Help(
              "AdmissionReviews refused before their Pod was acted on, by reason: duplicate_key "
              "(a JSON key twice), response_too_large (the answer would pass "
              "--max-response-bytes)")
          .Register(registry);
  std::array<prometheus::Counter*, 2> refusal_by_reason{};

  prometheus::Family<prometheus::Counter>& static_credentials =
      prometheus::BuildCounter()
          .Name("irsa_webhook_static_credentials_removed_total")
          .Help("Static AWS credentials (env vars, envFrom, mounts) removed from Pods")
          .Register(registry);
  prometheus::Counter* static_credentials_removed = nullptr;

  prometheus::Family<prometheus::Counter>& http =
      prometheus::BuildCounter()
          .Name("irsa_webhook_http_responses_total")
          .Help("HTTP responses on the webhook port, by handler and status code")
          .Register(registry);
  std::mutex http_mutex;
  std::map<std::pair<std::string, int>, prometheus::Counter*, std::less<>> http_by_key;

  prometheus::Family<prometheus::Counter>& certificate_reloads =
      prometheus::BuildCounter()
          .Name("irsa_webhook_certificate_reloads_total")
          .Help(
              "Serving certificate reloads after the files changed, by result: success, "
              "failure (the previous certificate stays in service)")
          .Register(registry);
  prometheus::Counter* certificate_reload_success = nullptr;
  prometheus::Counter* certificate_reload_failure = nullptr;

  prometheus::Family<prometheus::Gauge>& certificate_expiry =
      prometheus::BuildGauge()
          .Name("irsa_webhook_certificate_expiry_timestamp_seconds")
          .Help("notAfter of the serving certificate in service, seconds since the epoch")
          .Register(registry);
  prometheus::Gauge* certificate_expiry_gauge = nullptr;

  prometheus::Family<prometheus::Gauge>& connections =
      prometheus::BuildGauge()
          .Name("irsa_webhook_open_connections")
          .Help("TLS connections open on the webhook port, idle or busy")
          .Register(registry);
  prometheus::Gauge* connections_gauge = nullptr;

  prometheus::Family<prometheus::Gauge>& cached =
      prometheus::BuildGauge()
          .Name("irsa_webhook_service_accounts_cached")
          .Help("ServiceAccounts in the webhook's cache")
          .Register(registry);
  prometheus::Gauge* cached_gauge = nullptr;

  prometheus::Family<prometheus::Counter>& watch_restarts =
      prometheus::BuildCounter()
          .Name("irsa_webhook_watch_restarts_total")
          .Help(
              "List+watch restarts against the API server (expired or broken watches), by "
              "resource")
          .Register(registry);

  prometheus::Family<prometheus::Gauge>& build_info =
      prometheus::BuildGauge()
          .Name("irsa_webhook_build_info")
          .Help("Always 1; the labels say which build is running")
          .Register(registry);

  // --- AWS's webhook's names (pkg/handler/middleware.go, pkg/cache/cache.go).
  prometheus::Family<prometheus::Counter>& aws_pod_count =
      prometheus::BuildCounter()
          .Name("pod_identity_webhook_pod_count")
          .Help(
              "Indicator to how many pods are using sts web identity or container credentials "
              "(AWS's webhook's name; see irsa_webhook_mutations_total)")
          .Register(registry);
  std::array<prometheus::Counter*, 2> aws_pod_count_by_mode{};

  prometheus::Family<prometheus::Counter>& aws_missing_sa =
      prometheus::BuildCounter()
          .Name("pod_identity_webhook_missing_sa_count")
          .Help(
              "Pods whose ServiceAccount was not in the cache when looked up (AWS's webhook's "
              "name)")
          .Register(registry);
  prometheus::Counter* aws_missing_sa_counter = nullptr;

  prometheus::Family<prometheus::Gauge>& aws_used =
      prometheus::BuildGauge()
          .Name("pod_identity_webhook_used")
          .Help("Indicator to know pod identity webhook is used (AWS's webhook's name)")
          .Register(registry);
  prometheus::Gauge* aws_used_gauge = nullptr;

  prometheus::Family<prometheus::Counter>& aws_requests =
      prometheus::BuildCounter()
          .Name("http_request_count")
          .Help(
              "Counter of requests broken out for each verb, path, and response code (AWS's "
              "webhook's name; /mutate only)")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& aws_latencies =
      prometheus::BuildHistogram()
          .Name("http_request_latencies")
          .Help(
              "Response latency distribution in microseconds for each verb and path (AWS's "
              "webhook's name; /mutate only)")
          .Register(registry);
  // http_request_duration_microseconds: a summary without quantiles (as
  // client_golang 1.x makes one by default) is a count and a sum, kept here
  // as two atomics; prometheus-cpp's Summary would keep every observation
  // for its quantile estimator (microseconds of CPU each, and memory).
  struct DurationSummary {
    std::atomic<bool> used{false};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_micros{0};
  };
  std::array<DurationSummary, kVerbs.size()> aws_duration_by_verb;
  // Made on first use: a verb's histogram, and a (verb, code) counter.
  std::mutex aws_mutex;
  std::array<prometheus::Histogram*, kVerbs.size()> aws_latency_by_verb{};
  std::map<std::pair<std::size_t, int>, prometheus::Counter*> aws_requests_by_key;

  prometheus::Family<prometheus::Counter>& sweeps =
      prometheus::BuildCounter()
          .Name("irsa_webhook_missed_pods_sweeps_total")
          .Help(
              "Missed-Pod sweeps (--report-missed-pods-interval), by result: ok (every Pod "
              "listed and checked), error (the Pods could not be listed)")
          .Register(registry);
  prometheus::Counter* sweeps_ok = nullptr;
  prometheus::Counter* sweeps_error = nullptr;
  prometheus::Family<prometheus::Gauge>& last_sweep =
      prometheus::BuildGauge()
          .Name("irsa_webhook_missed_pods_last_sweep_timestamp_seconds")
          .Help("End of the last completed missed-Pod sweep, seconds since the epoch")
          .Register(registry);
  prometheus::Gauge* last_sweep_gauge = nullptr;
  prometheus::Family<prometheus::Counter>& missed_events =
      prometheus::BuildCounter()
          .Name("irsa_webhook_missed_pods_events_total")
          .Help(
              "IdentityNotInjected Events for missed Pods, by result: posted, exists (already "
              "posted by a replica), forbidden (RBAC), error")
          .Register(registry);
  // irsa_webhook_pods_missed_identity{namespace,reason}: the last completed
  // sweep's counts, swapped whole and rendered at scrape time.
  std::mutex missed_mutex;
  bool sweeping = false;
  std::map<std::pair<std::string, std::string>, std::size_t> missed;

  std::mutex hooks_mutex;
  std::vector<std::function<void(Metrics&)>> hooks;
};

Metrics::Metrics(std::string_view version, std::string_view revision)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.review_by_outcome = {
      &s.reviews.Add({{"outcome", "mutated"}}), &s.reviews.Add({{"outcome", "unchanged"}}),
      &s.reviews.Add({{"outcome", "denied"}}), &s.reviews.Add({{"outcome", "error"}})};
  s.latency_histogram = &s.latency.Add({}, latency_buckets());
  s.mutation_by_mode = {&s.mutations.Add({{"mode", "web_identity"}}),
                        &s.mutations.Add({{"mode", "container_credentials"}})};
  s.refusal_by_reason = {&s.refusals.Add({{"reason", "duplicate_key"}}),
                         &s.refusals.Add({{"reason", "response_too_large"}})};
  s.static_credentials_removed = &s.static_credentials.Add({});
  s.certificate_reload_success = &s.certificate_reloads.Add({{"result", "success"}});
  s.certificate_reload_failure = &s.certificate_reloads.Add({{"result", "failure"}});
  s.certificate_expiry_gauge = &s.certificate_expiry.Add({});
  s.connections_gauge = &s.connections.Add({});
  s.cached_gauge = &s.cached.Add({});
  s.watch_restarts.Add({{"resource", "serviceaccounts"}});
  s.aws_pod_count_by_mode = {&s.aws_pod_count.Add({{"Method", "sts_web_identity"}}),
                             &s.aws_pod_count.Add({{"Method", "container_credentials"}})};
  s.aws_missing_sa_counter = &s.aws_missing_sa.Add({});
  s.aws_used_gauge = &s.aws_used.Add({});
  s.sweeps_ok = &s.sweeps.Add({{"result", "ok"}});
  s.sweeps_error = &s.sweeps.Add({{"result", "error"}});
  s.build_info.Add({{"version", std::string(version)}, {"revision", std::string(revision)}}).Set(1);
  // Known handlers show up at 0 before their first request.
  for (const char* handler : {"mutate", "healthz", "readyz"}) {
    s.http_by_key[{handler, 200}] = &s.http.Add({{"handler", handler}, {"code", "200"}});
  }
}

Metrics::~Metrics() = default;

void Metrics::record_review(ReviewOutcome outcome, std::chrono::nanoseconds elapsed) {
  state_->review_by_outcome[static_cast<std::size_t>(outcome)]->Increment();
  state_->latency_histogram->Observe(std::chrono::duration<double>(elapsed).count());
}

void Metrics::record_mutation(MutationMode mode) {
  state_->mutation_by_mode[static_cast<std::size_t>(mode)]->Increment();
}

void Metrics::record_refusal(Refusal reason) {
  state_->refusal_by_reason[static_cast<std::size_t>(reason)]->Increment();
}

void Metrics::record_static_credentials_removed(std::size_t count) {
  if (count > 0) state_->static_credentials_removed->Increment(static_cast<double>(count));
}

void Metrics::record_http_response(std::string_view handler, int status) {
  State& s = *state_;
  // Each thread remembers the counters it used, so that the usual response
  // takes no lock and makes no string (handlers and codes are few).
  struct Seen {
    uint64_t state;
    std::string handler;
    int status;
    prometheus::Counter* counter;
  };
  thread_local std::vector<Seen> seen;
  for (const Seen& entry : seen) {
    if (entry.state == s.id && entry.status == status && entry.handler == handler) {
      entry.counter->Increment();
      return;
    }
  }
  prometheus::Counter* counter = nullptr;
  {
    std::lock_guard lock(s.http_mutex);
    auto key = std::make_pair(std::string(handler), status);
    auto found = s.http_by_key.find(key);
    if (found != s.http_by_key.end()) {
      counter = found->second;
    } else {
      counter = &s.http.Add({{"handler", key.first}, {"code", std::to_string(status)}});
      s.http_by_key.emplace(std::move(key), counter);
    }
  }
  // Bounded: handler names are a fixed set and codes a few; a Metrics
  // destroyed (tests) leaves entries whose id never matches again.
  if (seen.size() < 64) seen.push_back(Seen{s.id, std::string(handler), status, counter});
  counter->Increment();
}

void Metrics::record_certificate_reload(bool success) {
  (success ? state_->certificate_reload_success : state_->certificate_reload_failure)->Increment();
}

void Metrics::set_certificate_expiry(int64_t not_after_seconds) {
  state_->certificate_expiry_gauge->Set(static_cast<double>(not_after_seconds));
}

void Metrics::set_open_connections(std::size_t count) {
  state_->connections_gauge->Set(static_cast<double>(count));
}

void Metrics::set_service_accounts_cached(std::size_t count) {
  state_->cached_gauge->Set(static_cast<double>(count));
}

void Metrics::record_watch_restart(std::string_view resource) {
  state_->watch_restarts.Add({{"resource", std::string(resource)}}).Increment();
}

void Metrics::record_pod_identity(MutationMode mode) {
  state_->aws_pod_count_by_mode[static_cast<std::size_t>(mode)]->Increment();
}

void Metrics::record_service_account_missing() { state_->aws_missing_sa_counter->Increment(); }

void Metrics::set_webhook_used() { state_->aws_used_gauge->Set(1); }

void Metrics::record_mutate_request(std::string_view method, int status,
                                    std::chrono::nanoseconds elapsed) {
  State& s = *state_;
  const std::size_t verb = verb_index(method);
  // As Go's time.Duration / time.Microsecond: whole microseconds.
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  const uint64_t whole = micros > 0 ? static_cast<uint64_t>(micros) : 0;
  // Each thread remembers the series it used: the usual reply takes no lock.
  struct Seen {
    uint64_t state;
    std::size_t verb;
    int status;
    prometheus::Counter* counter;
    prometheus::Histogram* latency;
  };
  thread_local std::vector<Seen> seen;
  Seen found{};
  bool known = false;
  for (const Seen& entry : seen) {
    if (entry.state == s.id && entry.verb == verb && entry.status == status) {
      found = entry;
      known = true;
      break;
    }
  }
  if (!known) {
    std::lock_guard lock(s.aws_mutex);
    const std::string verb_label(kVerbs[verb]);
    const std::string path_label(kMutatePath);
    auto& counter = s.aws_requests_by_key[{verb, status}];
    if (!counter) {
      counter = &s.aws_requests.Add(
          {{"verb", verb_label}, {"path", path_label}, {"code", std::to_string(status)}});
    }
    auto& latency = s.aws_latency_by_verb[verb];
    if (!latency) {
      latency =
          &s.aws_latencies.Add({{"verb", verb_label}, {"path", path_label}}, aws_latency_buckets());
    }
    s.aws_duration_by_verb[verb].used.store(true, std::memory_order_relaxed);
    found = Seen{s.id, verb, status, counter, latency};
    // Bounded: verbs and codes are few; entries of a destroyed Metrics
    // (tests) never match again.
    if (seen.size() < 64) seen.push_back(found);
  }
  found.counter->Increment();
  found.latency->Observe(static_cast<double>(whole));
  auto& duration = s.aws_duration_by_verb[verb];
  duration.count.fetch_add(1, std::memory_order_relaxed);
  duration.sum_micros.fetch_add(whole, std::memory_order_relaxed);
}

void Metrics::set_missed_pods(std::map<std::pair<std::string, std::string>, std::size_t> counts,
                              double finished) {
  State& s = *state_;
  {
    std::lock_guard lock(s.missed_mutex);
    s.missed = std::move(counts);
    s.sweeping = true;
    if (!s.last_sweep_gauge) s.last_sweep_gauge = &s.last_sweep.Add({});
    s.last_sweep_gauge->Set(finished);
  }
  s.sweeps_ok->Increment();
}

void Metrics::record_missed_pods_sweep_failed() { state_->sweeps_error->Increment(); }

void Metrics::record_missed_pod_event(std::string_view result) {
  // Bounded: the sweep passes one of four words.
  state_->missed_events.Add({{"result", std::string(result)}}).Increment();
}

void Metrics::add_scrape_hook(std::function<void(Metrics&)> hook) {
  std::lock_guard lock(state_->hooks_mutex);
  state_->hooks.push_back(std::move(hook));
}

std::string Metrics::scrape() {
  {
    std::lock_guard lock(state_->hooks_mutex);
    for (const auto& hook : state_->hooks) hook(*this);
  }
  std::vector<prometheus::MetricFamily> families = state_->registry.Collect();
  prometheus::MetricFamily durations;
  durations.name = "http_request_duration_microseconds";
  durations.help =
      "Response latency summary in microseconds for each verb and path (AWS's webhook's name; "
      "/mutate only)";
  durations.type = prometheus::MetricType::Summary;
  for (std::size_t verb = 0; verb < kVerbs.size(); ++verb) {
    const auto& duration = state_->aws_duration_by_verb[verb];
    if (!duration.used.load(std::memory_order_relaxed)) continue;
    prometheus::ClientMetric metric;
    metric.label = {{"path", std::string(kMutatePath)}, {"verb", std::string(kVerbs[verb])}};
    metric.summary.sample_count = duration.count.load(std::memory_order_relaxed);
    metric.summary.sample_sum =
        static_cast<double>(duration.sum_micros.load(std::memory_order_relaxed));
    durations.metric.push_back(std::move(metric));
  }
  // Labelled by request, like the others: no series before the first one.
  if (!durations.metric.empty()) families.push_back(std::move(durations));
  {
    std::lock_guard lock(state_->missed_mutex);
    if (state_->sweeping) {
      prometheus::MetricFamily missed;
      missed.name = "irsa_webhook_pods_missed_identity";
      missed.help =
          "Running Pods that missed the AWS identity their ServiceAccount gives (or carry one "
          "it no longer gives), by namespace and reason, as of the last completed sweep";
      missed.type = prometheus::MetricType::Gauge;
      for (const auto& [key, count] : state_->missed) {
        prometheus::ClientMetric metric;
        metric.label = {{"namespace", key.first}, {"reason", key.second}};
        metric.gauge.value = static_cast<double>(count);
        missed.metric.push_back(std::move(metric));
      }
      families.push_back(std::move(missed));
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace irsa::metrics
