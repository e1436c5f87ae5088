// The sweep loop: wait (jittered), list Pods, publish the counts, post the
// Events of this sweep at the bucket's pace; every wait ends on stop().
#include "sweep/sweeper.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <random>
#include <vector>

#include "common/quote.h"
#include "kube/list_pager.h"
#include "log/log.h"
#include "sweep/pacing.h"

namespace irsa::sweep {
namespace {

// Pods that are not running are left out by the API server where it can;
// check_pod leaves them out again (a server that ignores the selector).
constexpr char kPhaseSelector[] = "status.phase!=Succeeded,status.phase!=Failed";
constexpr char kOtherNamespaces[] = "_other";
constexpr int kSweepNice = 10;

}  // namespace

struct MissedPodSweeper::State {
  explicit State(const SweeperOptions& options)
      : bucket(options.events_per_second, options.event_burst, std::chrono::steady_clock::now()),
        reported(options.max_reported_pods) {}
  simdjson::dom::parser parser;
  TokenBucket bucket;
  ReportedPods reported;
  std::vector<MissedPod> to_report;  // this sweep's, at most max_events_per_sweep
  std::mt19937_64 random{std::random_device{}()};
  bool list_failing = false;
  bool events_forbidden = false;

  double random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(random); }
};

MissedPodSweeper::MissedPodSweeper(std::shared_ptr<const kube::ApiClient> client,
                                   const identity::IdentityResolver& resolver,
                                   SweeperOptions options, SweeperHooks hooks)
    : client_(std::move(client)),
      resolver_(resolver),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      state_(std::make_unique<State>(options_)) {}

MissedPodSweeper::~MissedPodSweeper() { stop(); }

