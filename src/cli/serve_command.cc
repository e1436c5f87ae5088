// The serve command: wires flags -> registry, resolver, review handler and
// HTTPS server, then waits for SIGTERM/SIGINT to stop gracefully.
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>
#ifdef __GLIBC__
#endif

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "admission/review_handler.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/sources.h"
#include "identity/container_credentials.h"
#include "identity/registry.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "server/debug_cache.h"
#include "server/https_server.h"
#include "server/metrics_server.h"
#include "sweep/sweeper.h"

namespace irsa::cli {
namespace {

int startup_error(const std::string& message) {
  std::fprintf(stderr, "irsa-webhook: %s\n", message.c_str());
  return 1;
}

// A number in [0, 1) for token-expiration jitter; each thread has its own
// generator, so calls never contend.
double random_jitter() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  thread_local std::uniform_real_distribution<double> distribution(0.0, 1.0);
  return distribution(generator);
}

server::HttpReply to_http_reply(admission::HandleResult result) {
  server::HttpReply reply;
  reply.status = result.http_status;
  reply.content_type = result.http_status == 200 ? "application/json" : "text/plain; charset=utf-8";
  reply.body = std::move(result.body);
  return reply;
}

void record_review(metrics::Metrics& metrics, const admission::HandleResult& result,
                   std::chrono::nanoseconds elapsed) {
  using admission::Outcome;
  metrics::ReviewOutcome outcome = metrics::ReviewOutcome::kError;
  if (result.outcome == Outcome::kMutated) outcome = metrics::ReviewOutcome::kMutated;
  if (result.outcome == Outcome::kUnchanged) outcome = metrics::ReviewOutcome::kUnchanged;
  if (result.outcome == Outcome::kDenied) outcome = metrics::ReviewOutcome::kDenied;
  metrics.record_review(outcome, elapsed);
  if (result.outcome == Outcome::kMutated && result.mode) {
    metrics.record_mutation(*result.mode == identity::Mode::kWebIdentity
                                ? metrics::MutationMode::kWebIdentity
                                : metrics::MutationMode::kContainerCredentials);
  }
  if (result.static_credentials_removed > 0) {
    metrics.record_static_credentials_removed(result.static_credentials_removed);
  }
  if (result.resolved_mode) {
    metrics.record_pod_identity(*result.resolved_mode == identity::Mode::kWebIdentity
                                    ? metrics::MutationMode::kWebIdentity
                                    : metrics::MutationMode::kContainerCredentials);
  }
  if (result.service_account_missing) metrics.record_service_account_missing();
  if (result.refusal == admission::Refusal::kDuplicateKey) {
    metrics.record_refusal(metrics::Refusal::kDuplicateKey);
  } else if (result.refusal == admission::Refusal::kResponseTooLarge) {
    metrics.record_refusal(metrics::Refusal::kResponseTooLarge);
  }
}

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

// The Events' reportingInstance: the host name, which in a cluster is the
// webhook's Pod's name.
std::string instance_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "irsa-webhook";
  return name;
}

std::string_view event_result_name(sweep::EventOutcome outcome) {
  switch (outcome) {
    case sweep::EventOutcome::kPosted:
      return "posted";
    case sweep::EventOutcome::kExists:
      return "exists";
    case sweep::EventOutcome::kForbidden:
      return "forbidden";
    case sweep::EventOutcome::kFailed:
      break;
  }
  return "error";
}

// --report-missed-pods-interval: the sweep, on its own thread and its own
// connection, reading the ServiceAccounts from the cache the reviews use.
std::unique_ptr<sweep::MissedPodSweeper> start_sweeper(const Config& config, Sources& sources,
                                                       const identity::IdentityResolver& resolver,
                                                       metrics::Metrics& metrics) {
  const double interval = config.serve.report_missed_pods_interval_seconds;
  auto client = sources.api_client();
  if (interval <= 0 || !client) return nullptr;
  sweep::SweeperOptions options;
  options.interval = millis(interval);
  options.mutation = config.mutation;
  options.source.instance = instance_name();
  sweep::SweeperHooks hooks;
  hooks.ready = [&sources] { return sources.ready(); };
  hooks.on_sweep = [&metrics](const sweep::SweepReport* report) {
    if (!report) {
      metrics.record_missed_pods_sweep_failed();
      return;
    }
    metrics.set_missed_pods(
        report->missed, std::chrono::duration<double>(report->finished.time_since_epoch()).count());
  };
  hooks.on_event = [&metrics](sweep::EventOutcome outcome) {
    metrics.record_missed_pod_event(event_result_name(outcome));
  };
  auto sweeper = std::make_unique<sweep::MissedPodSweeper>(std::move(client), resolver,
                                                           std::move(options), std::move(hooks));
  sweeper->start();
  char every[32];
  std::snprintf(every, sizeof every, "%gs", interval);
  log::info("reporting Pods that missed their identity", {{"interval", every}});
  return sweeper;
}

}  // namespace

