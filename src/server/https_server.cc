// cpp-httplib's SSLServer, configured through its runtime setters (Debian's
// build is a compiled library: the CPPHTTPLIB_* compile-time knobs do not
// apply), with the checks that must happen before a request body is read.
#include "server/https_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log/log.h"

namespace irsa::server {
namespace {

constexpr char kTextPlain[] = "text/plain; charset=utf-8";

// TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 uses OpenSSL's
// defaults, which are all of that kind.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// After refusing a body unread, how much of it is read and dropped so that
// the client, still sending, gets to read the reply instead of a reset.
constexpr std::size_t kDrainMaxBytes = 32 * 1024 * 1024;
constexpr auto kDrainMaxTime = std::chrono::seconds(2);

// httplib listens with a backlog of 5 (compiled in), which drops connection
// attempts when many clients connect at once; a second listen() on the bound
// socket raises it in place.
class TlsListener : public httplib::SSLServer {
 public:
  using httplib::SSLServer::SSLServer;
  void raise_backlog() { ::listen(svr_sock_.load(), SOMAXCONN); }
};

// What the connection must do once the reply has been written (the logger
// runs then, on the thread that served the request).
struct AfterReply {
  enum class Action { kNone, kClose, kDrainThenClose };
  Action action = Action::kNone;
  std::optional<uint64_t> unread_bytes;  // nullopt: unknown (chunked)
};
thread_local AfterReply t_after_reply;

std::string openssl_error() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::optional<std::string> unreadable(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return std::string(std::strerror(errno));
  std::fclose(file);
  return std::nullopt;
}

bool configure_tls(SSL_CTX& ctx, const ServerOptions& options, std::string& error) {
  ERR_clear_error();
  if (auto why = unreadable(options.tls_cert_file)) {
    error = "cannot read the TLS certificate " + options.tls_cert_file + ": " + *why;
    return false;
  }
  if (auto why = unreadable(options.tls_key_file)) {
    error = "cannot read the TLS key " + options.tls_key_file + ": " + *why;
    return false;
  }
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      &ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(&ctx, kTls12Ciphers) != 1) {
    error = "cannot set the TLS 1.2 ciphers: " + openssl_error();
    return false;
  }
  if (SSL_CTX_use_certificate_chain_file(&ctx, options.tls_cert_file.c_str()) != 1) {
    error = "cannot load the TLS certificate " + options.tls_cert_file + ": " + openssl_error();
    return false;
  }
  const bool key_loaded =
      SSL_CTX_use_PrivateKey_file(&ctx, options.tls_key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  const bool mismatch = key_loaded
                            ? SSL_CTX_check_private_key(&ctx) != 1
                            : ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
  if (!key_loaded && !mismatch) {
    error = "cannot load the TLS key " + options.tls_key_file + ": " + openssl_error();
    return false;
  }
  if (mismatch) {
    error = "the TLS key " + options.tls_key_file + " does not match the certificate " +
            options.tls_cert_file;
    ERR_clear_error();
    return false;
  }
  return true;
}

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

// Reads and drops what the client still sends of a refused body, bounded in
// bytes and time, then makes httplib end the connection: it reads EOF on its
// next attempt and closes, with nothing unread left to turn the close into a
// reset.
void drain_then_close(SSL* ssl, const AfterReply& after) {
  const int fd = SSL_get_fd(ssl);
  if (after.action == AfterReply::Action::kDrainThenClose) {
    struct timeval read_timeout {
      1, 0
    };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &read_timeout, sizeof read_timeout);
    uint64_t budget =
        std::min<uint64_t>(after.unread_bytes.value_or(kDrainMaxBytes), kDrainMaxBytes);
    const auto deadline = std::chrono::steady_clock::now() + kDrainMaxTime;
    char buffer[16 * 1024];
    while (budget > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      if (SSL_pending(ssl) == 0) {
        struct pollfd readable {
          fd, POLLIN, 0
        };
        if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) break;
      }
      int n = SSL_read(ssl, buffer, static_cast<int>(std::min<uint64_t>(sizeof buffer, budget)));
      if (n <= 0) break;
      budget -= static_cast<uint64_t>(n);
    }
    ERR_clear_error();
  }
  SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
  ::shutdown(fd, SHUT_RD);
}

}  // namespace

struct HttpsServer::Impl {
  ServerOptions options;
  Routes routes;
  std::unique_ptr<TlsListener> server;
  std::thread thread;
  std::atomic<bool> finished{false};
  int port = 0;

  void install_routes();
  void mutate(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& content_reader) const;
};

HttpsServer::HttpsServer(ServerOptions options, Routes routes) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->routes = std::move(routes);
}

HttpsServer::~HttpsServer() { stop(); }

int HttpsServer::port() const { return impl_->port; }

