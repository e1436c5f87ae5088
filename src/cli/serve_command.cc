// The serve command: wires flags -> registry, resolver, review handler and
// HTTPS server, then waits for SIGTERM/SIGINT to stop gracefully.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "admission/review_handler.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/sources.h"
#include "identity/registry.h"
#include "log/log.h"
#include "server/https_server.h"

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

}  // namespace

int run_serve(const Config& config) {
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
  // A client that disconnects mid-reply must not kill the process (OpenSSL
  // writes with write(2)).
  signal(SIGPIPE, SIG_IGN);

  const ServeConfig& serve = config.serve;
  identity::ServiceAccountRegistry registry;
  identity::IdentityResolver resolver(registry, config.identity);
  auto sources = start_sources(config, registry, resolver);
  if (!sources) return startup_error(sources.error());

  admission::ReviewHandler handler(resolver, config.mutation, config.static_credentials,
                                   random_jitter, (*sources)->unknown_service_accounts());

  server::ServerOptions options;
  options.bind_address = serve.bind_address;
  options.port = serve.port;
  options.tls_cert_file = serve.tls_cert;
  options.tls_key_file = serve.tls_key;
  options.max_request_bytes = serve.max_request_bytes;
  options.worker_threads = serve.worker_threads;

  server::Routes routes;
  routes.mutate = [&handler](std::string_view body) { return to_http_reply(handler.handle(body)); };
  routes.ready = [&sources = **sources] { return sources.ready(); };

  server::HttpsServer https(std::move(options), std::move(routes));
  if (auto started = https.start(); !started) return startup_error(started.error());
  std::string address = serve.bind_address + ":" + std::to_string(https.port());
  log::info("listening", {{"address", address}});

  int signal_number = 0;
  if (int error = sigwait(&stop_signals, &signal_number); error != 0) {
    log::error("cannot wait for SIGTERM/SIGINT", {{"error", std::strerror(error)}});
  }
  log::info("shutting down", {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  https.stop();
  (*sources)->stop();
  log::info("stopped");
  return 0;
}

}  // namespace irsa::cli
