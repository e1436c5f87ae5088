// `irsa-webhook audit --from-cluster`: the running cluster's static AWS
// credentials, Pods that missed their identity, and ServiceAccounts whose
// annotations look wrong, per workload, read from the API server page by page.
#pragma once

#include <string>

#include "cli/config.h"

namespace irsa::cli {

struct ClusterAuditArgs {
  std::string namespace_name;                // "" for every namespace
  std::string selector;                      // label selector for workloads and Pods
  std::string container_credentials_config;  // optional file
  std::string config_map_namespace = "eks";  // where the pod-identity-webhook ConfigMap is
  bool read_config_map = false;
  int page_size = 500;
  bool json = false;
};

// Reads the cluster (config.serve's --kubeconfig / --kube-api, else the
// in-cluster config) and prints the report on stdout. Exit status: 0 nothing
// to fix, 1 something to fix, 2 the cluster could not be read.
int run_cluster_audit(const ClusterAuditArgs& args, const Config& config);

}  // namespace irsa::cli
