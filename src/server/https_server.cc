// cpp-httplib parses requests and routes them (its protected
// process_request() on our own TLS stream), while connection_loop.cc owns
// sockets, TLS and threads: httplib's own loop holds a thread per keep-alive
// connection and polls each every 10 ms. Here are the routes and the checks
// that must happen before a request body is read.
#include "server/https_server.h"

#include <netdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>

#include <httplib.h>

#include "log/log.h"
#include "metrics/metrics.h"
#include "server/connection_loop.h"

namespace irsa::server {
namespace {

constexpr char kTextPlain[] = "text/plain; charset=utf-8";

// What the connection must do once the reply has been written, decided by
// the handlers of the request being served on this thread.
struct AfterReply {
  RequestOutcome::After action = RequestOutcome::After::kKeepAlive;
  std::optional<uint64_t> unread_bytes;  // nullopt: unknown (chunked)
};
thread_local AfterReply t_after_reply;

// Exposes httplib's request parser and router to our own connection loop.
class RequestProcessor : public httplib::Server {
 public:
  bool serve(httplib::Stream& stream, bool close_connection, bool& connection_closed) {
    return process_request(stream, close_connection, connection_closed, nullptr);
  }
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// "application/json", any case, with or without parameters ("; charset=utf-8").
bool is_json_media_type(std::string_view content_type) {
  return iequals(trim(content_type.substr(0, content_type.find(';'))), "application/json");
}

// Content-Length as digits only; nullopt when absent; an error when invalid.
Result<std::optional<uint64_t>> content_length(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return std::optional<uint64_t>{};
  const std::string header = req.get_header_value("Content-Length");
  std::string_view text = trim(header);
  if (text.empty() || text.size() > 19) return Error{"invalid Content-Length"};
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return Error{"invalid Content-Length"};
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return std::optional<uint64_t>{value};
}

bool has_body(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 408:
      return "request timeout";
    case 413:
      return "request body too large";
    case 414:
      return "request URI too long";
    case 415:
      return "unsupported media type";
    case 416:
      return "range not satisfiable";
    case 500:
      return "internal error";
    case 503:
      return "service unavailable";
    default:
      return status < 500 ? "request refused" : "server error";
  }
}

// The metrics label for a path: a fixed set, whatever clients send.
std::string_view handler_name(const std::string& path) {
  if (path == "/mutate") return "mutate";
  if (path == "/healthz") return "healthz";
  if (path == "/readyz") return "readyz";
  return "other";
}

void reply_text(httplib::Response& res, int status, std::string_view reason) {
  res.status = status;
  std::string body(reason);
  body += '\n';
  res.set_content(body, kTextPlain);
}

struct Refusal {
  int status;
  std::string reason;
  const char* allow = nullptr;  // the Allow header of a 405
};

// The checks that need only the request line and headers.
std::optional<Refusal> screen(const httplib::Request& req, std::size_t max_request_bytes) {
  const bool mutate = req.path == "/mutate";
  const bool probe = req.path == "/healthz" || req.path == "/readyz";
  if (!mutate && !probe) return Refusal{404, "not found: " + req.path};
  if (probe) {
    if (req.method == "GET" || req.method == "HEAD") return std::nullopt;
    return Refusal{405, "method " + req.method + " not allowed on " + req.path, "GET, HEAD"};
  }
  if (req.method != "POST") {
    return Refusal{405, "method " + req.method + " not allowed on /mutate", "POST"};
  }
  if (!req.has_header("Content-Type")) {
    return Refusal{415, "Content-Type must be application/json, it is missing"};
  }
  if (!is_json_media_type(req.get_header_value("Content-Type"))) {
    return Refusal{415, "Content-Type must be application/json, got " +
                            req.get_header_value("Content-Type").substr(0, 64)};
  }
  auto length = content_length(req);
  if (!length) return Refusal{400, length.error()};
  if (*length && **length > max_request_bytes) {
    return Refusal{413, "request body of " + std::to_string(**length) +
                            " bytes is over the limit of " + std::to_string(max_request_bytes)};
  }
  return std::nullopt;
}

void apply(const Refusal& refusal, httplib::Response& res) {
  reply_text(res, refusal.status, refusal.reason);
  if (refusal.allow) res.set_header("Allow", refusal.allow);
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

std::size_t open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return static_cast<std::size_t>(limit.rlim_cur);
}

}  // namespace

std::size_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  return open_file_limit();
}

