// One connection's protocol, without sockets or threads: the TLS handshake,
// requests read (HttpRequestParser), answered by the application, replies
// written, keep-alive, deadlines, and the in-flight memory budget. Its bytes
// go through a Transport (TLS over a non-blocking socket in the server, a
// script in tests) and what it needs of the server through a
// ConnectionHost. The connection loop (connection_loop.h) owns the sockets,
// the epoll sets and the threads, and calls advance() whenever a connection
// may make progress.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/http_request.h"

namespace irsa::server {

using Clock = std::chrono::steady_clock;

// A reply, and what becomes of the connection after it.
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones (Allow)
  // The connection ends after this reply (Connection: close is sent).
  bool close = false;
};

// What the server asks of the application. Called from I/O threads (screen,
// respond with may_block false, completed) and worker threads (respond with
// may_block true), many at once.
class HttpApplication {
 public:
  virtual ~HttpApplication() = default;
  // After the head, before the body is read: a refusal (sent at once; the
  // connection then closes, since the body stays unread), or nullopt to
  // read the body. Must not block.
  virtual std::optional<HttpResponse> screen(const HttpRequest& head) = 0;
  // A complete request. With may_block false (an I/O thread) it returns
  // nullopt when answering would wait (it is then called again on a worker
  // with may_block true, where it must answer).
  virtual std::optional<HttpResponse> respond(const HttpRequest& request, bool may_block) = 0;
  // Once per reply, after it was handed to the connection: for metrics and
  // logs. `request` may be only a head (a refusal) or empty (a request that
  // could not be parsed).
  virtual void completed(const HttpRequest& request, const HttpResponse& response,
                         const std::string& remote) = 0;
};

// The outcome of one transport operation.
struct IoResult {
  enum Status { kOk, kWantRead, kWantWrite, kClosed };
  Status status = kOk;
  std::size_t bytes = 0;  // kOk: bytes read or written
  std::string error;      // kClosed: why, when it was an error (for logs)
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual IoResult handshake() = 0;  // kOk once complete
  virtual IoResult read(char* buffer, std::size_t size) = 0;
  virtual IoResult write(const char* data, std::size_t size) = 0;
  // Ends the connection; with `notify`, says so first (TLS close_notify)
  // when the handshake was complete. Called once.
  virtual void close(bool notify) = 0;
};

struct ConnectionOptions {
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds idle_timeout{120000};
  std::size_t max_requests_per_connection = 0;  // 0: no limit
  std::size_t max_bytes_in_flight = 64 * 1024 * 1024;
  std::size_t inline_max_body_bytes = 128 * 1024;
  HttpLimits limits;
};

class Connection;

// What a connection needs of the server that holds it.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual Clock::time_point now() = 0;
  virtual HttpApplication& application() = 0;
  virtual bool draining() = 0;
  virtual bool stopping() = 0;
  // The in-flight budget: charge() takes `bytes` when they fit (or always,
  // with `force`; a first charge always fits); in_flight() is the total.
  virtual bool charge(std::size_t bytes, bool force) = 0;
  virtual void release(std::size_t bytes) = 0;
  virtual std::size_t in_flight() = 0;
  // Answers `request` on a worker; the reply comes back through
  // Connection::answer().
  virtual void submit(Connection& connection, std::shared_ptr<HttpRequest> request) = 0;
  // The connection has more to do but has used its turn: call advance()
  // again soon.
  virtual void yield(Connection& connection) = 0;
  // The connection closed its transport; the host frees it later.
  virtual void closed(Connection& connection) = 0;
};

class Connection {
 public:
  enum class Phase {
    kHandshake,
    kReading,
    kWaitingMemory,  // a body, or a reply to make, waits for room in the budget
    kDispatched,     // a worker is answering
    kWriting,
    kDiscarding,  // reading and dropping a refused request's rest, then closing
    kClosed,
  };

  // The read deadline starts now (accept).
  Connection(ConnectionHost& host, const ConnectionOptions& options,
             std::unique_ptr<Transport> transport, std::string remote);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Makes what progress the transport allows, within one turn (a bounded
  // number of bytes); host.yield() when there is more.
  void advance();
  // A worker's reply to the request submitted.
  void answer(const HttpRequest& request, HttpResponse response);
  // Deadlines, draining (`listening` false: the listener is closed) and the
  // budget, at least every 100 ms.
  void tick(bool draining, bool listening);
  // Closes the connection when it is idle between requests; true if it did.
  bool close_if_idle();
  void close(bool notify);

  Phase phase() const { return phase_; }
  bool closed() const { return phase_ == Phase::kClosed; }
  // Waiting for its next request (idle keep-alive).
  bool idle() const { return phase_ == Phase::kReading && !request_started_ && requests_ > 0; }
  std::size_t requests() const { return requests_; }
  const std::string& remote() const { return remote_; }
  Clock::time_point deadline() const { return deadline_; }
  Clock::time_point idle_at() const { return idle_at_; }
  // Marked so that its next reply closes it.
  void set_closing() { closing_ = true; }

 private:
  enum class AfterWrite { kNextRequest, kContinueReading, kClose, kDiscardThenClose };

  void handshake();
  void read();
  bool consume(std::string_view data);
  void dispatch();
  void reply(const HttpRequest& request, HttpResponse response, uint64_t unread);
  void write();
  void finish_write();
  void discard();
  bool try_resume();
  bool room_to_answer() const;

  ConnectionHost& host_;
  const ConnectionOptions& options_;
  std::unique_ptr<Transport> transport_;
  std::string remote_;
  Phase phase_ = Phase::kHandshake;
  AfterWrite after_ = AfterWrite::kNextRequest;
  bool request_started_ = false;
  bool closing_ = false;
  HttpRequestParser parser_;
  std::string pending_;  // plaintext read past a complete request (pipelining)
  std::string out_;
  std::size_t out_at_ = 0;
  Clock::time_point deadline_;
  Clock::time_point idle_at_;
  std::size_t requests_ = 0;
  std::size_t charged_ = 0;      // bytes charged to the in-flight budget
  std::size_t waiting_for_ = 0;  // kWaitingMemory: bytes to charge (0: any room)
  bool answer_waiting_ = false;  // kWaitingMemory: a complete request to answer
  uint64_t discard_left_ = 0;
};

}  // namespace irsa::server
