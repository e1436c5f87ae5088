// Velero BackupStorageLocations among `audit`'s inputs: the S3 endpoint that
// the keys of Velero's credentials Secret are for. The endpoint sits in the
// location (spec.config.s3Url), not in the Velero Pod, so neither the
// container-level endpoint rule nor the webhook (which sees only the Pod at
// admission) can tell these keys from AWS keys: audit reports them apart.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "credentials/static_credentials.h"

namespace irsa::cli {

// A location whose S3 endpoint is not AWS's.
struct NonAwsBackupLocation {
  std::string namespace_name;  // metadata.namespace ("velero" when absent, Velero's default)
  std::string name;
  std::string secret;  // spec.credential.name, else Velero's default "cloud-credentials"
  std::string host;    // the s3Url's host, lower case
};

class BackupLocations {
 public:
  // Records `document` when it is a BackupStorageLocation (velero.io, or
  // ark.heptio.com of Velero's Ark days) of the AWS object-store plugin
  // (provider "aws" or "velero.io/aws") whose spec.config.s3Url host is not
  // AWS's (credentials::classify_endpoint says kNonAws). Returns whether
  // `document` was a BackupStorageLocation at all, recorded or not.
  bool add(const nlohmann::json& document);
  bool empty() const { return locations_.empty(); }
  const std::vector<NonAwsBackupLocation>& locations() const { return locations_; }

 private:
  std::vector<NonAwsBackupLocation> locations_;
};

// Sets apart, in `findings` (the webhook's findings on `pod`, a v1 Pod as
// manifest::workload_pod gives it, in `namespace_name`), the removable ones
// that come from the credentials Secret of a non-AWS location in the same
// namespace: the Secret's volumes (also as a projected source), and the
// findings of each container that mounts one of them or reads the Secret by
// envFrom or secretKeyRef. They get Handling::kNonAwsEndpointOutsidePod and
// `endpoint` "BackupStorageLocation <ns>/<name> s3Url <host>". Returns how
// many it changed.
std::size_t mark_backup_location_keys(const nlohmann::json& pod, std::string_view namespace_name,
                                      const BackupLocations& locations,
                                      std::vector<credentials::Finding>& findings);

}  // namespace irsa::cli