struct HttpsServer::Impl {
  ServerOptions options;
  Routes routes;
  metrics::Metrics* metrics = nullptr;
  std::unique_ptr<CertificateStore> certificates;
  SSL_CTX* ctx = nullptr;
  std::unique_ptr<CertificateReloader> reloader;
  std::unique_ptr<RequestProcessor> processor;
  std::unique_ptr<ConnectionLoop> loop;
  int port = 0;
  bool started = false;

  ~Impl() {
    if (ctx) SSL_CTX_free(ctx);
  }

  void install_routes();
  RequestOutcome handle(httplib::Stream& stream, bool must_close);
  void mutate(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& content_reader) const;
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
  impl.ctx = *ctx;

  auto listener = listen_on(options.bind_address, options.port);
  if (!listener) return Error{listener.error()};
  impl.port = bound_port(*listener);

  impl.processor = std::make_unique<RequestProcessor>();
  RequestProcessor& processor = *impl.processor;
  // Advertised in Keep-Alive headers; the loop enforces them.
  processor.set_keep_alive_timeout(std::max<time_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(options.idle_timeout).count()));
  processor.set_keep_alive_max_count(options.keep_alive_max_count > 0
                                         ? options.keep_alive_max_count
                                         : std::numeric_limits<std::size_t>::max());
  processor.set_payload_max_length(options.max_request_bytes);
  impl.install_routes();

  ConnectionLoopOptions loop_options;
  loop_options.read_timeout = options.read_timeout;
  loop_options.write_timeout = options.write_timeout;
  loop_options.idle_timeout = options.idle_timeout;
  loop_options.max_requests_per_connection = options.keep_alive_max_count;
  const std::size_t files = open_file_limit();
  loop_options.max_connections =
      options.max_connections > 0
          ? options.max_connections
          : (files > 512 ? files - 256 : std::max<std::size_t>(files / 2, 16));
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  loop_options.min_workers = options.worker_threads > 0
                                 ? static_cast<std::size_t>(options.worker_threads)
                                 : std::max<std::size_t>(8, 4 * cores);
  loop_options.max_workers = options.max_worker_threads > 0
                                 ? static_cast<std::size_t>(options.max_worker_threads)
                                 : std::max<std::size_t>(256, loop_options.min_workers);
  if (impl.metrics) {
    loop_options.on_connections_changed = [metrics = impl.metrics](std::size_t open) {
      metrics->set_open_connections(open);
    };
  }
  impl.loop = std::make_unique<ConnectionLoop>(*listener, impl.ctx, loop_options,
                                               [&impl](httplib::Stream& stream, bool must_close) {
                                                 return impl.handle(stream, must_close);
                                               });
  if (auto started = impl.loop->start(); !started) {
    impl.loop.reset();
    return Error{"cannot serve on " + options.bind_address + ":" + std::to_string(impl.port) +
                 ": " + started.error()};
  }

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
  impl.reloader->start();
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

RequestOutcome HttpsServer::Impl::handle(httplib::Stream& stream, bool must_close) {
  t_after_reply = AfterReply{};
  bool closed = false;
  const bool ok = processor->serve(stream, must_close, closed);
  const AfterReply after = std::exchange(t_after_reply, AfterReply{});
  RequestOutcome outcome;
  if (after.action == RequestOutcome::After::kDrainThenClose) {
    outcome.after = after.action;
    outcome.unread_bytes = after.unread_bytes;
  } else if (!ok || closed || after.action == RequestOutcome::After::kClose) {
    outcome.after = RequestOutcome::After::kClose;
  }
  return outcome;
}

