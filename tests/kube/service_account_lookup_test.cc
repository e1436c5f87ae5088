// The grace-period lookup: a ServiceAccount the watch has not delivered yet
// is found by a direct GET, bounded by the deadline and rate-limited.
#include "kube/service_account_lookup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/service_account_source.h"
#include "kube_test_support.h"

namespace irsa::kube {
namespace {

using testing::eventually;
using testing::FakeApiServerTest;
using Source = ServiceAccountLookup::Source;

constexpr const char* kRole = "arn:aws:iam::111122223333:role/app";
const std::map<std::string, std::string> kAnnotated = {{"eks.amazonaws.com/role-arn", kRole}};

std::chrono::steady_clock::time_point in(int ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

class ServiceAccountLookupTest : public FakeApiServerTest {
 protected:
  std::unique_ptr<ServiceAccountLookup> make_lookup(ServiceAccountLookupOptions options = {}) {
    auto lookup = std::make_unique<ServiceAccountLookup>(client(), registry_, options);
    lookup->start();
    return lookup;
  }
  identity::ServiceAccountRegistry registry_;
};

TEST_F(ServiceAccountLookupTest, AKnownServiceAccountAnswersFromTheCacheWithoutRequests) {
  identity::ServiceAccountSettings settings;
  settings.role_arn = kRole;
  registry_.upsert("team", "app", settings);
  auto lookup = make_lookup();
  auto outcome = lookup->await("team", "app", in(1000));
  EXPECT_EQ(outcome.source, Source::kCache);
  EXPECT_EQ(outcome.settings->role_arn, kRole);
  EXPECT_EQ(server_->stats().gets, 0);
}

TEST_F(ServiceAccountLookupTest, ADirectGetFindsAServiceAccountTheWatchHasNotDelivered) {
  server_->put_service_account("team", "app", kAnnotated);
  auto lookup = make_lookup();
  auto outcome = lookup->await("team", "app", in(2000));
  EXPECT_EQ(outcome.source, Source::kApi);
  ASSERT_TRUE(outcome.settings);
  EXPECT_EQ(outcome.settings->role_arn, kRole);
  auto requests = server_->requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().path, "/api/v1/namespaces/team/serviceaccounts/app");
  EXPECT_EQ(requests.back().accept, kAcceptPartialMetadata);
  // The lookup does not write into the registry: the watch stays its only source.
  EXPECT_FALSE(registry_.find("team", "app"));
}

TEST_F(ServiceAccountLookupTest, AServiceAccountThatDoesNotExistIsNotFoundQuickly) {
  auto lookup = make_lookup();
  const auto started = std::chrono::steady_clock::now();
  auto outcome = lookup->await("team", "ghost", in(3000));
  EXPECT_EQ(outcome.source, Source::kNotFound);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
}

TEST_F(ServiceAccountLookupTest, TheWatchArrivingFirstWakesTheWaiter) {
  server_->set_response_delay(std::chrono::milliseconds(3000));  // the GET is stuck
  auto lookup = make_lookup();
  std::thread watch([&] {
    // A delay, not a wait: the lookup's GET is in flight by then.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    identity::ServiceAccountSettings settings;
    settings.role_arn = kRole;
    registry_.upsert("team", "app", settings);
  });
  const auto started = std::chrono::steady_clock::now();
  auto outcome = lookup->await("team", "app", in(2000));
  watch.join();
  EXPECT_EQ(outcome.source, Source::kCache);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1000));
  server_->set_response_delay(std::chrono::milliseconds(0));
}

TEST_F(ServiceAccountLookupTest, GivesUpAtTheDeadlineWhenNothingAnswers) {
  server_->set_response_delay(std::chrono::milliseconds(3000));
  auto lookup = make_lookup();
  const auto started = std::chrono::steady_clock::now();
  auto outcome = lookup->await("team", "app", in(150));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(outcome.source, Source::kTimedOut);
  EXPECT_GE(took, std::chrono::milliseconds(140));
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  server_->set_response_delay(std::chrono::milliseconds(0));
}

TEST_F(ServiceAccountLookupTest, AFailingApiServerLeavesTheWatchToAnswer) {
  server_->fail_next_requests(100, 500);
  auto lookup = make_lookup();
  auto outcome = lookup->await("team", "app", in(200));
  EXPECT_EQ(outcome.source, Source::kTimedOut);
}

TEST_F(ServiceAccountLookupTest, GetsAreRateLimitedAndQueueIsBounded) {
  ServiceAccountLookupOptions options;
  options.requests_per_second = 5;
  options.burst = 2;
  options.max_queued = 3;
  options.workers = 1;
  auto lookup = make_lookup(options);
  std::vector<std::thread> pods;
  for (int i = 0; i < 20; ++i) {
    pods.emplace_back([&, i] { lookup->await("team", "sa-" + std::to_string(i), in(300)); });
  }
  for (auto& pod : pods) pod.join();
  auto stats = lookup->stats();
  EXPECT_EQ(stats.lookups, 20u);
  // 2 at once plus 5/s for 0.3 s, whatever the number of Pods.
  EXPECT_LE(server_->stats().gets, 4);
  EXPECT_GE(stats.not_queued, 10u);
}

TEST_F(ServiceAccountLookupTest, ConcurrentLookupsOfOneServiceAccountShareOneGet) {
  server_->put_service_account("team", "app", kAnnotated);
  // Slow enough that every Pod asks while the first GET is in flight.
  server_->set_response_delay(std::chrono::milliseconds(400));
  auto lookup = make_lookup();
  std::vector<std::thread> pods;
  std::atomic<int> found{0};
  for (int i = 0; i < 8; ++i) {
    pods.emplace_back([&] {
      if (lookup->await("team", "app", in(2000)).source == Source::kApi) ++found;
    });
  }
  for (auto& pod : pods) pod.join();
  EXPECT_EQ(found.load(), 8);
  EXPECT_LE(server_->stats().gets, 2);
  server_->set_response_delay(std::chrono::milliseconds(0));
}

TEST_F(ServiceAccountLookupTest, StopReturnsPromptlyWithAGetInFlight) {
  server_->set_response_delay(std::chrono::milliseconds(3000));
  auto lookup = make_lookup();
  std::thread pod([&] { lookup->await("team", "app", in(300)); });
  ASSERT_TRUE(eventually([&] { return lookup->stats().requests >= 1; }));
  const auto started = std::chrono::steady_clock::now();
  lookup->stop();
  pod.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
  server_->set_response_delay(std::chrono::milliseconds(0));
}

}  // namespace
}  // namespace irsa::kube
