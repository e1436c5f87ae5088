// The registry's full-list sweep and its waiting: what the API server source
// and the grace-period lookup rely on.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "identity/registry.h"

namespace irsa::identity {
namespace {

using Clock = std::chrono::steady_clock;

ServiceAccountSettings role(const char* arn) {
  ServiceAccountSettings settings;
  settings.role_arn = arn;
  return settings;
}

TEST(ServiceAccountRegistryFullList, EndingAListRemovesWhatItDidNotUpsert) {
  ServiceAccountRegistry registry;
  registry.upsert("a", "stays", role("arn:1"));
  registry.upsert("a", "goes", role("arn:2"));
  auto generation = registry.begin_full_list();
  registry.upsert("a", "stays", role("arn:1b"));
  registry.upsert("a", "new", {});
  // Readers still see the old entry until the list ends.
  EXPECT_TRUE(registry.find("a", "goes"));
  EXPECT_EQ(registry.end_full_list(generation), 1u);
  EXPECT_FALSE(registry.find("a", "goes"));
  EXPECT_EQ(registry.find("a", "stays")->role_arn, "arn:1b");
  EXPECT_TRUE(registry.find("a", "new"));
  EXPECT_EQ(registry.size(), 2u);
}

TEST(ServiceAccountRegistryFullList, AnAbandonedListRemovesNothingAndTheNextOneSweeps) {
  ServiceAccountRegistry registry;
  registry.upsert("a", "old", {});
  registry.begin_full_list();  // fails half-way: never ended
  registry.upsert("a", "half", {});
  EXPECT_EQ(registry.size(), 2u);
  auto generation = registry.begin_full_list();
  registry.upsert("a", "half", {});
  EXPECT_EQ(registry.end_full_list(generation), 1u);
  EXPECT_FALSE(registry.find("a", "old"));
}

TEST(ServiceAccountRegistryWait, ReturnsAtOnceForAKnownServiceAccount) {
  ServiceAccountRegistry registry;
  registry.upsert("a", "app", {});
  EXPECT_TRUE(registry.wait_until_known("a", "app", Clock::now()));
}

TEST(ServiceAccountRegistryWait, WakesWhenTheServiceAccountArrives) {
  ServiceAccountRegistry registry;
  std::thread writer([&] {
    // A delay, not a wait: the waiter is (very likely) waiting by then; the
    // test holds either way.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    registry.upsert("a", "other", {});
    registry.upsert("a", "app", role("arn:x"));
  });
  const auto started = Clock::now();
  EXPECT_TRUE(registry.wait_until_known("a", "app", started + std::chrono::seconds(5)));
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(2));
  writer.join();
}

TEST(ServiceAccountRegistryWait, GivesUpAtTheDeadline) {
  ServiceAccountRegistry registry;
  const auto started = Clock::now();
  EXPECT_FALSE(registry.wait_until_known("a", "never", started + std::chrono::milliseconds(50)));
  EXPECT_GE(Clock::now() - started, std::chrono::milliseconds(50));
}

TEST(ServiceAccountRegistryWait, NotifyWakesConditionsBeyondTheRegistry) {
  ServiceAccountRegistry registry;
  std::atomic<bool> answered{false};
  std::thread other([&] {
    // A delay, not a wait (as above).
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    answered = true;
    registry.notify_waiters();
  });
  const auto started = Clock::now();
  EXPECT_TRUE(
      registry.wait_until(started + std::chrono::seconds(5), [&] { return answered.load(); }));
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(2));
  other.join();
}

TEST(ServiceAccountRegistryWait, ManyWaitersAndWritersDoNotLoseWakeups) {
  ServiceAccountRegistry registry;
  std::vector<std::thread> waiters;
  std::atomic<int> found{0};
  for (int i = 0; i < 16; ++i) {
    waiters.emplace_back([&, i] {
      if (registry.wait_until_known("ns", "sa-" + std::to_string(i),
                                    Clock::now() + std::chrono::seconds(10))) {
        ++found;
      }
    });
  }
  for (int i = 0; i < 16; ++i) registry.upsert("ns", "sa-" + std::to_string(i), {});
  for (auto& waiter : waiters) waiter.join();
  EXPECT_EQ(found.load(), 16);
}

}  // namespace
}  // namespace irsa::identity

namespace irsa::identity {
namespace {

TEST(ServiceAccountRegistryStorage, KeepsEveryFieldOfTheSettingsExactly) {
  ServiceAccountRegistry registry;
  ServiceAccountSettings full;
  full.role_arn = "arn:aws:iam::111122223333:role/a-rather-long-role-name-for-the-heap";
  full.audience = "";
  full.regional_sts = false;
  full.token_expiration = 4294967296;
  full.role_session_name = true;
  full.region = "us-gov-west-1";
  full.problems = {"first problem", "", "third"};
  registry.upsert("ns", "full", full);
  EXPECT_EQ(registry.find("ns", "full"), full);

  ServiceAccountSettings partial;
  partial.regional_sts = true;
  registry.upsert("ns", "partial", partial);
  EXPECT_EQ(registry.find("ns", "partial"), partial);
  EXPECT_EQ(registry.snapshot()[0].settings, full);

  ServiceAccountSettings region_only;
  region_only.region = "eu-west-3";
  registry.upsert("ns", "region", region_only);
  EXPECT_EQ(registry.find("ns", "region"), region_only);
}

}  // namespace
}  // namespace irsa::identity
