// The webhook port's connections and threads, event-driven: a few I/O
// threads (one per core, at most 4) each own an epoll set and the connections they
// accepted, and run everything that waits on a client without blocking:
// accept, the TLS handshake, reading a request (HttpRequestParser), writing
// its reply. A request reaches the application only when complete. It is
// answered on the I/O thread when that cannot block (the usual review: its
// ServiceAccount is cached), else on a worker thread (a ServiceAccount
// lookup, a large body), whose reply goes back to the I/O thread to be
// written. So no client, however slow, holds a thread, and /healthz answers
// while every worker is busy.
//
// Deadlines count from accept: the handshake, the request head and its body
// must arrive within read_timeout; on a keep-alive connection the next
// request has idle_timeout to begin and read_timeout from its first byte.
// Request bodies and replies in flight across all connections are charged
// to one memory budget; a body that does not fit waits (its deadline still
// running) rather than growing the process.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

#include "common/result.h"
#include "common/thread_annotations.h"
#include "server/connection.h"
#include "server/http_request.h"

namespace irsa::server {

struct ConnectionLoopOptions {
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds idle_timeout{120000};
  // At the limit, the longest-idle connection is closed to make room (or,
  // when none is idle, the new one).
  std::size_t max_connections = 10000;
  // After this many requests a connection's reply says Connection: close
  // (0: no limit).
  std::size_t max_requests_per_connection = 0;
  HttpLimits limits;
  // I/O threads (0: one per core, at most 4).
  std::size_t io_threads = 0;
  // Worker threads for requests that block or are large: this many from the
  // start, more (up to max_workers) while all are busy.
  std::size_t min_workers = 8;
  std::size_t max_workers = 256;
  // Request bodies and replies held across all connections. A body that
  // would take the total past this waits for room (within its deadline).
  std::size_t max_bytes_in_flight = 64 * 1024 * 1024;
  // Bodies up to this size are answered on the I/O thread when they can be
  // without blocking; larger ones (their parse takes milliseconds) always go
  // to a worker. (How many large reviews run at once is the application's
  // to bound: admission::ReviewLimits.)
  std::size_t inline_max_body_bytes = 128 * 1024;
  // Called with the open-connection count as it changes (from any thread,
  // one call at a time).
  std::function<void(std::size_t open)> on_connections_changed;
};

class ConnectionLoop {
 public:
  // Takes ownership of `listen_fd` (bound and listening). `ctx` and
  // `application` must outlive the loop.
  ConnectionLoop(int listen_fd, SSL_CTX* ctx, ConnectionLoopOptions options,
                 HttpApplication& application);
  ~ConnectionLoop();  // stop()
  ConnectionLoop(const ConnectionLoop&) = delete;
  ConnectionLoop& operator=(const ConnectionLoop&) = delete;

  Status start();

  // From now on every reply says Connection: close and its connection is
  // closed after it; keep-alive connections idle for a second are closed
  // (every idle one once the listener is closed). New connections are still
  // accepted until stop_accepting().
  void drain();
  bool draining() const { return draining_.load(); }
  // Accepts what is already queued on the listening socket, then closes it.
  void stop_accepting();
  // Waits until every connection is closed; false at the deadline.
  bool wait_closed(std::chrono::steady_clock::time_point deadline);
  // Closes everything now (requests in progress fail), joins every thread.
  // Idempotent.
  void stop();

  std::size_t open_connections() const { return open_.load(); }

  struct Slot;
  class IoThread;

 private:
  friend class IoThread;
  struct Job {
    IoThread* io = nullptr;
    Slot* slot = nullptr;
    uint64_t id = 0;
    std::shared_ptr<HttpRequest> request;
  };

  void work() IRSA_EXCLUDES(jobs_mutex_);
  void submit(Job job) IRSA_EXCLUDES(jobs_mutex_);
  // Charges `bytes` to the in-flight budget when they fit (or `force`).
  bool charge(std::size_t bytes, bool force);
  void release(std::size_t bytes);
  // Returns the open-connection count with this one.
  std::size_t connection_opened(Slot* connection) IRSA_EXCLUDES(registry_mutex_);
  void connection_closed(Slot* connection) IRSA_EXCLUDES(registry_mutex_, open_mutex_);
  // Asks the longest-idle connection (of any I/O thread) to close.
  bool kick_oldest_idle() IRSA_EXCLUDES(registry_mutex_);
  void report_open() IRSA_EXCLUDES(report_mutex_);

  // Lock order, where two are held: listener_mutex_, then an IoThread's
  // inbox_mutex_ (stop_accepting hands sockets over); registry_mutex_, then
  // an inbox_mutex_ (kick_oldest_idle). Every other lock is held alone.
  SharedMutex listener_mutex_;  // guards listen_fd_ against closing
  int listen_fd_ IRSA_GUARDED_BY(listener_mutex_);
  SSL_CTX* ctx_;
  ConnectionLoopOptions options_;
  ConnectionOptions connection_options_;  // from options_
  HttpApplication& application_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> listening_{true};
  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> in_flight_{0};

  std::vector<std::unique_ptr<IoThread>> io_;

  // Every open connection, for kicks across I/O threads and for stop().
  Mutex registry_mutex_;
  std::unordered_set<Slot*> registry_ IRSA_GUARDED_BY(registry_mutex_);

  Mutex jobs_mutex_;
  std::condition_variable_any jobs_ready_;
  std::deque<Job> jobs_ IRSA_GUARDED_BY(jobs_mutex_);
  std::vector<std::thread> worker_threads_ IRSA_GUARDED_BY(jobs_mutex_);
  std::size_t idle_workers_ IRSA_GUARDED_BY(jobs_mutex_) = 0;

  Mutex open_mutex_;  // for all_closed_; open_ itself is atomic
  std::condition_variable_any all_closed_;
  Mutex report_mutex_;  // serializes on_connections_changed
};

}  // namespace irsa::server
