// The webhook port's application: routes (/mutate, /healthz, /readyz) and
// the checks made on a request's head before its body is read, on top of
// connection_loop.cc, which owns sockets, TLS, HTTP framing and threads.
#include "server/https_server.h"

#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>

#include <limits>

#include "common/openssl.h"
#include "common/quote.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "server/connection_loop.h"
#include "server/defaults.h"

namespace irsa::server {
namespace {

constexpr char kTextPlain[] = "text/plain; charset=utf-8";

// "application/json", any case, with or without parameters ("; charset=utf-8").
bool is_json_media_type(std::string_view content_type) {
  return iequals_ascii(trim_whitespace(content_type.substr(0, content_type.find(';'))),
                       "application/json");
}

// The metrics label for a path: a fixed set, whatever clients send.
std::string_view handler_name(const std::string& path) {
  if (path == "/mutate") return "mutate";
  if (path == "/healthz") return "healthz";
  if (path == "/readyz") return "readyz";
  return "other";
}

HttpResponse text_response(int status, std::string_view reason) {
  HttpResponse response;
  response.status = status;
  response.content_type = kTextPlain;
  response.body = std::string(reason) + "\n";
  return response;
}

// The checks that need only the request line and headers.
std::optional<HttpResponse> screen_head(const HttpRequest& req) {
  const bool mutate = req.path == "/mutate";
  const bool probe = req.path == "/healthz" || req.path == "/readyz";
  if (!mutate && !probe) return text_response(404, "not found: " + name_or_quote(req.path, 128));
  if (probe) {
    if (req.method == "GET" || req.method == "HEAD") return std::nullopt;
    auto refusal =
        text_response(405, "method " + name_or_quote(req.method) + " not allowed on " + req.path);
    refusal.headers.emplace_back("Allow", "GET, HEAD");
    return refusal;
  }
  if (req.method != "POST") {
    auto refusal =
        text_response(405, "method " + name_or_quote(req.method) + " not allowed on /mutate");
    refusal.headers.emplace_back("Allow", "POST");
    return refusal;
  }
  auto content_type = req.header("Content-Type");
  if (!content_type) {
    return text_response(415, "Content-Type must be application/json, it is missing");
  }
  if (!is_json_media_type(*content_type)) {
    return text_response(
        415, "Content-Type must be application/json, got " + one_line(content_type->substr(0, 64)));
  }
  return std::nullopt;
}

// A bound, listening socket for `address`:`port`; the error names both.
Result<int> listen_on(const std::string& address, int port) {
  const std::string where = address + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int error = ::getaddrinfo(address.empty() ? nullptr : address.c_str(), service.c_str(),
                                &hints, &found);
      error != 0) {
    return Error{"cannot listen on " + where + ": " + gai_strerror(error)};
  }
  std::string failure = "no address";
  int fd = -1;
  for (addrinfo* each = found; each && fd < 0; each = each->ai_next) {
    fd = ::socket(each->ai_family, each->ai_socktype | SOCK_CLOEXEC, each->ai_protocol);
    if (fd < 0) {
      failure = std::strerror(errno);
      continue;
    }
    // SO_REUSEADDR allows quick restarts; not SO_REUSEPORT, which would let a
    // second webhook bind the same port silently.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, each->ai_addr, each->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      failure = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return Error{"cannot listen on " + where + ": " + failure};
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return 0;
}

}  // namespace

std::size_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  return defaults::open_file_limit();
}

struct HttpsServer::Impl final : HttpApplication {
  ServerOptions options;
  Routes routes;
  metrics::Metrics* metrics = nullptr;
  std::unique_ptr<CertificateStore> certificates;
  openssl::SslContext ctx;  // uses `certificates`; used by `loop`
  std::unique_ptr<CertificateReloader> reloader;
  std::unique_ptr<ConnectionLoop> loop;
  int port = 0;
  bool started = false;

  std::optional<HttpResponse> screen(const HttpRequest& head) override { return screen_head(head); }
  std::optional<HttpResponse> respond(const HttpRequest& request, bool may_block) override;
  void completed(const HttpRequest& request, const HttpResponse& response,
                 const std::string& remote) override;
  bool draining() const { return loop && loop->draining(); }
};

HttpsServer::HttpsServer(ServerOptions options, Routes routes, metrics::Metrics* metrics)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->routes = std::move(routes);
  impl_->metrics = metrics;
}

HttpsServer::~HttpsServer() { stop(); }

int HttpsServer::port() const { return impl_->port; }

std::size_t HttpsServer::open_connections() const {
  return impl_->loop ? impl_->loop->open_connections() : 0;
}

