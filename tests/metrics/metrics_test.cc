// The metrics' names, labels and counts in the scrape text.
#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

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

}  // namespace
}  // namespace irsa::metrics
