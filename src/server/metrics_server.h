// The metrics port: plain HTTP, for Prometheus and for people debugging.
// GET /metrics (text exposition format) and, when enabled, GET
// /debug/alpha/cache (the ServiceAccounts the webhook knows, as JSON, like
// AWS's webhook with --enable-debugging-handlers).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace irsa::server {

struct MetricsServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 9999;  // 0: an ephemeral port, see MetricsServer::port()
};

struct MetricsRoutes {
  // GET /metrics: the scrape text. Unset: 404.
  std::function<std::string()> metrics;
  // GET /debug/alpha/cache: a JSON document. Unset: 404.
  std::function<std::string()> debug_cache;
};

class MetricsServer {
 public:
  MetricsServer(MetricsServerOptions options, MetricsRoutes routes);
  ~MetricsServer();  // stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and serves on a thread this object owns. The error names the
  // address when it cannot listen. Call at most once.
  Status start();
  int port() const;
  // Idempotent; joins every thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace irsa::server
