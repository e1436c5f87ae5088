// Closing the race with new ServiceAccounts: when a Pod's ServiceAccount is
// not in the registry yet, wait for the watch to bring it and meanwhile GET it
// from the API server directly, both bounded by the caller's deadline. The
// GETs run on a few worker threads behind a bounded queue and a rate limit, so
// a burst of Pods cannot turn into a burst of API requests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "identity/identity.h"
#include "identity/registry.h"
#include "kube/api_client.h"

namespace irsa::kube {

struct ServiceAccountLookupOptions {
  std::string annotation_prefix = "eks.amazonaws.com";
  int workers = 2;
  // Lookups waiting for a worker; more are not queued (they still wait for
  // the watch). AWS's webhook queues 10.
  std::size_t max_queued = 10;
  // Token bucket for the GETs.
  double requests_per_second = 10;
  int burst = 10;
};

class ServiceAccountLookup {
 public:
  enum class Source {
    kCache,     // the registry knew it (maybe after waiting for the watch)
    kApi,       // the direct GET found it first
    kNotFound,  // the API server says it does not exist
    kTimedOut,  // neither answered before the deadline
  };
  struct Outcome {
    Source source = Source::kTimedOut;
    // The ServiceAccount's settings when found (kCache or kApi).
    std::optional<identity::ServiceAccountSettings> settings;
  };
  struct Stats {
    std::uint64_t lookups = 0;
    std::uint64_t requests = 0;  // GETs sent
    std::uint64_t not_queued = 0;
  };

  // `client` and `registry` must outlive the lookup.
  ServiceAccountLookup(std::shared_ptr<const ApiClient> client,
                       const identity::ServiceAccountRegistry& registry,
                       ServiceAccountLookupOptions options);
  ~ServiceAccountLookup();  // stop()
  ServiceAccountLookup(const ServiceAccountLookup&) = delete;
  ServiceAccountLookup& operator=(const ServiceAccountLookup&) = delete;

  void start();
  // Stops the workers (cancelling GETs in flight) and joins them. Idempotent.
  void stop();

  // Thread-safe. Returns at the latest at `deadline` (plus scheduling).
  Outcome await(std::string_view namespace_name, std::string_view name,
                std::chrono::steady_clock::time_point deadline);

  Stats stats() const;

 private:
  struct Pending;
  struct Worker;

  void run(Worker& worker);
  bool take_token();
  void fetch(Worker& worker, Pending& pending, std::chrono::steady_clock::time_point deadline);

  std::shared_ptr<const ApiClient> client_;
  const identity::ServiceAccountRegistry& registry_;
  ServiceAccountLookupOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<std::shared_ptr<Pending>> queue_;
  std::unordered_map<std::string, std::shared_ptr<Pending>> in_progress_;  // queued or fetching
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
  Stats stats_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace irsa::kube
