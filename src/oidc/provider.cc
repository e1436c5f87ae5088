// Issuer URL and provider ARN validation, with IAM's rules.
#include "oidc/provider.h"

#include <cctype>

namespace irsa::oidc {
namespace {

constexpr std::size_t kMaxIssuerLength = 255;  // IAM's limit on a provider URL

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
}

bool is_path_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~' || c == '/' || c == '%';
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool is_partition(std::string_view text) {
  if (text == "aws") return true;
  if (text.rfind("aws-", 0) != 0 || text.size() == 4) return false;
  for (char c : text) {
    if (!(std::islower(static_cast<unsigned char>(c)) || c == '-')) return false;
  }
  return true;
}

}  // namespace

Result<Issuer> parse_issuer(std::string_view url) {
  const std::string quoted = "issuer \"" + std::string(url) + "\"";
  constexpr std::string_view kScheme = "https://";
  if (url.rfind(kScheme, 0) != 0) {
    return Error{quoted + " is not an https URL; STS fetches the issuer's documents over https"};
  }
  if (url.size() > kMaxIssuerLength) {
    return Error{quoted.substr(0, 40) + "...\" is longer than IAM's 255 characters"};
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Error{quoted + " has a query or fragment; IAM allows a host and a path only"};
  }
  if (rest.find('@') != std::string_view::npos) {
    return Error{quoted + " has user information; IAM allows a host and a path only"};
  }
  std::size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (host.find(':') != std::string_view::npos) {
    return Error{quoted + " has a port; IAM provider URLs cannot carry one"};
  }
  if (host.empty() || host.front() == '.' || host.back() == '.' ||
      host.find("..") != std::string_view::npos) {
    return Error{quoted + " has no valid host name"};
  }
  for (char c : host) {
    if (!is_host_char(c)) return Error{quoted + " has a character not allowed in a host name"};
  }
  if (!path.empty()) {
    if (path.back() == '/') {
      return Error{quoted + " ends with '/'; drop it (the token's iss must match exactly)"};
    }
    if (path.find("//") != std::string_view::npos)
      return Error{quoted + " has an empty path segment"};
    for (char c : path) {
      if (!is_path_char(c)) return Error{quoted + " has a character not allowed in its path"};
    }
  }
  return Issuer{std::string(url), std::string(rest)};
}

Result<Provider> parse_provider_arn(std::string_view arn) {
  const std::string quoted = "provider ARN \"" + std::string(arn) + "\"";
  const std::string shape = " is not arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH]";
  if (arn.rfind("arn:", 0) != 0) return Error{quoted + shape};
  std::string_view rest = arn.substr(4);
  std::size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return Error{quoted + shape};
  std::string_view partition = rest.substr(0, colon);
  rest = rest.substr(colon + 1);
  constexpr std::string_view kService = "iam::";
  if (!is_partition(partition) || rest.rfind(kService, 0) != 0) return Error{quoted + shape};
  rest = rest.substr(kService.size());
  colon = rest.find(':');
  if (colon == std::string_view::npos) return Error{quoted + shape};
  std::string_view account = rest.substr(0, colon);
  if (account.size() != 12 || !all_digits(account)) {
    return Error{quoted + " has an account id that is not 12 digits"};
  }
  rest = rest.substr(colon + 1);
  constexpr std::string_view kResource = "oidc-provider/";
  if (rest.rfind(kResource, 0) != 0) return Error{quoted + shape};
  auto issuer = parse_issuer("https://" + std::string(rest.substr(kResource.size())));
  if (!issuer) return Error{quoted + ": " + issuer.error()};
  return Provider{std::string(arn), std::string(partition), std::string(account),
                  std::move(*issuer)};
}

Result<Provider> provider_for_issuer(const Issuer& issuer, std::string_view account,
                                     std::string_view partition) {
  if (account.size() != 12 || !all_digits(account)) {
    return Error{"account id \"" + std::string(account) + "\" is not 12 digits"};
  }
  if (!is_partition(partition)) {
    return Error{"partition \"" + std::string(partition) +
                 "\" is not aws, aws-cn, aws-us-gov, ..."};
  }
  std::string arn = "arn:" + std::string(partition) + ":iam::" + std::string(account) +
                    ":oidc-provider/" + issuer.host_path;
  return Provider{std::move(arn), std::string(partition), std::string(account), issuer};
}

}  // namespace irsa::oidc
