// The API client: one httplib client per Connection, TLS from the RestConfig,
// the bearer token from a TokenSource, timeouts on every request.
#include "kube/api_client.h"

#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/openssl.h"
#include "common/quote.h"

namespace irsa::kube {
namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;

std::string trim(std::string text) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

X509_STORE* store_from_pem(const std::string& pem) {
  X509_STORE* store = X509_STORE_new();
  if (!store) return nullptr;
  auto bio = openssl::memory_bio(pem.data(), pem.size());
  for (int i = 0; bio && i < 10000; ++i) {
    openssl::Certificate cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    X509_STORE_add_cert(store, cert.get());  // takes its own reference
  }
  ERR_clear_error();
  return store;
}

std::chrono::milliseconds at_least(std::chrono::milliseconds value, int minimum_ms) {
  return std::max(value, std::chrono::milliseconds(minimum_ms));
}

template <typename Duration>
void set_timeout(Duration duration, const std::function<void(time_t, time_t)>& setter) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  setter(static_cast<time_t>(micros / 1000000), static_cast<time_t>(micros % 1000000));
}

}  // namespace

namespace {

files::FileWatcherOptions token_file_options() {
  files::FileWatcherOptions options;
  options.description = "API server token file";
  return options;
}

}  // namespace

TokenSource::TokenSource(std::string fixed_token, std::string token_file)
    : fixed_token_(std::move(fixed_token)),
      from_file_(!token_file.empty()),
      file_(
          std::move(token_file),
          [this](const std::string& text) IRSA_NO_THREAD_SAFETY_ANALYSIS {
            file_token_ = trim(text);  // called by load() and check() below, under mutex_
            return Status(Ok{});
          },
          token_file_options()) {}

std::string TokenSource::token() {
  if (!from_file_) return fixed_token_;
  MutexLock lock(mutex_);
  if (!loaded_) {
    loaded_ = file_.load().ok();  // retried on the next use until it reads
  } else {
    file_.check();
  }
  return file_token_.empty() ? fixed_token_ : file_token_;
}

struct Connection::Impl {
  std::unique_ptr<httplib::ClientImpl> http;
  std::shared_ptr<TokenSource> tokens;
  ClientOptions options;
  std::string base_path;
  // With tls-server-name: the client is made for that name (SNI and the
  // certificate check), the socket goes to `address_host` resolved afresh
  // whenever a connection opens, and Host names the real server.
  std::string tls_server_name;
  std::string address_host;
  int port = 443;
  std::string host_header;
  std::string certificate_name;  // for messages
};

namespace {

// The numeric address httplib should open for `host` (a name or an address),
// or an error that says which name did not resolve.
Result<std::string> resolve_numeric(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    if (found) ::freeaddrinfo(found);
    return Error{"cannot resolve " + host + ": " + ::gai_strerror(rc)};
  }
  char text[NI_MAXHOST] = {};
  rc = ::getnameinfo(found->ai_addr, found->ai_addrlen, text, sizeof text, nullptr, 0,
                     NI_NUMERICHOST);
  ::freeaddrinfo(found);
  if (rc != 0) return Error{"cannot resolve " + host + ": " + ::gai_strerror(rc)};
  return std::string(text);
}

}  // namespace

// Points the client's tls-server-name at the server's current address before
// a request that will open a connection.
Status Connection::route() {
  if (impl_->tls_server_name.empty() || impl_->http->is_socket_open()) return Ok{};
  auto address = resolve_numeric(impl_->address_host, impl_->port);
  if (!address) return Error{address.error()};
  impl_->http->set_hostname_addr_map({{impl_->tls_server_name, *address}});
  return Ok{};
}

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