Status HttpsServer::start() {
  Impl& impl = *impl_;
  if (impl.started) return Error{"the server was already started"};
  impl.started = true;
  const ServerOptions& options = impl.options;
  // A client that disconnects mid-reply must not kill the process: OpenSSL
  // writes with write(2).
  ::signal(SIGPIPE, SIG_IGN);

  auto pair = CertifiedKey::load(options.tls_cert_file, options.tls_key_file);
  if (!pair) return Error{pair.error()};
  if ((*pair)->not_after() <= static_cast<int64_t>(std::time(nullptr))) {
    log::warning("the TLS certificate has expired; serving it until it is replaced",
                 {{"file", options.tls_cert_file}, {"serial", (*pair)->serial()}});
  }
  if (impl.metrics) impl.metrics->set_certificate_expiry((*pair)->not_after());
  impl.certificates = std::make_unique<CertificateStore>(*pair);
  auto ctx = make_server_context(options.tls, *impl.certificates);
  if (!ctx) return Error{ctx.error()};
  impl.ctx = std::move(*ctx);

  CertificateReloaderOptions reload;
  reload.cert_file = options.tls_cert_file;
  reload.key_file = options.tls_key_file;
  reload.poll_interval = options.certificate_poll_interval;
  reload.on_reload = [metrics = impl.metrics](bool success, const CertifiedKey* in_service) {
    if (!metrics) return;
    metrics->record_certificate_reload(success);
    if (in_service) metrics->set_certificate_expiry(in_service->not_after());
  };
  impl.reloader = std::make_unique<CertificateReloader>(*impl.certificates, std::move(reload));
  if (auto following = impl.reloader->start(); !following) return Error{following.error()};

  auto listener = listen_on(options.bind_address, options.port);
  if (!listener) return Error{listener.error()};
  impl.port = bound_port(*listener);

  ConnectionLoopOptions loop_options;
  loop_options.read_timeout = options.read_timeout;
  loop_options.write_timeout = options.write_timeout;
  loop_options.idle_timeout = options.idle_timeout;
  loop_options.max_requests_per_connection = options.keep_alive_max_count;
  loop_options.limits.max_body_bytes = options.max_request_bytes;
  loop_options.limits.max_header_bytes = options.max_header_bytes;
  loop_options.limits.max_headers = options.max_headers;
  loop_options.max_bytes_in_flight = options.max_bytes_in_flight;
  loop_options.io_threads = static_cast<std::size_t>(std::max(0, options.io_threads));
  loop_options.max_connections = options.max_connections > 0
                                     ? options.max_connections
                                     : defaults::max_connections(defaults::open_file_limit());
  loop_options.min_workers = options.worker_threads > 0
                                 ? static_cast<std::size_t>(options.worker_threads)
                                 : defaults::worker_threads(defaults::cores());
  loop_options.max_workers = options.max_worker_threads > 0
                                 ? static_cast<std::size_t>(options.max_worker_threads)
                                 : defaults::max_worker_threads(loop_options.min_workers);
  if (impl.metrics) {
    loop_options.on_connections_changed = [metrics = impl.metrics](std::size_t open) {
      metrics->set_open_connections(open);
    };
  }
  impl.loop = std::make_unique<ConnectionLoop>(*listener, impl.ctx.get(), loop_options, impl);
  if (auto started = impl.loop->start(); !started) {
    impl.loop.reset();
    return Error{"cannot serve on " + options.bind_address + ":" + std::to_string(impl.port) +
                 ": " + started.error()};
  }

  log::debug(2, "serving limits",
             {{"max_connections", std::to_string(loop_options.max_connections)},
              {"worker_threads", std::to_string(loop_options.min_workers)},
              {"max_worker_threads", std::to_string(loop_options.max_workers)}});
  return Ok{};
}

std::size_t HttpsServer::shutdown(std::chrono::milliseconds accept_for,
                                  std::chrono::milliseconds grace) {
  Impl& impl = *impl_;
  if (!impl.loop) {
    stop();
    return 0;
  }
  const auto begin = std::chrono::steady_clock::now();
  const auto deadline = begin + grace;
  impl.loop->drain();
  log::info("draining: /readyz answers 503, replies close their connections",
            {{"open_connections", std::to_string(impl.loop->open_connections())}});
  std::this_thread::sleep_until(begin + std::min(accept_for, grace));
  impl.loop->stop_accepting();
  std::size_t cut = 0;
  if (!impl.loop->wait_closed(deadline)) {
    cut = impl.loop->open_connections();
    log::warning("shutdown grace period over; closing connections still open",
                 {{"connections", std::to_string(cut)}});
  }
  stop();
  return cut;
}

void HttpsServer::stop() {
  Impl& impl = *impl_;
  if (impl.reloader) impl.reloader->stop();
  if (impl.loop) impl.loop->stop();
}

std::optional<HttpResponse> HttpsServer::Impl::respond(const HttpRequest& request, bool may_block) {
  if (request.path == "/healthz") return text_response(200, "ok");
  if (request.path == "/readyz") {
    if (draining()) return text_response(503, "shutting down");
    if (!routes.ready || routes.ready()) return text_response(200, "ok");
    return text_response(503, "not ready");
  }
  std::optional<HttpReply> reply;
  if (may_block) {
    if (!routes.mutate) return text_response(503, "no handler for /mutate");
    reply = routes.mutate(request.body);
  } else if (routes.mutate_now) {
    reply = routes.mutate_now(request.body);
  } else if (!routes.mutate) {
    return text_response(503, "no handler for /mutate");
  }
  if (!reply) return std::nullopt;
  HttpResponse response;
  response.status = reply->status;
  response.content_type = std::move(reply->content_type);
  response.body = std::move(reply->body);
  return response;
}

void HttpsServer::Impl::completed(const HttpRequest& request, const HttpResponse& response,
                                  const std::string& remote) {
  if (metrics) {
    metrics->record_http_response(handler_name(request.path), response.status);
    // AWS's webhook's http_request_* for its one instrumented route, for
    // requests whose head was read (as a Go handler sees them).
    if (request.path == "/mutate" && request.head_at != Clock::time_point{}) {
      metrics->record_mutate_request(request.method, response.status,
                                     Clock::now() - request.head_at);
    }
  }
  if (log::enabled(4)) {
    log::info("http request", {{"method", request.method},
                               {"path", request.path},
                               {"status", std::to_string(response.status)},
                               {"remote", remote}});
  }
}

}  // namespace irsa::server
