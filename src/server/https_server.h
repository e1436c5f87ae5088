// The HTTPS listener: TLS (with certificate reload), routes (/mutate,
// /healthz, /readyz), request limits, timeouts, many idle keep-alive
// connections, and a graceful drain. Holds no mutation logic: /mutate hands
// the body to a callable.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "server/tls_context.h"

namespace irsa::metrics {
class Metrics;
}

namespace irsa::server {

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 443;  // 0: an ephemeral port, see HttpsServer::port()
  // PEM certificate chain (leaf first) and the leaf's private key; by
  // default where AWS's webhook and manifests/ mount the Secret.
  std::string tls_cert_file = "/etc/webhook/certs/tls.crt";
  std::string tls_key_file = "/etc/webhook/certs/tls.key";
  TlsSettings tls;
  // How often the certificate and key files are checked for a change.
  std::chrono::milliseconds certificate_poll_interval{1000};
  std::size_t max_request_bytes = 4 * 1024 * 1024;
  // Threads serving requests: this many at least (0: max(8, 4 * cores)),
  // more while requests wait on slow clients, up to max_worker_threads
  // (0: max(256, worker_threads)). Idle connections take no thread.
  int worker_threads = 0;
  int max_worker_threads = 0;
  // 0: the open-files limit less a reserve for everything else.
  std::size_t max_connections = 0;
  // A request (line, headers, body) must arrive within read_timeout of its
  // first byte, and a new connection must finish its TLS handshake within
  // it; a reply must be written within write_timeout. An idle keep-alive
  // connection is closed after idle_timeout (longer than the API server's
  // 90 s, so that it is the client that closes).
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds idle_timeout{120000};
  // Requests per connection before a reply says Connection: close (0: no
  // limit); lets clients spread over replicas as they come and go.
  std::size_t keep_alive_max_count = 10000;
  // The request line and headers: at most this many bytes (431 past it) and
  // this many header fields (431).
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_headers = 64;
  // Request bodies and replies held across all connections at once; a body
  // that does not fit waits for room within its read deadline.
  std::size_t max_bytes_in_flight = 64 * 1024 * 1024;
  // I/O threads (0: one per core, at most 4).
  int io_threads = 0;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct Routes {
  // POST /mutate: called with the body of a request that passed the checks
  // (application/json, at most max_request_bytes), from many threads at once.
  // May block (a ServiceAccount lookup): it runs on a worker thread.
  std::function<HttpReply(std::string_view body)> mutate;
  // The same answer without blocking, on an I/O thread; nullopt when the
  // answer would wait (mutate is then called on a worker). Unset: every
  // review goes to a worker.
  std::function<std::optional<HttpReply>(std::string_view body)> mutate_now;
  // GET /readyz answers 200 "ok" when this returns true, else 503. Unset:
  // always ready. Once draining, always 503. /healthz always answers 200
  // "ok" while serving.
  std::function<bool()> ready;
};

// Answers, before the body is read and with a one-line text reason: 404 for
// an unknown path, 405 (with Allow) for a wrong method, 415 when /mutate's
// Content-Type is not application/json (parameters allowed), 413 when the
// body is over max_request_bytes; and what HTTP framing cannot read
// unambiguously (see http_request.h) with 400, 431, 501 or 505. A
// connection whose request is refused is closed after the reply (having
// drained a bounded amount of an unread body, so the client reads the reply
// rather than a reset).
class HttpsServer {
 public:
  // `metrics` (optional) must outlive the server; it receives HTTP
  // responses, open connections and certificate reloads.
  HttpsServer(ServerOptions options, Routes routes, metrics::Metrics* metrics = nullptr);
  ~HttpsServer();  // stop()
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Loads the certificate and key, binds the address and serves on threads
  // this object owns; from then on the certificate files are followed. The
  // error names what failed: an unreadable or mismatched certificate/key, a
  // TLS setting, an address or port in use. Call at most once.
  Status start();

  // The bound port once started; the kernel's choice when options.port is 0.
  int port() const;
  std::size_t open_connections() const;

  // Graceful stop, bounded by `grace`: /readyz answers 503 and every reply
  // says Connection: close at once, idle keep-alive connections are closed;
  // new connections are still served for `accept_for` (while the Service
  // stops routing here), then the listener closes and the requests in
  // progress finish. Whatever is still open at `grace` is closed. Returns
  // the number of connections cut that way (0: a clean drain).
  std::size_t shutdown(std::chrono::milliseconds accept_for, std::chrono::milliseconds grace);

  // Stops at once: requests in progress fail. Joins every thread.
  // Idempotent; safe to call without start().
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Raises the soft limit on open files to the hard limit (a thousand
// connections need a thousand descriptors); returns the soft limit in force.
std::size_t raise_open_file_limit();

}  // namespace irsa::server
