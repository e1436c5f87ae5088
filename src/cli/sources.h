// Where the webhook's knowledge comes from, started from the flags: the
// ServiceAccounts (a file, or the API server through a kubeconfig, --kube-api
// or the in-cluster config), the pod-identity-webhook ConfigMap, and the
// container-credentials file (followed as it changes).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admission/review_handler.h"
#include "cli/config.h"
#include "common/result.h"
#include "identity/registry.h"
#include "identity/service_accounts_file.h"

namespace irsa::kube {
class ApiClient;
}  // namespace irsa::kube

namespace irsa::cli {

class Sources {
 public:
  virtual ~Sources() = default;
  // Ready to answer reviews: the first full list of ServiceAccounts (and of
  // the ConfigMap, when watched) is in. A file source is ready at once.
  virtual bool ready() const = 0;
  // The grace-period wait and direct read for ServiceAccounts not in the
  // cache yet, and --unknown-service-account.
  virtual admission::UnknownServiceAccounts unknown_service_accounts() = 0;
  // Restarts of each list+watch so far (a list after the first: expired,
  // broken or failed watches), by resource ("serviceaccounts",
  // "configmaps"); empty for a file source.
  virtual std::map<std::string, std::uint64_t> watch_restarts() const = 0;
  // The API server's client, shared by whatever else reads it (the
  // missed-Pod sweep, on connections of its own); nullptr for a file source.
  virtual std::shared_ptr<const kube::ApiClient> api_client() const = 0;
  // Stops every thread the sources own. Idempotent.
  virtual void stop() = 0;
};

// Builds and starts the sources. An error says what is wrong with the flags,
// the file or the kubeconfig. `registry` and `resolver` must outlive them.
// Everything a start checks before it binds a port or connects out, so that
// --check-config and a start fail alike, with the same message: the serving
// certificate and key (read, paired, not expired, naming
// SERVICE.NAMESPACE.svc when --service-name and --namespace are both given),
// the ServiceAccounts file (it holds ServiceAccounts) or the kubeconfig and
// its credentials (or the in-cluster config), and the container-credentials
// file. `now` is seconds since the epoch. What it read that a start uses
// is kept, so a start reads it once.
struct Preflight {
  // The --service-accounts-file's ServiceAccounts, when that is the source.
  std::optional<std::vector<identity::ServiceAccountRecord>> service_accounts;
};
Result<Preflight> preflight(const Config& config, int64_t now);

Result<std::unique_ptr<Sources>> start_sources(const Config& config, Preflight checked,
                                               identity::ServiceAccountRegistry& registry,
                                               identity::IdentityResolver& resolver);

}  // namespace irsa::cli