int run_serve(const Config& config, Preflight checked) {
  log::configure(config.log_format == LogFormat::kJson ? log::Format::kJson : log::Format::kText,
                 config.verbosity);
  for (const auto& flag : config.not_implemented) {
    log::warning("flag accepted but not implemented yet", {{"flag", flag}});
  }

  // Blocked before any thread starts, so every thread inherits the mask and
  // the signals reach only the sigwait() below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
    return startup_error("cannot block SIGTERM/SIGINT");
  }
#ifdef __GLIBC__
  // Buffers of large reviews (bodies, parsed documents, replies) come from
  // mmap and go back to the system when freed. Otherwise glibc raises this
  // threshold to the largest block freed so far (up to 32 MiB), and a burst
  // of large reviews left ~60 MiB in its arenas for good.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
  // A thousand connections need a thousand descriptors.
  log::debug(2, "open files limit", {{"soft", std::to_string(server::raise_open_file_limit())}});

  const ServeConfig& serve = config.serve;
  identity::ServiceAccountRegistry registry;
  identity::IdentityResolver resolver(registry, config.identity);
  auto sources = start_sources(config, std::move(checked), registry, resolver);
  if (!sources) return startup_error(sources.error());

  admission::ReviewHandler handler(resolver, config.mutation, config.static_credentials,
                                   random_jitter, (*sources)->unknown_service_accounts(),
                                   admission::ReviewLimits{serve.max_response_bytes});

  metrics::Metrics metrics(version(), git_revision());
  metrics.add_scrape_hook([&registry](metrics::Metrics& m) {
    const std::size_t cached = registry.size();
    m.set_service_accounts_cached(cached);
    // AWS's pod_identity_webhook_used: 1 once the cache has held a
    // ServiceAccount (every namespace has one), and it stays 1.
    if (cached > 0) m.set_webhook_used();
  });
  // Restarts are counted by the reflectors; each scrape adds what is new.
  metrics.add_scrape_hook([&sources = **sources, seen = std::map<std::string, std::uint64_t>()](
                              metrics::Metrics& m) mutable {
    for (const auto& [resource, restarts] : sources.watch_restarts()) {
      for (auto& counted = seen[resource]; counted < restarts; ++counted) {
        m.record_watch_restart(resource);
      }
    }
  });

  auto sweeper = start_sweeper(config, **sources, resolver, metrics);

  server::Routes routes;
  routes.mutate = [&handler, &metrics](std::string_view body) {
    const auto begin = std::chrono::steady_clock::now();
    admission::HandleResult result = handler.handle(body);
    record_review(metrics, result, std::chrono::steady_clock::now() - begin);
    return to_http_reply(std::move(result));
  };
  // The usual review (its ServiceAccount cached) is answered on the I/O
  // thread that read it; one that must wait for a lookup goes to a worker.
  routes.mutate_now = [&handler,
                       &metrics](std::string_view body) -> std::optional<server::HttpReply> {
    const auto begin = std::chrono::steady_clock::now();
    std::optional<admission::HandleResult> result = handler.try_handle(body);
    if (!result) return std::nullopt;
    record_review(metrics, *result, std::chrono::steady_clock::now() - begin);
    return to_http_reply(std::move(*result));
  };
  routes.ready = [&sources = **sources] { return sources.ready(); };

  // --metrics-port 0: no metrics listener. A port that cannot be bound stops
  // the start, as a busy admission port does: a half-configured replica that
  // looks healthy is worse than one that says what to fix.
  std::unique_ptr<server::MetricsServer> metrics_server;
  if (serve.metrics_port != 0) {
    server::MetricsRoutes metrics_routes;
    metrics_routes.metrics = [&metrics] { return metrics.scrape(); };
    if (serve.enable_debugging_handlers) {
      metrics_routes.debug_cache = [&resolver] {
        return server::service_account_cache_json(resolver);
      };
    }
    metrics_server = std::make_unique<server::MetricsServer>(
        server::MetricsServerOptions{serve.server.bind_address, serve.metrics_port},
        std::move(metrics_routes));
    if (auto started = metrics_server->start(); !started) {
      return startup_error(started.error() +
                           "; free the port, choose another with --metrics-port, or turn metrics "
                           "off with --metrics-port 0");
    }
    log::info("serving metrics", {{"address", serve.server.bind_address + ":" +
                                                  std::to_string(metrics_server->port())}});
  }

  server::HttpsServer https(serve.server, std::move(routes), &metrics);
  if (auto started = https.start(); !started) return startup_error(started.error());
  std::string address = serve.server.bind_address + ":" + std::to_string(https.port());
  log::info("listening", {{"address", address}});

  int signal_number = 0;
  if (int error = sigwait(&stop_signals, &signal_number); error != 0) {
    log::error("cannot wait for SIGTERM/SIGINT", {{"error", std::strerror(error)}});
  }
  log::info("shutting down", {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  // /readyz turns 503 and replies say Connection: close at once; new
  // connections are served for the delay; requests in progress finish.
  https.shutdown(millis(serve.shutdown_delay_seconds), millis(serve.shutdown_grace_seconds));
  if (sweeper) sweeper->stop();
  if (metrics_server) metrics_server->stop();
  (*sources)->stop();
  log::info("stopped");
  return 0;
}

}  // namespace irsa::cli
