// Secrets among `audit`'s inputs: their key names and which values are
// shaped like an AWS credentials file, and the static credentials a workload
// gets through them. Only `audit` reads Secrets; the webhook never does.
// Values are decoded one at a time, checked and dropped: a SecretIndex holds
// names and facts, never a value.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "credentials/static_credentials.h"

namespace irsa::cli {

// True when `text` has an `aws_access_key_id` or `aws_secret_access_key`
// line (any case, any spacing around '=', in any profile): the shape of
// ~/.aws/credentials (or of a config file that holds keys).
bool looks_like_credentials_file(std::string_view text);

struct SecretFacts {
  std::set<std::string, std::less<>> keys;  // data and stringData key names
  // The keys whose value looks_like_credentials_file.
  std::set<std::string, std::less<>> credentials_file_keys;
};

class SecretIndex {
 public:
  // Records `document` when it is a v1 Secret (metadata.namespace, "default"
  // when absent); returns whether it was one. `data` values are base64
  // (undecodable ones count by name only); `stringData` as written.
  bool add(const nlohmann::json& document);
  const SecretFacts* find(std::string_view namespace_name, std::string_view name) const;
  bool empty() const { return secrets_.empty(); }

 private:
  std::map<std::pair<std::string, std::string>, SecretFacts, std::less<>> secrets_;
};

// The static credentials that `pod` (a v1 Pod as manifest::workload_pod
// gives it) gets through Secrets in `index`, and that `seen` (the webhook's
// own findings on the same Pod) does not already hold: envFrom of a Secret
// with AWS key names (after its prefix), env secretKeyRef and Secret volume
// (or projected Secret source) mounts whose value is a credentials file. All
// are Handling::kSecretContent.
std::vector<credentials::Finding> secret_findings(const nlohmann::json& pod,
                                                  std::string_view namespace_name,
                                                  const SecretIndex& index,
                                                  const std::vector<credentials::Finding>& seen);

}  // namespace irsa::cli