ApiClient::ApiClient(RestConfig config, ClientOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      tokens_(std::make_shared<TokenSource>(config_.bearer_token, config_.bearer_token_file)) {}

Result<std::shared_ptr<ApiClient>> ApiClient::create(RestConfig config, ClientOptions options) {
  if (auto checked = check_credentials(config); !checked) return Error{checked.error()};
  if (config.server.scheme != "https" && config.server.scheme != "http") {
    return Error{"unsupported scheme " + config.server.scheme};
  }
  return std::shared_ptr<ApiClient>(new ApiClient(std::move(config), std::move(options)));
}

std::string ApiClient::describe() const {
  std::string out = config_.server.origin();
  if (!config_.tls_server_name.empty()) out += " (tls-server-name " + config_.tls_server_name + ")";
  if (!config_.proxy.host.empty()) {
    const bool ipv6 = config_.proxy.host.find(':') != std::string::npos;
    out += " via proxy " + std::string(ipv6 ? "[" : "") + config_.proxy.host + (ipv6 ? "]" : "") +
           ":" + std::to_string(config_.proxy.port);
  }
  return out;
}

std::unique_ptr<Connection> ApiClient::connect() const {
  auto impl = std::make_unique<Connection::Impl>();
  impl->tokens = tokens_;
  impl->options = options_;
  impl->base_path = config_.server.base_path;
  const auto& server = config_.server;
  if (!config_.tls_server_name.empty()) {
    impl->tls_server_name = config_.tls_server_name;
    impl->address_host = server.host;
    impl->port = server.port;
    impl->host_header = server.origin().substr(server.scheme.size() + 3);
  }
  const std::string& tls_host =
      config_.tls_server_name.empty() ? server.host : config_.tls_server_name;
  impl->certificate_name = tls_host;
  if (server.scheme == "https") {
    std::unique_ptr<httplib::SSLClient> ssl;
    if (!config_.client_certificate_pem.empty()) {
      auto cert_bio = openssl::memory_bio(config_.client_certificate_pem.data(),
                                          config_.client_certificate_pem.size());
      auto key_bio =
          openssl::memory_bio(config_.client_key_pem.data(), config_.client_key_pem.size());
      openssl::Certificate cert(
          cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
      openssl::Key key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                               : nullptr);
      // The SSL_CTX takes its own references.
      ssl = std::make_unique<httplib::SSLClient>(tls_host, server.port, cert.get(), key.get());
      if (SSL_CTX* ctx = ssl->ssl_context()) {
        // The rest of the chain, if the file holds one.
        for (int i = 0; cert_bio && i < 100; ++i) {
          openssl::Certificate extra(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
          if (!extra) break;
          // On success the context owns the certificate.
          if (SSL_CTX_add_extra_chain_cert(ctx, extra.get()) == 1)
            static_cast<void>(extra.release());
        }
      }
      ERR_clear_error();
    } else {
      ssl = std::make_unique<httplib::SSLClient>(tls_host, server.port);
    }
    if (!config_.proxy.host.empty()) {
      ssl->set_proxy(config_.proxy.host, config_.proxy.port);
      if (!config_.proxy.username.empty())
        ssl->set_proxy_basic_auth(config_.proxy.username, config_.proxy.password);
    }
    if (SSL_CTX* ctx = ssl->ssl_context()) SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (!config_.certificate_authority_pem.empty()) {
      ssl->set_ca_cert_store(store_from_pem(config_.certificate_authority_pem));
    }
    ssl->enable_server_certificate_verification(!config_.insecure_skip_tls_verify);
    impl->http = std::move(ssl);
  } else {
    impl->http = std::make_unique<httplib::ClientImpl>(server.host, server.port);
  }
  auto& http = *impl->http;
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);
  http.set_follow_location(false);
  set_timeout(at_least(options_.connect_timeout, 1),
              [&http](time_t s, time_t us) { http.set_connection_timeout(s, us); });
  set_timeout(at_least(options_.request_timeout, 1),
              [&http](time_t s, time_t us) { http.set_write_timeout(s, us); });
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

namespace {

httplib::Headers request_headers(TokenSource& tokens, const ClientOptions& options,
                                 std::string_view accept, const std::string& host) {
  httplib::Headers headers;
  if (!host.empty()) headers.emplace("Host", host);
  headers.emplace("Accept", std::string(accept));
  headers.emplace("User-Agent", options.user_agent);
  std::string token = tokens.token();
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return headers;
}

constexpr const char* kProxyRefused =
    "the proxy answered 407 Proxy Authentication Required (check the user and password in "
    "proxy-url)";

// `name`: the name the server's certificate must carry.
std::string describe_error(httplib::Error error, httplib::ClientImpl& http,
                           const std::string& name) {
  switch (error) {
    case httplib::Error::SSLServerVerification: {
      std::string text = "TLS: the server's certificate failed verification";
      if (auto* ssl = dynamic_cast<httplib::SSLClient*>(&http)) {
        long result = ssl->get_openssl_verify_result();
        if (result == X509_V_OK) {
          return text + ": it does not name " + quote(name, 256) +
                 " (check the server URL or tls-server-name)";
        }
        text += ": " + std::string(X509_verify_cert_error_string(result));
      }
      return text + " (check certificate-authority)";
    }
    case httplib::Error::SSLConnection:
      return "TLS handshake failed (wrong scheme, or a client certificate the server refuses?)";
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "connection closed or timed out while reading";
    default:
      return httplib::to_string(error);
  }
}

}  // namespace

Result<HttpResponse> Connection::get(const std::string& path_and_query, std::string_view accept,
                                     std::chrono::milliseconds timeout) {
  return send("GET", path_and_query, accept, "", "", timeout);
}

Result<HttpResponse> Connection::post(const std::string& path, std::string_view accept,
                                      std::string body, std::string_view content_type,
                                      std::chrono::milliseconds timeout) {
  return send("POST", path, accept, std::move(body), content_type, timeout);
}

Result<HttpResponse> Connection::send(const char* method, const std::string& path_and_query,
                                      std::string_view accept, std::string body,
                                      std::string_view content_type,
                                      std::chrono::milliseconds timeout) {
  if (cancelled_.load()) return Error{"cancelled"};
  if (auto routed = route(); !routed) return Error{routed.error()};
  auto& http = *impl_->http;
  if (timeout.count() <= 0) timeout = impl_->options.request_timeout;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  set_timeout(at_least(timeout, 1), [&http](time_t s, time_t us) { http.set_read_timeout(s, us); });
  set_timeout(at_least(std::min(timeout, impl_->options.connect_timeout), 1),
              [&http](time_t s, time_t us) { http.set_connection_timeout(s, us); });

  HttpResponse response;
  bool too_large = false;
  bool timed_out = false;
  httplib::Request request;
  request.method = method;
  request.path = impl_->base_path + path_and_query;
  request.headers = request_headers(*impl_->tokens, impl_->options, accept, impl_->host_header);
  if (!content_type.empty()) request.headers.emplace("Content-Type", std::string(content_type));
  request.body = std::move(body);
  request.response_handler = [&](const httplib::Response& head) {
    response.status = head.status;
    response.content_type = head.get_header_value("Content-Type");
    return !cancelled_.load();
  };
  request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    if (cancelled_.load()) return false;
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      return false;
    }
    if (response.body.size() + size > impl_->options.max_body_bytes) {
      too_large = true;
      return false;
    }
    response.body.append(data, size);
    return true;
  };
  auto result = http.send(request);
  if (cancelled_.load()) return Error{"cancelled"};
  if (timed_out) return Error{"timed out after " + std::to_string(timeout.count()) + " ms"};
  if (too_large) {
    return Error{"response body larger than " + std::to_string(impl_->options.max_body_bytes) +
                 " bytes"};
  }
  if (!result) {
    if (result.error() == httplib::Error::Read &&
        std::chrono::steady_clock::now() >= deadline - std::chrono::milliseconds(5)) {
      return Error{"timed out after " + std::to_string(timeout.count()) + " ms"};
    }
    return Error{describe_error(result.error(), http, impl_->certificate_name)};
  }
  response.status = result->status;
  // Only a proxy answers 407: its CONNECT failed, no API server answered.
  if (response.status == 407) return Error{kProxyRefused};
  return response;
}

