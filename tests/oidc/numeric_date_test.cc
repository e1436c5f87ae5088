#include "oidc/numeric_date.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace irsa::oidc {
namespace {

using ::testing::HasSubstr;

TEST(NumericDate, ParsesRfc3339WithZoneAndFraction) {
  EXPECT_EQ(*parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parse_rfc3339("2024-05-01T12:00:00Z"), 1714564800);
  EXPECT_EQ(*parse_rfc3339("2024-05-01T12:00:00.999Z"), 1714564800);
  EXPECT_EQ(*parse_rfc3339("2024-05-01T14:00:00+02:00"), 1714564800);
  EXPECT_EQ(*parse_rfc3339("2024-05-01t11:30:00-00:30"), 1714564800);
  EXPECT_EQ(*parse_rfc3339("2024-02-29T00:00:00Z"), 1709164800);
}

TEST(NumericDate, RefusesWhatIsNotRfc3339) {
  for (const char* text : {"", "2024-05-01", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00",
                           "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-05-01T24:00:00Z",
                           "1714564800", "2024-05-01T12:00:00Zjunk", "2024-05-01T12:00:00.Z"}) {
    EXPECT_FALSE(parse_rfc3339(text)) << text;
  }
}

// Found by fuzz/trust_policy_fuzzer (regressions/trust_policy-leap-second-after-9999.txt):
// a leap second or a negative offset on the last day took the time past what
// format_rfc3339 can write, so the two disagreed.
TEST(NumericDate, RefusesTimesAfterTheLastWritableSecond) {
  EXPECT_EQ(*parse_rfc3339("9999-12-31T23:59:59Z"), 253402300799);
  for (const char* text : {"9999-12-31T23:59:60Z", "9999-12-31T23:30:00-01:00"}) {
    auto parsed = parse_rfc3339(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_THAT(parsed.error(), HasSubstr("outside 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z"));
  }
  EXPECT_FALSE(parse_rfc3339("1970-01-01T00:30:00+01:00"));
  auto quoted = parse_rfc3339("2024\n05-01");
  ASSERT_FALSE(quoted);
  EXPECT_EQ(quoted.error().find('\n'), std::string::npos) << quoted.error();
}

TEST(NumericDate, FormatsAsRfc3339Utc) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(1714564800), "2024-05-01T12:00:00Z");
  EXPECT_EQ(format_rfc3339(1709164800 + 86399), "2024-02-29T23:59:59Z");
}

}  // namespace
}  // namespace irsa::oidc
