// Endpoint variables and the AWS partitions' domains.
#include "credentials/endpoints.h"

#include <algorithm>
#include <array>

namespace irsa::credentials {
namespace {

// Variables that point an AWS SDK (or an S3 client reading AWS-style keys)
// at an endpoint. AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>: the AWS
// SDKs and Tools reference guide, "Service-specific endpoints"
// (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
// The others are what S3-compatible setups write beside AWS keys: LocalStack
// and older SDK wrappers (AWS_ENDPOINT), Longhorn's backup target
// (AWS_ENDPOINTS), Terraform's and s3fs-style clients (AWS_S3_ENDPOINT,
// AWS_S3_ENDPOINT_URL, S3_ENDPOINT, S3_ENDPOINT_URL), MLflow
// (MLFLOW_S3_ENDPOINT_URL) and MinIO clients (MINIO_ENDPOINT).
constexpr std::string_view kSdkEndpoint = "AWS_ENDPOINT_URL";
constexpr std::string_view kSdkServicePrefix = "AWS_ENDPOINT_URL_";
constexpr std::array<std::string_view, 8> kOtherEndpoints = {
    "AWS_ENDPOINT", "AWS_ENDPOINTS",   "AWS_S3_ENDPOINT",        "AWS_S3_ENDPOINT_URL",
    "S3_ENDPOINT",  "S3_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL", "MINIO_ENDPOINT"};
constexpr std::string_view kIgnoreConfigured = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS";

// The DNS suffixes of every AWS partition, plain and dual-stack, from the
// SDKs' partition table (partitions.json, "outputs": "dnsSuffix" and
// "dualStackDnsSuffix", as shipped in aws-sdk-js-v3's @aws-sdk/core and the
// other SDKs' endpoint rules): aws and aws-us-gov (amazonaws.com, api.aws),
// aws-cn, aws-eusc (the European Sovereign Cloud), aws-iso, aws-iso-b,
// aws-iso-e and aws-iso-f.
constexpr std::array<std::string_view, 14> kAwsDomains = {
    "amazonaws.com",    "api.aws",
    "amazonaws.com.cn", "api.amazonwebservices.com.cn",
    "amazonaws.eu",     "api.amazonwebservices.eu",
    "c2s.ic.gov",       "api.aws.ic.gov",
    "sc2s.sgov.gov",    "api.aws.scloud",
    "cloud.adc-e.uk",   "api.cloud-aws.adc-e.uk",
    "csp.hci.ic.gov",   "api.aws.hci.ic.gov"};

bool is_sdk_variable(std::string_view name) {
  return name == kSdkEndpoint ||
         (name.size() > kSdkServicePrefix.size() && name.starts_with(kSdkServicePrefix));
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

int rank(EndpointKind kind) {
  switch (kind) {
    case EndpointKind::kNone:
      return 0;
    case EndpointKind::kAws:
      return 1;
    case EndpointKind::kNotVerifiable:
      return 2;
    case EndpointKind::kNonAws:
      return 3;
  }
  return 0;
}

}  // namespace

bool is_endpoint_variable(std::string_view name) {
  return is_sdk_variable(name) ||
         std::find(kOtherEndpoints.begin(), kOtherEndpoints.end(), name) != kOtherEndpoints.end();
}

bool is_aws_host(std::string_view host) {
  return std::any_of(kAwsDomains.begin(), kAwsDomains.end(), [host](std::string_view domain) {
    return host == domain || (host.size() > domain.size() && host.ends_with(domain) &&
                              host[host.size() - domain.size() - 1] == '.');
  });
}

Endpoint classify_endpoint(std::string_view variable, std::string_view value) {
  Endpoint endpoint;
  endpoint.variable = std::string(variable);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return endpoint;  // the SDKs ignore an empty endpoint

  endpoint.kind = EndpointKind::kNotVerifiable;
  // Scheme, if any: letters, digits, '+', '-', '.' then "://".
  std::string_view rest = value;
  if (auto colon = rest.find("://"); colon != std::string_view::npos && colon > 0) {
    std::string_view scheme = rest.substr(0, colon);
    bool is_scheme = std::all_of(scheme.begin(), scheme.end(), [](char c) {
      c = lower(c);
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    });
    if (is_scheme) rest.remove_prefix(colon + 3);
  }
  // Authority: up to the path, query or fragment ('\' too: some URL parsers
  // take it for '/').
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#\\"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);  // userinfo
  }
  std::string_view host;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return endpoint;
    endpoint.kind = EndpointKind::kNonAws;  // an IPv6 literal is no AWS domain
    endpoint.host = std::string(authority.substr(0, close + 1));
    return endpoint;
  }
  host = authority.substr(0, authority.find(':'));
  if (host.find("$(") != std::string_view::npos) return endpoint;  // set at run time
  std::string lowered;
  lowered.reserve(host.size());
  for (char c : host) lowered += lower(c);
  if (!lowered.empty() && lowered.back() == '.') lowered.pop_back();
  if (lowered.empty() || lowered.size() > 253 ||
      !std::all_of(lowered.begin(), lowered.end(), host_char)) {
    return endpoint;
  }
  endpoint.kind = is_aws_host(lowered) ? EndpointKind::kAws : EndpointKind::kNonAws;
  endpoint.host = std::move(lowered);
  return endpoint;
}

Endpoint container_endpoint(const mutation::ContainerView& container) {
  bool ignore_sdk = false;
  for (const auto& env : container.env) {
    if (env.name != kIgnoreConfigured || env.has_value_from) continue;
    std::string value;
    for (char c : env.value) value += lower(c);
    ignore_sdk = value == "true";
  }
  Endpoint verdict;
  for (const auto& env : container.env) {
    if (!is_endpoint_variable(env.name) || (ignore_sdk && is_sdk_variable(env.name))) continue;
    Endpoint endpoint;
    if (env.has_value_from) {
      endpoint.kind = EndpointKind::kNotVerifiable;
      endpoint.variable = std::string(env.name);
    } else {
      endpoint = classify_endpoint(env.name, env.value);
    }
    if (rank(endpoint.kind) > rank(verdict.kind)) verdict = std::move(endpoint);
  }
  return verdict;
}

}  // namespace irsa::credentials
