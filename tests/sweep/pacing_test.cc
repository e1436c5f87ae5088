// The sweep's pacing: the interval's jitter, the Events' rate and the memory
// of Pods already reported.
#include "sweep/pacing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace irsa::sweep {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(SweepJitter, StaysWithinTenPercentOfTheInterval) {
  const milliseconds interval(600000);
  EXPECT_EQ(jittered(interval, 0.1, 0.0), milliseconds(540000));
  EXPECT_EQ(jittered(interval, 0.1, 0.5), milliseconds(600000));
  EXPECT_EQ(jittered(interval, 0.1, 0.75), milliseconds(630000));
  for (int i = 0; i <= 100; ++i) {
    auto value = jittered(interval, 0.1, i / 100.0);
    EXPECT_GE(value, milliseconds(540000));
    EXPECT_LE(value, milliseconds(660000));
  }
  // Out-of-range randomness is clamped, never a negative or huge wait.
  EXPECT_EQ(jittered(interval, 0.1, -3), milliseconds(540000));
  EXPECT_EQ(jittered(interval, 0.1, 7), milliseconds(660000));
  EXPECT_EQ(jittered(interval, 0, 0.9), interval);
}

TEST(SweepJitter, TheFirstSweepComesWithinTheCapOrTheInterval) {
  EXPECT_EQ(first_delay(milliseconds(600000), milliseconds(30000), 0.0), milliseconds(0));
  EXPECT_LT(first_delay(milliseconds(600000), milliseconds(30000), 0.999999), milliseconds(30000));
  EXPECT_LT(first_delay(milliseconds(2000), milliseconds(30000), 1.0), milliseconds(2000));
  EXPECT_EQ(first_delay(milliseconds(2000), milliseconds(30000), 0.5), milliseconds(1000));
}

TEST(SweepTokenBucket, AllowsTheBurstThenTheRate) {
  const auto start = steady_clock::now();
  TokenBucket bucket(2, 3, start);
  EXPECT_TRUE(bucket.take(start));
  EXPECT_TRUE(bucket.take(start));
  EXPECT_TRUE(bucket.take(start));
  EXPECT_FALSE(bucket.take(start));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.wait(start)), milliseconds(500));
  EXPECT_FALSE(bucket.take(start + milliseconds(400)));
  EXPECT_TRUE(bucket.take(start + milliseconds(500)));
  EXPECT_FALSE(bucket.take(start + milliseconds(500)));
  // A long pause refills to the burst, not beyond.
  const auto later = start + std::chrono::hours(1);
  EXPECT_EQ(bucket.wait(later), steady_clock::duration::zero());
  int taken = 0;
  for (int i = 0; i < 10; ++i) taken += bucket.take(later) ? 1 : 0;
  EXPECT_EQ(taken, 3);
}

TEST(SweepReportedPods, ReportsEachPodOnceAndForgetsPodsThatAreGone) {
  ReportedPods reported(100);
  reported.begin_sweep();
  EXPECT_FALSE(reported.seen("a"));
  EXPECT_TRUE(reported.add("a"));
  EXPECT_FALSE(reported.seen("b"));
  EXPECT_TRUE(reported.add("b"));
  EXPECT_EQ(reported.end_sweep(), 0U);

  // Next sweep: "a" still misses its identity, "b" is gone.
  reported.begin_sweep();
  EXPECT_TRUE(reported.seen("a"));
  EXPECT_EQ(reported.end_sweep(), 1U);
  EXPECT_EQ(reported.size(), 1U);

  // "b" again (a Pod that came back with the same UID cannot be, but the
  // set must not remember it): reported anew.
  reported.begin_sweep();
  EXPECT_TRUE(reported.seen("a"));
  EXPECT_FALSE(reported.seen("b"));
}

TEST(SweepReportedPods, IsBounded) {
  ReportedPods reported(2);
  reported.begin_sweep();
  EXPECT_TRUE(reported.add("a"));
  EXPECT_TRUE(reported.add("b"));
  EXPECT_TRUE(reported.full());
  EXPECT_FALSE(reported.add("c"));
  EXPECT_TRUE(reported.add("a"));  // already there
  EXPECT_EQ(reported.size(), 2U);
  reported.end_sweep();
  reported.begin_sweep();
  EXPECT_TRUE(reported.seen("a"));
  reported.end_sweep();  // "b" forgotten: room again
  EXPECT_TRUE(reported.add("c"));
}

}  // namespace
}  // namespace irsa::sweep
