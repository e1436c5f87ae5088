// The container-credentials (EKS Pod Identity) config: which ServiceAccounts
// get AWS_CONTAINER_CREDENTIALS_FULL_URI instead of web identity. Same JSON as
// AWS's webhook reads with --watch-container-credentials-config:
//   {"identities": [{"namespace": "default", "serviceAccount": "app"}]}
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace irsa::identity {

class ContainerCredentialsConfig {
 public:
  void add(std::string namespace_name, std::string service_account);
  bool contains(std::string_view namespace_name, std::string_view service_account) const;
  std::size_t size() const { return identities_.size(); }

 private:
  // Orders (namespace, name) pairs of std::string and std::string_view alike,
  // so that contains() looks up without allocating.
  struct PairLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::pair<std::string_view, std::string_view>(a.first, a.second) <
             std::pair<std::string_view, std::string_view>(b.first, b.second);
    }
  };
  std::set<std::pair<std::string, std::string>, PairLess> identities_;
};

// Parses the config text; an error names what is wrong and where.
Result<ContainerCredentialsConfig> parse_container_credentials_config(std::string_view json_text);

// Reads and parses the file at `path`.
Result<ContainerCredentialsConfig> load_container_credentials_config(const std::string& path);

}  // namespace irsa::identity
