// Endpoint variables and AWS hosts: which keys are for a non-AWS endpoint.
#include "credentials/endpoints.h"

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

namespace irsa::credentials {
namespace {

struct HostCase {
  const char* value;
  EndpointKind kind;
  const char* host;
};

TEST(ClassifyEndpoint, ParsesUrlsAsTheSdksDo) {
  const HostCase cases[] = {
      {"http://minio.storage:9000", EndpointKind::kNonAws, "minio.storage"},
      {"minio.storage:9000", EndpointKind::kNonAws, "minio.storage"},
      {"localstack:4566", EndpointKind::kNonAws, "localstack"},
      {"https://s3.us-east-1.amazonaws.com", EndpointKind::kAws, "s3.us-east-1.amazonaws.com"},
      {"https://S3.US-EAST-1.AmazonAWS.com/", EndpointKind::kAws, "s3.us-east-1.amazonaws.com"},
      {"https://s3.amazonaws.com.:443/bucket?x=1", EndpointKind::kAws, "s3.amazonaws.com"},
      {"https://bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com", EndpointKind::kAws,
       "bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com"},
      {"https://s3.cn-north-1.amazonaws.com.cn", EndpointKind::kAws,
       "s3.cn-north-1.amazonaws.com.cn"},
      {"https://s3.dualstack.us-east-1.api.aws", EndpointKind::kAws,
       "s3.dualstack.us-east-1.api.aws"},
      {"https://s3.us-iso-east-1.c2s.ic.gov", EndpointKind::kAws, "s3.us-iso-east-1.c2s.ic.gov"},
      {"https://s3.us-isob-east-1.sc2s.sgov.gov", EndpointKind::kAws,
       "s3.us-isob-east-1.sc2s.sgov.gov"},
      {"https://s3.eu-isoe-west-1.cloud.adc-e.uk", EndpointKind::kAws,
       "s3.eu-isoe-west-1.cloud.adc-e.uk"},
      {"https://s3.us-isof-south-1.csp.hci.ic.gov", EndpointKind::kAws,
       "s3.us-isof-south-1.csp.hci.ic.gov"},
      {"https://s3.eusc-de-east-1.amazonaws.eu", EndpointKind::kAws,
       "s3.eusc-de-east-1.amazonaws.eu"},
      // Suffixes match on a dot boundary only.
      {"https://evilamazonaws.com", EndpointKind::kNonAws, "evilamazonaws.com"},
      {"https://amazonaws.com.evil.example", EndpointKind::kNonAws, "amazonaws.com.evil.example"},
      {"https://s3.amazonaws.com.cn.evil", EndpointKind::kNonAws, "s3.amazonaws.com.cn.evil"},
      {"https://notapi.aws", EndpointKind::kNonAws, "notapi.aws"},
      {"https://ic.gov", EndpointKind::kNonAws, "ic.gov"},
      // Userinfo is not the host; the last '@' ends it.
      {"http://s3.amazonaws.com@minio:9000", EndpointKind::kNonAws, "minio"},
      {"http://user:pa@ss@s3.amazonaws.com", EndpointKind::kAws, "s3.amazonaws.com"},
      {"http://minio\\@s3.amazonaws.com", EndpointKind::kNonAws, "minio"},
      // IP literals are no AWS domain.
      {"http://[::1]:9000", EndpointKind::kNonAws, "[::1]"},
      {"http://10.0.0.5:9000", EndpointKind::kNonAws, "10.0.0.5"},
      // Not verifiable: set at run time, or unreadable.
      {"$(MINIO_URL)", EndpointKind::kNotVerifiable, ""},
      {"http://$(MINIO_HOST):9000", EndpointKind::kNotVerifiable, ""},
      {"http://", EndpointKind::kNotVerifiable, ""},
      {"http://[::1", EndpointKind::kNotVerifiable, ""},
      {"http://exa mple.com", EndpointKind::kNotVerifiable, ""},
      {"http://bad\x01host", EndpointKind::kNotVerifiable, ""},
      // A reference after the host does not hide it.
      {"http://minio:$(PORT)", EndpointKind::kNonAws, "minio"},
      {"https://s3.amazonaws.com/$(BUCKET)", EndpointKind::kAws, "s3.amazonaws.com"},
      // The SDKs ignore an empty endpoint.
      {"", EndpointKind::kNone, ""},
      {"  ", EndpointKind::kNone, ""},
  };
  for (const auto& c : cases) {
    Endpoint endpoint = classify_endpoint("AWS_ENDPOINT_URL", c.value);
    EXPECT_EQ(endpoint.kind, c.kind) << c.value;
    EXPECT_EQ(endpoint.host, c.host) << c.value;
    EXPECT_EQ(endpoint.variable, "AWS_ENDPOINT_URL");
  }
}

TEST(IsEndpointVariable, SdkVariablesAndTheCommonS3Ones) {
  for (const char* name :
       {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT",
        "AWS_S3_ENDPOINT", "S3_ENDPOINT", "S3_ENDPOINT_URL", "AWS_S3_ENDPOINT_URL",
        "MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINTS", "MINIO_ENDPOINT"}) {
    EXPECT_TRUE(is_endpoint_variable(name)) << name;
  }
  for (const char* name : {"AWS_ENDPOINT_URL_", "AWS_REGION", "ENDPOINT", "aws_endpoint_url",
                           "CARTS_DYNAMODB_ENDPOINT", "AWS_STS_REGIONAL_ENDPOINTS"}) {
    EXPECT_FALSE(is_endpoint_variable(name)) << name;
  }
}

// The container's own env, read as simdjson reads the Pod.
Endpoint of(const std::string& env_json) {
  std::string text = R"({"spec":{"containers":[{"name":"app","env":)" + env_json + "}]}}";
  static simdjson::dom::parser parser;
  auto pod = mutation::read_pod(parser.parse(text).value());
  EXPECT_TRUE(pod.ok());
  return container_endpoint(pod->containers[0]);
}

TEST(ContainerEndpoint, NonAwsWinsOverUnverifiableOverAws) {
  EXPECT_EQ(of(R"([])").kind, EndpointKind::kNone);
  EXPECT_EQ(of(R"([{"name":"AWS_ENDPOINT_URL","value":""}])").kind, EndpointKind::kNone);
  EXPECT_EQ(
      of(R"([{"name":"AWS_ENDPOINT_URL_S3","value":"https://s3.us-west-2.amazonaws.com"}])").kind,
      EndpointKind::kAws);
  auto verdict = of(R"([{"name":"AWS_ENDPOINT_URL_STS","value":"https://sts.amazonaws.com"},
    {"name":"AWS_ENDPOINT_URL","valueFrom":{"configMapKeyRef":{"name":"c","key":"k"}}},
    {"name":"S3_ENDPOINT","value":"http://minio.storage:9000"}])");
  EXPECT_EQ(verdict.kind, EndpointKind::kNonAws);
  EXPECT_EQ(verdict.variable, "S3_ENDPOINT");
  EXPECT_EQ(verdict.host, "minio.storage");
  verdict = of(R"([{"name":"AWS_ENDPOINT_URL","valueFrom":{"fieldRef":{"fieldPath":"x"}}}])");
  EXPECT_EQ(verdict.kind, EndpointKind::kNotVerifiable);
  EXPECT_EQ(verdict.variable, "AWS_ENDPOINT_URL");
}

TEST(ContainerEndpoint, IgnoreConfiguredEndpointUrlsSendsTheSdkToAws) {
  EXPECT_EQ(of(R"([{"name":"AWS_ENDPOINT_URL","value":"http://localstack:4566"},
    {"name":"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS","value":"TRUE"}])")
                .kind,
            EndpointKind::kNone);
  // Only the SDK's own variables: an S3 client's endpoint still counts.
  EXPECT_EQ(of(R"([{"name":"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS","value":"true"},
    {"name":"S3_ENDPOINT","value":"http://minio:9000"}])")
                .kind,
            EndpointKind::kNonAws);
  EXPECT_EQ(of(R"([{"name":"AWS_ENDPOINT_URL","value":"http://localstack:4566"},
    {"name":"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS","value":"false"}])")
                .kind,
            EndpointKind::kNonAws);
}

}  // namespace
}  // namespace irsa::credentials
