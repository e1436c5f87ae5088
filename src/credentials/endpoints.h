// Where a container's AWS SDK sends its requests: the endpoint variables in
// its own environment and whether their hosts are AWS's. Pure; reads only the
// container's literal env values, never prints them.
#pragma once

#include <string>
#include <string_view>

#include "mutation/pod_view.h"

namespace irsa::credentials {

enum class EndpointKind {
  kNone,           // no endpoint variable (or only empty ones): the SDK goes to AWS
  kAws,            // every endpoint host is AWS's (a partition domain, a VPC endpoint)
  kNonAws,         // some endpoint host is not AWS's (MinIO, LocalStack, an IP, ...)
  kNotVerifiable,  // some endpoint comes from valueFrom or a $(VAR) in its host
};

struct Endpoint {
  EndpointKind kind = EndpointKind::kNone;
  std::string variable;  // the deciding variable (the first non-AWS, else unverifiable)
  std::string host;      // its host, lower case; empty when not verifiable
};

// The endpoint variables the webhook reads, in one table (docs/reference.md
// lists the same): the SDKs' AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>,
// and the S3-compatible ones that manifests use.
bool is_endpoint_variable(std::string_view name);

// The host of an endpoint URL `value` (scheme optional, userinfo, port, IPv6
// literal, path): lower case, one trailing dot dropped. kNone for an empty
// value, kNotVerifiable when the host holds a $(VAR) reference or cannot be
// read, else kAws or kNonAws by is_aws_host.
Endpoint classify_endpoint(std::string_view variable, std::string_view value);

// True when `host` (lower case, no trailing dot) is or ends, on a dot
// boundary, with a domain of an AWS partition: "evilamazonaws.com" is not.
bool is_aws_host(std::string_view host);

// The container's verdict over all its endpoint variables: kNonAws if any is,
// else kNotVerifiable if any is, else kAws if any is, else kNone. The SDK
// variables (AWS_ENDPOINT_URL*) are ignored when the container sets
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true, as the SDKs do.
Endpoint container_endpoint(const mutation::ContainerView& container);

}  // namespace irsa::credentials