Status HttpsServer::start() {
  Impl& impl = *impl_;
  if (impl.server) return Error{"the server was already started"};
  const ServerOptions& options = impl.options;

  std::string tls_error;
  impl.server = std::make_unique<TlsListener>(
      [&](SSL_CTX& ctx) { return configure_tls(ctx, options, tls_error); });
  if (!impl.server->is_valid()) {
    impl.server.reset();
    return Error{tls_error.empty() ? "cannot set up TLS: " + openssl_error() : tls_error};
  }

  std::size_t threads = options.worker_threads > 0
                            ? static_cast<std::size_t>(options.worker_threads)
                            : std::max<std::size_t>(8, 4 * std::thread::hardware_concurrency());
  impl.server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl.server->set_tcp_nodelay(true);
  // httplib's default sets SO_REUSEPORT, which would let a second webhook
  // bind the same port silently; SO_REUSEADDR alone allows quick restarts.
  impl.server->set_socket_options([](int socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  impl.server->set_read_timeout(options.read_timeout);
  impl.server->set_write_timeout(options.write_timeout);
  impl.server->set_keep_alive_timeout(static_cast<time_t>(options.keep_alive_timeout.count()));
  impl.server->set_keep_alive_max_count(options.keep_alive_max_count);
  impl.server->set_payload_max_length(options.max_request_bytes);
  impl.install_routes();

  std::string where = options.bind_address + ":" + std::to_string(options.port);
  errno = 0;
  if (options.port == 0) {
    impl.port = impl.server->bind_to_any_port(options.bind_address);
    if (impl.port < 0) impl.port = 0;
  } else if (impl.server->bind_to_port(options.bind_address, options.port)) {
    impl.port = options.port;
  }
  if (impl.port == 0) {
    int bind_errno = errno;
    impl.server.reset();
    std::string message = "cannot listen on " + where;
    if (bind_errno != 0) message += std::string(": ") + std::strerror(bind_errno);
    return Error{std::move(message)};
  }
  impl.server->raise_backlog();

  impl.thread = std::thread([&impl] {
    impl.server->listen_after_bind();
    impl.finished.store(true);
  });
  return Ok{};
}

void HttpsServer::stop() {
  Impl& impl = *impl_;
  if (!impl.thread.joinable()) return;
  // httplib's stop() does nothing until the listener thread has started
  // accepting, so it is repeated until that thread has ended.
  while (!impl.finished.load()) {
    impl.server->stop();
    for (int i = 0; i < 20 && !impl.finished.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  impl.thread.join();
}

void HttpsServer::Impl::install_routes() {
  const std::size_t max_bytes = options.max_request_bytes;

  server->set_pre_routing_handler([max_bytes](const httplib::Request& req, httplib::Response& res) {
    t_after_reply = AfterReply{};
    auto refusal = screen(req, max_bytes);
    if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
    apply(*refusal, res);
    if (has_body(req)) {
      // The body stays unread: the connection cannot carry another request.
      res.set_header("Connection", "close");
      t_after_reply.action = AfterReply::Action::kDrainThenClose;
      if (auto length = content_length(req); length) t_after_reply.unread_bytes = *length;
    }
    return httplib::Server::HandlerResponse::Handled;
  });

  // A client that asks before sending the body is answered before it does.
  server->set_expect_100_continue_handler(
      [max_bytes](const httplib::Request& req, httplib::Response& res) {
        t_after_reply = AfterReply{};
        auto refusal = screen(req, max_bytes);
        if (!refusal) return 100;
        apply(*refusal, res);
        // httplib sends this reply without computing its Content-Length.
        res.set_header("Content-Length", std::to_string(res.body.size()));
        res.set_header("Connection", "close");
        t_after_reply.action = AfterReply::Action::kClose;
        return refusal->status;
      });

  server->Post("/mutate", [this](const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& content_reader) {
    mutate(req, res, content_reader);
  });
  server->Get("/healthz",
              [](const httplib::Request&, httplib::Response& res) { reply_text(res, 200, "ok"); });
  server->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (!routes.ready || routes.ready()) {
      reply_text(res, 200, "ok");
    } else {
      reply_text(res, 503, "not ready");
    }
  });

  // Replies httplib makes itself (unparsable request line, 404, ...) get a
  // one-line reason too.
  server->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        reply_text(res, res.status, reason_phrase(res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));
  server->set_exception_handler(
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
  server->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    AfterReply after = std::exchange(t_after_reply, AfterReply{});
    if (after.action != AfterReply::Action::kNone && req.ssl) {
      // httplib hands the connection's SSL as const for inspection; ending
      // the connection needs it writable. This thread owns the connection.
      drain_then_close(const_cast<SSL*>(req.ssl), after);
    }
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
      t_after_reply.action = AfterReply::Action::kDrainThenClose;
    } else {
      reply_text(res, 400, "cannot read the request body");
      t_after_reply.action = AfterReply::Action::kClose;
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