void MissedPodSweeper::start() {
  {
    MutexLock lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void MissedPodSweeper::stop() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
    if (connection_) connection_->cancel();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool MissedPodSweeper::wait_until(std::chrono::steady_clock::time_point until) {
  MutexLock lock(mutex_);
  // Bounded: each wait ends at `until` at the latest, or at stop().
  while (!stopping_ && std::chrono::steady_clock::now() < until) {
    wake_.wait_until(mutex_, until);
  }
  return !stopping_;
}

void MissedPodSweeper::run() {
  // Reviews first: on a busy node the sweep's parsing yields the CPU to them
  // (a nice value for this thread only; left as is when refused).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kSweepNice);
  auto connection = client_->connect();
  {
    MutexLock lock(mutex_);
    if (stopping_) return;
    connection_ = connection.get();
  }
  State& state = *state_;
  auto next = std::chrono::steady_clock::now() +
              first_delay(options_.interval, options_.max_first_delay, state.random01());
  while (wait_until(next)) {
    if (hooks_.ready && !hooks_.ready()) {
      // The cache is not filled yet: look again soon, not a whole interval later.
      next = std::chrono::steady_clock::now() +
             std::min(options_.interval, std::chrono::milliseconds(1000));
      continue;
    }
    const bool listed = sweep(*connection);
    next = std::chrono::steady_clock::now() +
           jittered(options_.interval, options_.jitter, state.random01());
    // Events go out while waiting for the next sweep, never delaying it: the
    // Pods left over get theirs from a later sweep.
    if (listed) post_events(*connection, next);
  }
  MutexLock lock(mutex_);
  connection_ = nullptr;
}

bool MissedPodSweeper::sweep(kube::Connection& connection) {
  State& state = *state_;
  SweepReport report;
  std::vector<MissedPod> to_report;
  auto lookup = [this](std::string_view namespace_name, std::string_view service_account) {
    return resolver_.resolve(namespace_name, service_account);
  };
  state.reported.begin_sweep();
  auto on_item = [&](std::string_view item) {
    simdjson::dom::element root;
    if (state.parser.parse(item.data(), item.size()).get(root) != simdjson::SUCCESS) return true;
    ++report.pods;
    auto checked = check_pod(root, lookup, options_.mutation);
    if (checked.verdict != PodVerdict::kMissed) return true;
    MissedPod& missed = *checked.missed;
    std::pair<std::string, std::string> key{
        missed.namespace_name, std::string(mutation::injection_problem_name(missed.check.problem))};
    if (report.missed.count(key) == 0 && report.missed.size() >= options_.max_series) {
      key.first = kOtherNamespaces;
    }
    ++report.missed[key];
    if (missed.uid.empty() || state.reported.seen(missed.uid)) return true;
    if (to_report.size() < options_.max_events_per_sweep) to_report.push_back(std::move(missed));
    return true;
  };
  auto on_restart = [&] {
    report.pods = 0;
    report.missed.clear();
    to_report.clear();
  };
  kube::PagedListOptions list;
  list.collection_path = "/api/v1/pods";
  list.field_selector = kPhaseSelector;
  list.page_size = options_.page_size;
  list.page_timeout = options_.page_timeout;
  auto result = kube::list_all(connection, list, on_item, on_restart);
  if (!result.ok) {
    if (!state.list_failing) {
      std::string error = result.error;
      if (result.status == 403 || result.status == 401) {
        error += " (grant list on pods cluster-wide: manifests/components/report-missed-pods)";
      }
      log::warning("missed-Pod sweep: cannot list Pods; retrying at the next interval",
                   {{"error", one_line(error)}, {"server", client_->describe()}});
    }
    state.list_failing = true;
    if (hooks_.on_sweep) hooks_.on_sweep(nullptr);
    return false;
  }
  if (state.list_failing) log::info("missed-Pod sweep: listing Pods works again");
  state.list_failing = false;
  state.reported.end_sweep();
  report.finished = std::chrono::system_clock::now();
  std::size_t missed = 0;
  for (const auto& [key, count] : report.missed) missed += count;
  log::debug(1, "missed-Pod sweep done",
             {{"pods", std::to_string(report.pods)},
              {"missed", std::to_string(missed)},
              {"new", std::to_string(to_report.size())}});
  if (hooks_.on_sweep) hooks_.on_sweep(&report);
  state.to_report = std::move(to_report);
  return true;
}

void MissedPodSweeper::post_events(kube::Connection& connection,
                                   std::chrono::steady_clock::time_point until) {
  State& state = *state_;
  for (const MissedPod& pod : state.to_report) {
    if (state.reported.full()) break;
    // Paced by the bucket; each wait ends on stop(), and none passes `until`.
    bool in_time = true;
    while (in_time && !state.bucket.take(std::chrono::steady_clock::now())) {
      const auto now = std::chrono::steady_clock::now();
      const auto at = now + state.bucket.wait(now);
      if (at >= until) {
        in_time = false;
      } else if (!wait_until(at)) {
        state.to_report.clear();
        return;
      }
    }
    if (!in_time) break;
    const std::string path =
        "/api/v1/namespaces/" + kube::url_encode(pod.namespace_name) + "/events";
    auto response = connection.post(
        path, "application/json",
        event_json(pod, options_.source, std::chrono::system_clock::now()), "application/json");
    EventOutcome outcome = EventOutcome::kFailed;
    if (response && (response->status == 200 || response->status == 201)) {
      outcome = EventOutcome::kPosted;
    } else if (response && response->status == 409) {
      outcome = EventOutcome::kExists;  // another replica, or this one before a restart
    } else if (response && (response->status == 403 || response->status == 401)) {
      outcome = EventOutcome::kForbidden;
    }
    if (hooks_.on_event) hooks_.on_event(outcome);
    if (outcome == EventOutcome::kPosted || outcome == EventOutcome::kExists) {
      state.reported.add(pod.uid);
      if (state.events_forbidden) log::info("missed-Pod sweep: Events can be created again");
      state.events_forbidden = false;
      continue;
    }
    if (outcome == EventOutcome::kForbidden) {
      // Once per streak; the gauges go on. The Pods stay unreported, so
      // they get their Event once RBAC allows it.
      if (!state.events_forbidden) {
        log::warning(
            "missed-Pod sweep: the API server refuses Events; the gauges still count missed "
            "Pods (grant create on events: manifests/components/report-missed-pods)",
            {{"error", one_line(kube::status_message(response->body))}});
      }
      state.events_forbidden = true;
      break;
    }
    log::warning("missed-Pod sweep: cannot post an Event; the Pod is tried at the next sweep",
                 {{"pod", pod.namespace_name + "/" + pod.name},
                  {"error", one_line(response ? "HTTP " + std::to_string(response->status) + ": " +
                                                    kube::status_message(response->body)
                                              : response.error())}});
    break;  // the API server is unwell: the rest waits for the next sweep
  }
  state.to_report.clear();
}

}  // namespace irsa::sweep
