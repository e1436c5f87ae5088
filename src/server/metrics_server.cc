// cpp-httplib's plain Server with its own small thread pool: scrapes are a
// few a minute, so its thread-per-connection model is fine here.
#include "server/metrics_server.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include <httplib.h>

#include "metrics/metrics.h"

namespace irsa::server {

struct MetricsServer::Impl {
  MetricsServerOptions options;
  MetricsRoutes routes;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
  int port = 0;
};

MetricsServer::MetricsServer(MetricsServerOptions options, MetricsRoutes routes)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->routes = std::move(routes);
}

MetricsServer::~MetricsServer() { stop(); }

int MetricsServer::port() const { return impl_->port; }

Status MetricsServer::start() {
  Impl& impl = *impl_;
  if (impl.thread.joinable()) return Error{"the metrics server was already started"};
  httplib::Server& server = impl.server;
  server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  server.set_read_timeout(std::chrono::seconds(5));
  server.set_write_timeout(std::chrono::seconds(5));
  server.set_keep_alive_timeout(5);
  server.set_payload_max_length(64 * 1024);
  server.set_socket_options([](int socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (impl.routes.metrics) {
    server.Get("/metrics", [&impl](const httplib::Request&, httplib::Response& res) {
      res.set_content(impl.routes.metrics(), std::string(metrics::kTextFormatContentType));
    });
  }
  if (impl.routes.debug_cache) {
    server.Get("/debug/alpha/cache", [&impl](const httplib::Request&, httplib::Response& res) {
      res.set_content(impl.routes.debug_cache(), "application/json");
    });
  }
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty()) res.set_content("not found: " + req.path + "\n", "text/plain");
  });

  const std::string where = impl.options.bind_address + ":" + std::to_string(impl.options.port);
  errno = 0;
  if (impl.options.port == 0) {
    impl.port = server.bind_to_any_port(impl.options.bind_address);
    if (impl.port < 0) impl.port = 0;
  } else if (server.bind_to_port(impl.options.bind_address, impl.options.port)) {
    impl.port = impl.options.port;
  }
  if (impl.port == 0) {
    std::string message = "cannot listen on " + where + " (metrics)";
    if (errno != 0) message += std::string(": ") + std::strerror(errno);
    return Error{std::move(message)};
  }
  impl.thread = std::thread([&impl] {
    impl.server.listen_after_bind();
    impl.finished.store(true);
  });
  return Ok{};
}

void MetricsServer::stop() {
  Impl& impl = *impl_;
  if (!impl.thread.joinable()) return;
  // httplib's stop() does nothing until the listener thread has started
  // accepting, so it is repeated until that thread has ended (bounded by the
  // thread's start-up, milliseconds).
  while (!impl.finished.load()) {
    impl.server.stop();
    for (int i = 0; i < 20 && !impl.finished.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  impl.thread.join();
}

}  // namespace irsa::server
