// The identity of an IAM OIDC provider: its issuer URL, the host/path IAM
// names it by (and prefixes condition keys with), and its ARN.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace irsa::oidc {

// A service-account issuer URL as kube-apiserver puts it in `iss` and IAM
// registers it.
struct Issuer {
  std::string url;        // https://HOST[/PATH], exactly the token's `iss`
  std::string host_path;  // HOST[/PATH]: the provider name and condition-key prefix
};

// Accepts https://HOST[/PATH] as IAM does: https only, no port, query,
// fragment, user info or trailing slash, at most 255 characters. The error
// says what to change.
Result<Issuer> parse_issuer(std::string_view url);

// An IAM OIDC identity provider: arn:PARTITION:iam::ACCOUNT:oidc-provider/HOST[/PATH].
struct Provider {
  std::string arn;
  std::string partition;
  std::string account;
  Issuer issuer;
};

// Parses a provider ARN; the host/path must be a valid issuer.
Result<Provider> parse_provider_arn(std::string_view arn);

// The provider IAM creates for `issuer` in `account` (12 digits).
Result<Provider> provider_for_issuer(const Issuer& issuer, std::string_view account,
                                     std::string_view partition = "aws");

}  // namespace irsa::oidc
