// The server's missed-Pod sweep (--report-missed-pods-interval): a thread of
// its own that lists every Pod on a connection of its own, page by page,
// checks each against the identity its ServiceAccount gives now (from the
// webhook's cache: a registry lookup per Pod, never an API call), reports
// the counts after each completed list, and posts one Event per missed Pod,
// rate-limited. It takes no lock of the review path beyond a registry lookup.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "common/thread_annotations.h"
#include "identity/registry.h"
#include "kube/api_client.h"
#include "mutation/options.h"
#include "sweep/missed_pod.h"

namespace irsa::sweep {

struct SweeperOptions {
  std::chrono::milliseconds interval{600000};
  double jitter = 0.1;  // each interval is interval * [0.9, 1.1]
  // The first sweep comes after [0, min(interval, this)).
  std::chrono::milliseconds max_first_delay{30000};
  int page_size = 500;
  std::chrono::milliseconds page_timeout{60000};
  // Events: `events_per_second` on average, `event_burst` at once, at most
  // `max_events_per_sweep` a sweep (the others wait for the next sweep).
  double events_per_second = 2;
  double event_burst = 10;
  std::size_t max_events_per_sweep = 100;
  // Pods remembered as reported (see ReportedPods).
  std::size_t max_reported_pods = 50000;
  // Series of the gauge (namespace, reason): beyond this, the counts go to
  // namespace "_other".
  std::size_t max_series = 10000;
  EventSource source;
  mutation::Options mutation;
};

// One completed sweep.
struct SweepReport {
  std::size_t pods = 0;  // Pods checked
  // Missed Pods by (namespace, reason); reasons are injection_problem_name().
  std::map<std::pair<std::string, std::string>, std::size_t> missed;
  std::chrono::system_clock::time_point finished;
};

enum class EventOutcome { kPosted, kExists, kForbidden, kFailed };

struct SweeperHooks {
  // After each sweep: the report when the list completed, nullptr when it failed.
  std::function<void(const SweepReport*)> on_sweep;
  std::function<void(EventOutcome)> on_event;
  // True when the ServiceAccount cache has its first full list: before it,
  // every injected Pod would look like one whose identity was removed.
  std::function<bool()> ready;
};

class MissedPodSweeper {
 public:
  // `client`, `resolver` must outlive the sweeper.
  MissedPodSweeper(std::shared_ptr<const kube::ApiClient> client,
                   const identity::IdentityResolver& resolver, SweeperOptions options,
                   SweeperHooks hooks);
  ~MissedPodSweeper();
  MissedPodSweeper(const MissedPodSweeper&) = delete;
  MissedPodSweeper& operator=(const MissedPodSweeper&) = delete;

  void start();
  // Stops the thread (an HTTP request in progress is cancelled); idempotent.
  void stop();

 private:
  void run();
  // Waits until `until` or stop(); false when stopping.
  bool wait_until(std::chrono::steady_clock::time_point until);
  bool sweep(kube::Connection& connection);
  // Posts this sweep's Events at the bucket's pace until `until` at most.
  void post_events(kube::Connection& connection, std::chrono::steady_clock::time_point until);

  std::shared_ptr<const kube::ApiClient> client_;
  const identity::IdentityResolver& resolver_;
  SweeperOptions options_;
  SweeperHooks hooks_;

  Mutex mutex_;
  std::condition_variable_any wake_;
  bool stopping_ IRSA_GUARDED_BY(mutex_) = false;
  kube::Connection* connection_ IRSA_GUARDED_BY(mutex_) = nullptr;
  std::thread thread_;

  // The sweep thread's own state.
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace irsa::sweep
