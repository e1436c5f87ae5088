// A small Kubernetes API client on cpp-httplib and OpenSSL: GET requests
// (whole or streamed), TLS verified against the configured CA unless the
// kubeconfig says otherwise, bearer token re-read from its file when it
// rotates, client certificates. Every request has a timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/thread_annotations.h"
#include "files/watcher.h"
#include "kube/rest_config.h"

namespace irsa::kube {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // A whole-body request (get) fails when it takes longer than this.
  std::chrono::milliseconds request_timeout{30000};
  // Bodies of whole-body requests larger than this are refused.
  std::size_t max_body_bytes = std::size_t{64} << 20;
  std::string user_agent = "irsa-webhook";
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// The bearer token for requests: fixed, or read from a file and re-read
// whenever the file changes (a files::FileWatcher checked before each use:
// inode, size or modification time, which also catches the symlink swap of
// projected volumes). Thread-safe.
class TokenSource {
 public:
  TokenSource(std::string fixed_token, std::string token_file);
  // The current token, "" when there is none. On a read error the last token
  // read stays in use.
  std::string token() IRSA_EXCLUDES(mutex_);

 private:
  const std::string fixed_token_;
  const bool from_file_;
  Mutex mutex_;
  std::string file_token_ IRSA_GUARDED_BY(mutex_);
  bool loaded_ IRSA_GUARDED_BY(mutex_) = false;
  files::FileWatcher file_;  // applies to file_token_ with mutex_ held
};

class Connection;

// Immutable after creation; shared by the connections it makes.
class ApiClient {
 public:
  // Checks the credentials (see check_credentials) and prepares TLS.
  static Result<std::shared_ptr<ApiClient>> create(RestConfig config, ClientOptions options = {});

  // A new connection (keep-alive); each is used by one thread at a time.
  std::unique_ptr<Connection> connect() const;

  const RestConfig& config() const { return config_; }
  const ClientOptions& options() const { return options_; }
  // "https://host:port" for messages, with the tls-server-name or proxy
  // when there is one.
  std::string describe() const;
  std::string bearer_token() const { return tokens_->token(); }

 private:
  ApiClient(RestConfig config, ClientOptions options);
  RestConfig config_;
  ClientOptions options_;
  std::shared_ptr<TokenSource> tokens_;
};

// One keep-alive connection to the API server. Requests run on the calling
// thread; cancel() may be called from any thread.
class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // GET `path_and_query` (below the server's base path) and read the whole
  // body; `timeout` bounds the whole request (0: the client's
  // request_timeout). An error means no HTTP answer: connection, TLS,
  // timeout, cancel.
  Result<HttpResponse> get(const std::string& path_and_query, std::string_view accept,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // POST `body` (of `content_type`) to `path` and read the whole answer, as
  // get() does (bounded body, timeout, an error only when no HTTP answer).
  Result<HttpResponse> post(const std::string& path, std::string_view accept, std::string body,
                            std::string_view content_type,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  // GET with the body streamed: `on_body` receives each piece of a 2xx body
  // and returns false to stop. Fails when no byte arrives for `idle_timeout`.
  // For a non-2xx answer, the body (bounded) is in the returned
  // HttpResponse::body instead. The returned error says whether the stream
  // broke, went quiet or was cancelled.
  struct StreamEnd {
    HttpResponse response;  // status, content type; body only when not 2xx
    bool complete = false;  // the body ended as HTTP says it should
  };
  enum class Failure { kNone, kConnect, kBroken, kIdle, kCancelled, kStoppedByReceiver };
  struct StreamResult {
    StreamEnd end;
    Failure failure = Failure::kNone;
    std::string error;  // one line, when failure != kNone
  };
  StreamResult stream(const std::string& path_and_query, std::string_view accept,
                      std::chrono::milliseconds idle_timeout,
                      const std::function<bool(std::string_view)>& on_body);

  // Aborts the request in progress and every later one on this connection
  // (they fail at once). Thread-safe, does not block on the request.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class ApiClient;
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  Result<HttpResponse> send(const char* method, const std::string& path_and_query,
                            std::string_view accept, std::string body,
                            std::string_view content_type, std::chrono::milliseconds timeout);
  // With tls-server-name, before a request: the server's address as it
  // resolves now, when the request will open a new socket.
  Status route();
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> cancelled_{false};
};

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view value);

// The "message" of a Kubernetes Status body, or a bounded one-line excerpt of
// the body when it is not one.
std::string status_message(std::string_view body);

}  // namespace irsa::kube