Connection::StreamResult Connection::stream(const std::string& path_and_query,
                                            std::string_view accept,
                                            std::chrono::milliseconds idle_timeout,
                                            const std::function<bool(std::string_view)>& on_body) {
  StreamResult out;
  if (cancelled_.load()) {
    out.failure = Failure::kCancelled;
    out.error = "cancelled";
    return out;
  }
  if (auto routed = route(); !routed) {
    out.failure = Failure::kConnect;
    out.error = routed.error();
    return out;
  }
  auto& http = *impl_->http;
  set_timeout(at_least(idle_timeout, 1),
              [&http](time_t s, time_t us) { http.set_read_timeout(s, us); });
  set_timeout(at_least(impl_->options.connect_timeout, 1),
              [&http](time_t s, time_t us) { http.set_connection_timeout(s, us); });

  auto last_byte = std::chrono::steady_clock::now();
  bool receiver_stopped = false;
  bool headers_seen = false;
  auto result = http.Get(
      impl_->base_path + path_and_query,
      request_headers(*impl_->tokens, impl_->options, accept, impl_->host_header),
      [&](const httplib::Response& head) {
        headers_seen = true;
        last_byte = std::chrono::steady_clock::now();
        out.end.response.status = head.status;
        out.end.response.content_type = head.get_header_value("Content-Type");
        return !cancelled_.load();
      },
      [&](const char* data, size_t size) {
        last_byte = std::chrono::steady_clock::now();
        if (cancelled_.load()) return false;
        int status = out.end.response.status;
        if (status >= 200 && status < 300) {
          if (!on_body(std::string_view(data, size))) {
            receiver_stopped = true;
            return false;
          }
          return true;
        }
        auto& body = out.end.response.body;
        if (body.size() < kMaxErrorBody)
          body.append(data, std::min(size, kMaxErrorBody - body.size()));
        return true;
      });
  if (cancelled_.load()) {
    out.failure = Failure::kCancelled;
    out.error = "cancelled";
  } else if (receiver_stopped) {
    out.failure = Failure::kStoppedByReceiver;
    out.error = "stopped";
  } else if (result && result->status == 407) {
    out.failure = Failure::kConnect;
    out.error = kProxyRefused;
  } else if (result) {
    out.end.response.status = result->status;
    out.end.complete = true;
  } else if (!headers_seen && (result.error() == httplib::Error::Connection ||
                               result.error() == httplib::Error::ConnectionTimeout ||
                               result.error() == httplib::Error::SSLConnection ||
                               result.error() == httplib::Error::SSLServerVerification ||
                               result.error() == httplib::Error::SSLLoadingCerts)) {
    out.failure = Failure::kConnect;
    out.error = describe_error(result.error(), http, impl_->certificate_name);
  } else if (result.error() == httplib::Error::Read &&
             std::chrono::steady_clock::now() - last_byte >= idle_timeout * 9 / 10) {
    out.failure = Failure::kIdle;
    out.error = "no data for " + std::to_string(idle_timeout.count()) + " ms";
  } else {
    out.failure = headers_seen ? Failure::kBroken : Failure::kConnect;
    out.error = describe_error(result.error(), http, impl_->certificate_name);
  }
  return out;
}

void Connection::cancel() {
  cancelled_.store(true);
  impl_->http->stop();
}

std::string url_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::string status_message(std::string_view body) {
  try {
    auto status = nlohmann::json::parse(body);
    if (status.is_object()) {
      auto message = status.find("message");
      if (message != status.end() && message->is_string()) return message->get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  std::string excerpt(body.substr(0, 200));
  for (char& c : excerpt) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return trim(std::move(excerpt));
}

}  // namespace irsa::kube
