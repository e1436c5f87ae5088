#include "oidc/base64url.h"

#include <gtest/gtest.h>

namespace irsa::oidc {
namespace {

TEST(Base64Url, EncodesWithoutPaddingInTheUrlAlphabet) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("\xfb\xff\xfe"), "-__-");
}

TEST(Base64Url, DecodesWhatItEncodes) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (std::size_t length = 0; length < 10; ++length) {
    auto decoded = base64url_decode(base64url_encode(bytes.substr(0, length)));
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(*decoded, bytes.substr(0, length));
  }
  auto all = base64url_decode(base64url_encode(bytes));
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, bytes);
}

TEST(Base64Url, RefusesPaddingOtherAlphabetsAndImpossibleLengths) {
  EXPECT_FALSE(base64url_decode("Zg=="));
  EXPECT_FALSE(base64url_decode("+/+/"));
  EXPECT_FALSE(base64url_decode("Zm 9v"));
  EXPECT_FALSE(base64url_decode("Zm9vY"));
}

}  // namespace
}  // namespace irsa::oidc
