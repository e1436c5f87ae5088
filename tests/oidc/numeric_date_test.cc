#include "oidc/numeric_date.h"

#include <gtest/gtest.h>

namespace irsa::oidc {
namespace {

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

TEST(NumericDate, FormatsAsRfc3339Utc) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(1714564800), "2024-05-01T12:00:00Z");
  EXPECT_EQ(format_rfc3339(1709164800 + 86399), "2024-02-29T23:59:59Z");
}

}  // namespace
}  // namespace irsa::oidc
