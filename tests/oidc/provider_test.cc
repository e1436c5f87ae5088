#include "oidc/provider.h"

#include <gtest/gtest.h>

namespace irsa::oidc {
namespace {

TEST(Issuer, AcceptsHttpsHostWithOptionalPath) {
  auto bare = parse_issuer("https://oidc.example.com");
  ASSERT_TRUE(bare) << bare.error();
  EXPECT_EQ(bare->host_path, "oidc.example.com");
  auto path = parse_issuer("https://s3.eu-west-1.amazonaws.com/my-bucket/cluster_1");
  ASSERT_TRUE(path) << path.error();
  EXPECT_EQ(path->url, "https://s3.eu-west-1.amazonaws.com/my-bucket/cluster_1");
  EXPECT_EQ(path->host_path, "s3.eu-west-1.amazonaws.com/my-bucket/cluster_1");
}

TEST(Issuer, RefusesWhatIamRefusesWithAReason) {
  struct Case {
    const char* url;
    const char* says;
  };
  for (const Case& c :
       {Case{"http://oidc.example.com", "not an https URL"},
        Case{"oidc.example.com", "not an https URL"}, Case{"https://", "no valid host"},
        Case{"https://oidc.example.com:8443", "port"},
        Case{"https://oidc.example.com/a?x=1", "query"},
        Case{"https://oidc.example.com/#f", "query or fragment"},
        Case{"https://user@oidc.example.com", "user information"},
        Case{"https://oidc.example.com/", "ends with '/'"},
        Case{"https://oidc example.com", "host name"},
        Case{"https://oidc.example.com/a b", "path"}}) {
    auto issuer = parse_issuer(c.url);
    ASSERT_FALSE(issuer) << c.url;
    EXPECT_NE(issuer.error().find(c.says), std::string::npos) << issuer.error();
  }
}

TEST(ProviderArn, ParsesPartitionAccountAndIssuer) {
  auto provider = parse_provider_arn("arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1");
  ASSERT_TRUE(provider) << provider.error();
  EXPECT_EQ(provider->partition, "aws");
  EXPECT_EQ(provider->account, "111122223333");
  EXPECT_EQ(provider->issuer.url, "https://oidc.example.com/c1");
  EXPECT_EQ(provider->issuer.host_path, "oidc.example.com/c1");
  EXPECT_TRUE(parse_provider_arn("arn:aws-cn:iam::111122223333:oidc-provider/oidc.example.cn"));
}

TEST(ProviderArn, RefusesOtherShapes) {
  for (const char* arn :
       {"", "arn:aws:iam::111122223333:role/x", "arn:aws:iam::1111:oidc-provider/oidc.example.com",
        "arn:aws:sts::111122223333:oidc-provider/oidc.example.com",
        "arn:aws:iam::111122223333:oidc-provider/",
        "arn:aws:iam::111122223333:oidc-provider/oidc.example.com:443"}) {
    EXPECT_FALSE(parse_provider_arn(arn)) << arn;
  }
}

TEST(ProviderArn, IssuerAndAccountGiveTheArnIamCreates) {
  auto provider = provider_for_issuer(*parse_issuer("https://oidc.example.com/c1"), "111122223333");
  ASSERT_TRUE(provider);
  EXPECT_EQ(provider->arn, "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1");
  EXPECT_FALSE(provider_for_issuer(*parse_issuer("https://oidc.example.com"), "12345"));
}

}  // namespace
}  // namespace irsa::oidc
