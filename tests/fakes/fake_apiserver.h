// A fake Kubernetes API server for tests and benchmarks, on 127.0.0.1, that
// speaks the real wire format for ServiceAccounts and ConfigMaps: JSON lists
// with limit/continue, PartialObjectMetadata on request, chunked watch
// streams with bookmarks, 410 Gone for compacted resourceVersions and expired
// continue tokens, ERROR events, bearer-token or client-certificate auth.
// It also holds other objects as they are given (Pods, Deployments,
// StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, Secrets) and lists
// them, cluster-wide or per namespace, with limit/continue and labelSelector
// (=, ==, !=, in, notin, exists, !exists); a resource can be denied (403
// Forbidden Status); Events POSTed are recorded.
// Faults are injected through its methods: dropped watches, failing and slow
// responses, refused metadata, quiet watches, restarts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"

namespace irsa::fakes {

struct FakeApiServerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;  // 0: the kernel picks; a restart keeps the port
  bool tls = true;
  std::string cert_file;            // PEM, for tls
  std::string key_file;             // PEM, for tls
  std::string client_ca_file;       // when set, a client certificate signed by it is required
  std::vector<std::string> tokens;  // accepted bearer tokens; empty: no token needed
  std::uint64_t initial_resource_version = 1000;
  std::chrono::milliseconds bookmark_interval{1000};
  std::size_t history_limit = 100000;  // events kept for watches to resume from
  // false: a list at resourceVersion=0 ignores limit and returns everything
  // in one response, as kube-apiserver's watch cache did before 1.33.
  bool paginate_cached_lists = true;
  int threads = 48;
};

struct RecordedRequest {
  std::string path;
  std::map<std::string, std::string> params;
  std::string accept;
};

struct FakeStats {
  int lists = 0;    // list requests (pages)
  int watches = 0;  // watch requests
  int gets = 0;     // single-object GETs
  int unauthorized = 0;
  int failed_on_purpose = 0;
  int active_watches = 0;
};

class FakeApiServer {
 public:
  explicit FakeApiServer(FakeApiServerOptions options);
  ~FakeApiServer();  // stop()
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // Binds and serves on a thread this object owns. After stop(), start()
  // again serves the same store on the same port (a restart).
  Status start();
  // Closes the listener and every connection (watches end abruptly); joins.
  void stop();
  bool running() const;
  int port() const;
  // "https://127.0.0.1:PORT" (or http://).
  std::string url() const;

  // The store. Each change is an event for watches; returns its resourceVersion.
  std::uint64_t put_service_account(const std::string& namespace_name, const std::string& name,
                                    const std::map<std::string, std::string>& annotations = {});
  bool delete_service_account(const std::string& namespace_name, const std::string& name);
  std::uint64_t put_config_map(const std::string& namespace_name, const std::string& name,
                               const std::map<std::string, std::string>& data);
  bool delete_config_map(const std::string& namespace_name, const std::string& name);
  // Many ServiceAccounts at once, without events (before clients connect):
  // "workload-service-account-N" in namespaces "team-namespace-M"; every
  // `annotated_every`-th has a role-arn
  // annotation (0: none).
  void generate_service_accounts(std::size_t count, std::size_t namespaces,
                                 std::size_t annotated_every, const std::string& prefix);
  std::uint64_t resource_version() const;
  std::size_t service_account_count() const;

  // Any other object, stored as given (JSON text with kind, metadata.name and
  // metadata.namespace; kind one of Pod, Secret, Deployment, StatefulSet,
  // DaemonSet, ReplicaSet, Job, CronJob). No watch events. The error says
  // what is wrong with it.
  Status put_object(const std::string& json_text);
  // How many objects of a resource ("pods") are held.
  std::size_t object_count(const std::string& resource) const;
  // Requests for `resource` ("secrets", "pods", ...) get 403 Forbidden, as
  // RBAC answers them; an empty list allows everything again.
  void set_denied_resources(std::vector<std::string> resources);
  // The next `count` list requests that carry a continue token get 410 Gone
  // (an expired token, as after an etcd compaction).
  void expire_next_continues(int count);
  // Events POSTed to /api/v1/namespaces/NS/events, as received.
  std::vector<std::string> events() const;

  // Faults.
  // Forgets the event history and continue tokens: watches and lists from an
  // older resourceVersion get 410 Gone.
  void expire_history();
  // Cuts every open watch without ending its chunked body.
  void drop_watches();
  // Sends an ERROR event (a Status with `code`) on every open watch and ends it.
  void send_error_event(int code, const std::string& reason, const std::string& message);
  // The next `count` API requests are answered with `status` and a Status body.
  void fail_next_requests(int count, int status);
  // Every API response waits this long first.
  void set_response_delay(std::chrono::milliseconds delay);
  // Answer 406 to requests asking for PartialObjectMetadata.
  void set_refuse_metadata(bool refuse);
  // Watches send nothing at all (no events, no bookmarks) while set.
  void set_stall_watches(bool stall);
  void set_tokens(std::vector<std::string> tokens);

  FakeStats stats() const;
  std::vector<RecordedRequest> requests() const;
  void clear_requests();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace irsa::fakes