void HttpsServer::Impl::install_routes() {
  const std::size_t max_bytes = options.max_request_bytes;
  RequestProcessor& server = *processor;

  server.set_pre_routing_handler([max_bytes](const httplib::Request& req, httplib::Response& res) {
    auto refusal = screen(req, max_bytes);
    if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
    apply(*refusal, res);
    if (has_body(req)) {
      // The body stays unread: the connection cannot carry another request.
      res.set_header("Connection", "close");
      t_after_reply.action = RequestOutcome::After::kDrainThenClose;
      if (auto length = content_length(req); length) t_after_reply.unread_bytes = *length;
    }
    return httplib::Server::HandlerResponse::Handled;
  });

  // A client that asks before sending the body is answered before it does.
  server.set_expect_100_continue_handler(
      [max_bytes](const httplib::Request& req, httplib::Response& res) {
        auto refusal = screen(req, max_bytes);
        if (!refusal) return 100;
        apply(*refusal, res);
        // httplib sends this reply without computing its Content-Length.
        res.set_header("Content-Length", std::to_string(res.body.size()));
        res.set_header("Connection", "close");
        t_after_reply.action = RequestOutcome::After::kClose;
        return refusal->status;
      });

  server.Post("/mutate", [this](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& content_reader) {
    mutate(req, res, content_reader);
  });
  server.Get("/healthz",
             [](const httplib::Request&, httplib::Response& res) { reply_text(res, 200, "ok"); });
  server.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (draining()) {
      reply_text(res, 503, "shutting down");
    } else if (!routes.ready || routes.ready()) {
      reply_text(res, 200, "ok");
    } else {
      reply_text(res, 503, "not ready");
    }
  });

  // Replies httplib makes itself (unparsable request line, ...) get a
  // one-line reason too, and end the connection: what follows on the wire
  // cannot be trusted to start a request.
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        reply_text(res, res.status, reason_phrase(res.status));
        if (t_after_reply.action == RequestOutcome::After::kKeepAlive) {
          t_after_reply.action = RequestOutcome::After::kClose;
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
          if (error) std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log::error("request failed", {{"path", req.path}, {"error", what}});
        reply_text(res, 500, "internal error");
      });

  // Runs once the reply is written.
  server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (metrics) metrics->record_http_response(handler_name(req.path), res.status);
    if (log::enabled(4)) {
      std::string status = std::to_string(res.status);
      log::info("http request", {{"method", req.method},
                                 {"path", req.path},
                                 {"status", status},
                                 {"remote", req.remote_addr}});
    }
  });
}

void HttpsServer::Impl::mutate(const httplib::Request& req, httplib::Response& res,
                               const httplib::ContentReader& content_reader) const {
  const std::size_t max_bytes = options.max_request_bytes;
  std::string body;
  if (auto length = content_length(req); length && *length) {
    body.reserve(static_cast<std::size_t>(**length));
  }
  bool too_large = false;
  bool complete = content_reader([&](const char* data, std::size_t size) {
    if (body.size() + size > max_bytes) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  if (!complete) {
    // Part of the body may still be on the wire: end the connection.
    res.set_header("Connection", "close");
    if (too_large || res.status == 413) {
      reply_text(res, 413,
                 "request body is over the limit of " + std::to_string(max_bytes) + " bytes");
      t_after_reply.action = RequestOutcome::After::kDrainThenClose;
    } else {
      reply_text(res, 400, "cannot read the request body");
      t_after_reply.action = RequestOutcome::After::kClose;
    }
    return;
  }
  if (!routes.mutate) {
    reply_text(res, 503, "no handler for /mutate");
    return;
  }
  HttpReply reply = routes.mutate(body);
  res.status = reply.status;
  res.body = std::move(reply.body);
  res.set_header("Content-Type", reply.content_type);
}

}  // namespace irsa::server
