// The HTTPS listener: TLS set-up, routes (/mutate, /healthz, /readyz),
// request limits and a graceful stop. Holds no mutation logic: /mutate hands
// the body to a callable.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace irsa::server {

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 443;             // 0: an ephemeral port, see HttpsServer::port()
  std::string tls_cert_file;  // PEM certificate chain, leaf first
  std::string tls_key_file;   // PEM private key of the leaf
  std::size_t max_request_bytes = 4 * 1024 * 1024;
  int worker_threads = 0;  // 0: max(8, 4 * cores)
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds write_timeout{10};
  std::chrono::seconds keep_alive_timeout{120};
  std::size_t keep_alive_max_count = 10000;  // requests per connection
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct Routes {
  // POST /mutate: called with the body of a request that passed the checks
  // (application/json, at most max_request_bytes), from many threads at once.
  std::function<HttpReply(std::string_view body)> mutate;
  // GET /readyz answers 200 "ok" when this returns true, else 503. Unset:
  // always ready. /healthz always answers 200 "ok" while serving.
  std::function<bool()> ready;
};

// Answers, before the body is read and with a one-line text reason: 404 for
// an unknown path, 405 (with Allow) for a wrong method, 415 when /mutate's
// Content-Type is not application/json (parameters allowed), 413 when the
// body is over max_request_bytes. A connection whose request body is refused
// unread is closed after the reply (having drained a bounded amount, so the
// client reads the reply rather than a reset).
class HttpsServer {
 public:
  HttpsServer(ServerOptions options, Routes routes);
  ~HttpsServer();  // stop()
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Loads the certificate and key (TLS 1.2 or later), binds the address and
  // serves on a thread this object owns. The error names what failed: an
  // unreadable or mismatched certificate/key, an address or port in use.
  // Call at most once.
  Status start();

  // The bound port once started; the kernel's choice when options.port is 0.
  int port() const;

  // Stops accepting, lets requests in progress finish, joins every thread.
  // Idempotent; safe to call without start().
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace irsa::server
