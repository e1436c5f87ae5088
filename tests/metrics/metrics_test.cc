// The metrics' names, labels and counts in the scrape text.
#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace irsa::metrics {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, StartsWithEveryFamilyAtZeroAndTheBuildInfo) {
  Metrics metrics("1.2.3", "abc123");
  std::string text = metrics.scrape();
  EXPECT_TRUE(has_line(text, "irsa_webhook_reviews_total{outcome=\"mutated\"} 0")) << text;
  EXPECT_TRUE(has_line(text, "irsa_webhook_reviews_total{outcome=\"error\"} 0"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_mutations_total{mode=\"container_credentials\"} 0"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_review_duration_seconds_count 0"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_static_credentials_removed_total 0"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_reviews_refused_total{reason=\"duplicate_key\"} 0"));
  EXPECT_TRUE(
      has_line(text, "irsa_webhook_reviews_refused_total{reason=\"response_too_large\"} 0"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_certificate_reloads_total{result=\"failure\"} 0"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_watch_restarts_total{resource=\"serviceaccounts\"} 0"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_build_info{revision=\"abc123\",version=\"1.2.3\"} 1"));
  EXPECT_NE(text.find("# TYPE irsa_webhook_review_duration_seconds histogram"), std::string::npos);
}

TEST(Metrics, CountsWhatIsRecorded) {
  Metrics metrics("1", "r");
  metrics.record_review(ReviewOutcome::kMutated, std::chrono::microseconds(150));
  metrics.record_review(ReviewOutcome::kMutated, std::chrono::milliseconds(3));
  metrics.record_review(ReviewOutcome::kDenied, std::chrono::microseconds(50));
  metrics.record_mutation(MutationMode::kWebIdentity);
  metrics.record_mutation(MutationMode::kContainerCredentials);
  metrics.record_static_credentials_removed(2);
  metrics.record_static_credentials_removed(0);
  metrics.record_refusal(Refusal::kResponseTooLarge);
  metrics.record_refusal(Refusal::kResponseTooLarge);
  metrics.record_refusal(Refusal::kDuplicateKey);
  metrics.record_http_response("mutate", 200);
  metrics.record_http_response("mutate", 413);
  metrics.record_http_response("mutate", 413);
  metrics.record_certificate_reload(true);
  metrics.set_certificate_expiry(1800000000);
  metrics.set_open_connections(7);
  metrics.record_watch_restart("serviceaccounts");
  int hooks = 0;
  metrics.add_scrape_hook([&hooks](Metrics& m) {
    ++hooks;
    m.set_service_accounts_cached(42);
  });
  std::string text = metrics.scrape();
  EXPECT_EQ(hooks, 1);
  EXPECT_TRUE(has_line(text, "irsa_webhook_reviews_total{outcome=\"mutated\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "irsa_webhook_reviews_total{outcome=\"denied\"} 1"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_review_duration_seconds_count 3"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_review_duration_seconds_bucket{le=\"0.0001\"} 1"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_review_duration_seconds_bucket{le=\"0.0025\"} 2"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_review_duration_seconds_bucket{le=\"0.005\"} 3"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_mutations_total{mode=\"web_identity\"} 1"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_static_credentials_removed_total 2"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_reviews_refused_total{reason=\"duplicate_key\"} 1"));
  EXPECT_TRUE(
      has_line(text, "irsa_webhook_reviews_refused_total{reason=\"response_too_large\"} 2"));
  EXPECT_TRUE(
      has_line(text, "irsa_webhook_http_responses_total{code=\"413\",handler=\"mutate\"} 2"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_certificate_reloads_total{result=\"success\"} 1"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_certificate_expiry_timestamp_seconds 1800000000"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_open_connections 7"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_service_accounts_cached 42"));
  EXPECT_TRUE(has_line(text, "irsa_webhook_watch_restarts_total{resource=\"serviceaccounts\"} 1"));
}

// AWS's webhook's names, types, labels and label values
// (pkg/handler/middleware.go, pkg/cache/cache.go), for its dashboards.
TEST(Metrics, ExportsAwsWebhookFamiliesUnderItsNames) {
  Metrics metrics("1", "r");
  std::string text = metrics.scrape();
  EXPECT_TRUE(has_line(text, "# TYPE pod_identity_webhook_pod_count counter")) << text;
  EXPECT_TRUE(has_line(text, "pod_identity_webhook_pod_count{Method=\"sts_web_identity\"} 0"));
  EXPECT_TRUE(has_line(text, "pod_identity_webhook_pod_count{Method=\"container_credentials\"} 0"));
  EXPECT_TRUE(has_line(text, "# TYPE pod_identity_webhook_missing_sa_count counter"));
  EXPECT_TRUE(has_line(text, "pod_identity_webhook_missing_sa_count 0"));
  EXPECT_TRUE(has_line(text, "# TYPE pod_identity_webhook_used gauge"));
  EXPECT_TRUE(has_line(text, "pod_identity_webhook_used 0"));
  // Labelled by request: no series before the first one, as a Go *Vec.
  EXPECT_EQ(text.find("http_request_"), std::string::npos);
  metrics.record_mutate_request("POST", 200, std::chrono::microseconds(1));
  text = metrics.scrape();
  EXPECT_TRUE(has_line(text, "# TYPE http_request_count counter")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE http_request_latencies histogram"));
  EXPECT_TRUE(has_line(text, "# TYPE http_request_duration_microseconds summary"));
}

TEST(Metrics, CountsPodsAndMissingServiceAccountsAsAwsDoes) {
  Metrics metrics("1", "r");
  metrics.record_pod_identity(MutationMode::kWebIdentity);
  metrics.record_pod_identity(MutationMode::kWebIdentity);
  metrics.record_pod_identity(MutationMode::kContainerCredentials);
  metrics.record_service_account_missing();
  metrics.set_webhook_used();
  metrics.set_webhook_used();
  std::string text = metrics.scrape();
  EXPECT_TRUE(has_line(text, "pod_identity_webhook_pod_count{Method=\"sts_web_identity\"} 2"))
      << text;
  EXPECT_TRUE(has_line(text, "pod_identity_webhook_pod_count{Method=\"container_credentials\"} 1"));
  EXPECT_TRUE(has_line(text, "pod_identity_webhook_missing_sa_count 1"));
  EXPECT_TRUE(has_line(text, "pod_identity_webhook_used 1"));
  // Ours are separate: a pod count is not a mutation.
  EXPECT_TRUE(has_line(text, "irsa_webhook_mutations_total{mode=\"web_identity\"} 0"));
}

TEST(Metrics, RecordsMutateRequestsInMicrosecondsWithAwsBuckets) {
  Metrics metrics("1", "r");
  metrics.record_mutate_request("POST", 200, std::chrono::microseconds(1500));
  metrics.record_mutate_request("POST", 200, std::chrono::milliseconds(300));
  // Whole microseconds, truncated as Go's Duration / Microsecond.
  metrics.record_mutate_request("POST", 200, std::chrono::nanoseconds(2999));
  metrics.record_mutate_request("POST", 415, std::chrono::milliseconds(9));
  metrics.record_mutate_request("GET", 405, std::chrono::microseconds(10));
  metrics.record_mutate_request("BREW", 405, std::chrono::microseconds(10));
  std::string text = metrics.scrape();
  EXPECT_TRUE(has_line(text, "http_request_count{code=\"200\",path=\"/mutate\",verb=\"POST\"} 3"))
      << text;
  EXPECT_TRUE(has_line(text, "http_request_count{code=\"415\",path=\"/mutate\",verb=\"POST\"} 1"));
  EXPECT_TRUE(has_line(text, "http_request_count{code=\"405\",path=\"/mutate\",verb=\"GET\"} 1"));
  // A method outside the standard ones: one bounded label value.
  EXPECT_TRUE(has_line(text, "http_request_count{code=\"405\",path=\"/mutate\",verb=\"OTHER\"} 1"));
  EXPECT_EQ(text.find("BREW"), std::string::npos);
  // 125 ms to 8 s, in microseconds.
  EXPECT_TRUE(has_line(
      text, "http_request_latencies_bucket{path=\"/mutate\",verb=\"POST\",le=\"125000\"} 3"));
  EXPECT_TRUE(has_line(
      text, "http_request_latencies_bucket{path=\"/mutate\",verb=\"POST\",le=\"500000\"} 4"));
  EXPECT_TRUE(has_line(
      text, "http_request_latencies_bucket{path=\"/mutate\",verb=\"POST\",le=\"8000000\"} 4"));
  EXPECT_TRUE(has_line(text, "http_request_latencies_count{path=\"/mutate\",verb=\"POST\"} 4"));
  EXPECT_TRUE(has_line(text, "http_request_latencies_sum{path=\"/mutate\",verb=\"POST\"} 310502"));
  // The summary: no quantiles (client_golang 1.x's default), sum and count.
  EXPECT_TRUE(has_line(text,
                       "http_request_duration_microseconds_sum{path=\"/mutate\",verb=\"POST\"} "
                       "310502"));
  EXPECT_TRUE(
      has_line(text, "http_request_duration_microseconds_count{path=\"/mutate\",verb=\"POST\"} 4"));
  EXPECT_EQ(text.find("quantile="), std::string::npos);
}

TEST(Metrics, MutateRequestsFromManyThreadsAllCount) {
  Metrics metrics("1", "r");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&metrics] {
      for (int i = 0; i < 1000; ++i) {
        metrics.record_mutate_request("POST", i % 2 ? 200 : 400, std::chrono::microseconds(5));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::string text = metrics.scrape();
  EXPECT_TRUE(
      has_line(text, "http_request_count{code=\"200\",path=\"/mutate\",verb=\"POST\"} 2000"))
      << text;
  EXPECT_TRUE(
      has_line(text, "http_request_count{code=\"400\",path=\"/mutate\",verb=\"POST\"} 2000"));
  EXPECT_TRUE(has_line(
      text, "http_request_duration_microseconds_count{path=\"/mutate\",verb=\"POST\"} 4000"));
}

}  // namespace
}  // namespace irsa::metrics
