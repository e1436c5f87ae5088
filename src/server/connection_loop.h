// The webhook port's connections and threads. Idle keep-alive connections
// are parked in one epoll set (an idle connection costs no thread and no
// wake-ups); worker threads wait on that set themselves and each takes the
// next connection with bytes to read (EPOLLONESHOT: a connection is parked or
// held by one worker, never both), so a request costs no hand-off between
// threads. Workers accept, run TLS handshakes and requests with deadlines; a
// housekeeping thread closes idle connections, drains for shutdown, and adds
// workers when they are all stuck waiting (slow clients, lookups) while the
// CPU is idle.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <openssl/ssl.h>

#include "common/result.h"

namespace httplib {
class Stream;
}

namespace irsa::server {

// What the connection does once a request's reply is out.
struct RequestOutcome {
  enum class After { kKeepAlive, kClose, kDrainThenClose };
  After after = After::kKeepAlive;
  // kDrainThenClose: how much of a refused body is still on the wire
  // (nullopt: unknown, chunked). It is read and dropped, within bounds, so
  // that the client reads the reply rather than a reset.
  std::optional<uint64_t> unread_bytes;
};

// Reads one request from `stream` and writes its reply. `must_close`: the
// reply must carry Connection: close (draining, or the connection's last).
using RequestHandler = std::function<RequestOutcome(httplib::Stream& stream, bool must_close)>;

struct ConnectionLoopOptions {
  // A request (line, headers, body) must arrive within this from when its
  // first byte is read, and a new connection must complete its TLS
  // handshake within it.
  std::chrono::milliseconds read_timeout{10000};
  // A reply must be written within this.
  std::chrono::milliseconds write_timeout{10000};
  // A keep-alive connection idle this long is closed.
  std::chrono::milliseconds idle_timeout{120000};
  // At the limit, the longest-idle connection is closed to make room and
  // accepting pauses until the count is under the limit again.
  std::size_t max_connections = 10000;
  // After this many requests a connection's reply says Connection: close
  // (0: no limit).
  std::size_t max_requests_per_connection = 0;
  // Worker threads: this many always; more (up to max_workers) while every
  // worker is busy and the process uses little CPU, i.e. they are waiting;
  // extra workers leave after `retire_after` without work.
  std::size_t min_workers = 8;
  std::size_t max_workers = 256;
  std::chrono::seconds retire_after{60};
  // Called with the open-connection count as it changes (from any thread,
  // one call at a time).
  std::function<void(std::size_t open)> on_connections_changed;
};

class ConnectionLoop {
 public:
  // Takes ownership of `listen_fd` (bound and listening). `ctx` must outlive
  // the loop.
  ConnectionLoop(int listen_fd, SSL_CTX* ctx, ConnectionLoopOptions options,
                 RequestHandler handler);
  ~ConnectionLoop();  // stop()
  ConnectionLoop(const ConnectionLoop&) = delete;
  ConnectionLoop& operator=(const ConnectionLoop&) = delete;

  Status start();

  // From now on every reply says Connection: close and its connection is
  // closed after it; keep-alive connections idle for a second are closed (all
  // idle ones once the listener is closed). New connections are still
  // accepted until stop_accepting().
  void drain();
  bool draining() const { return draining_.load(); }
  // Accepts what is already queued on the listening socket, then closes it
  // (and, draining, the idle connections).
  void stop_accepting();
  // Waits until every connection is closed; false at the deadline.
  bool wait_closed(std::chrono::steady_clock::time_point deadline);
  // Closes everything now (requests in progress fail), joins every thread.
  // Idempotent.
  void stop();

  std::size_t open_connections() const { return open_.load(); }
  std::size_t workers() const;

  struct Connection;

 private:
  struct Worker {
    std::thread thread;
    bool finished = false;
  };

  void work(Worker* self);
  void housekeep();
  void accept_ready();
  void serve(Connection* connection);
  bool handshake(Connection& connection);
  void park(Connection* connection);
  void finish(Connection* connection, bool send_close_notify);
  void scan(std::chrono::steady_clock::time_point now);
  bool kick_oldest_idle();
  void arm_listener();
  void report_open();
  void spawn_worker_locked();
  void reap_workers_locked();

  int listen_fd_;
  SSL_CTX* ctx_;
  ConnectionLoopOptions options_;
  RequestHandler handler_;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // readable once stopping: wakes every worker
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> waiting_{0};  // workers inside epoll_wait
  std::atomic<bool> listening_{true};    // false once stop_accepting() closed it

  // The listening socket: armed, paused (limit or out of descriptors), closed.
  std::mutex listener_mutex_;
  bool accepting_ = true;
  bool listener_paused_ = false;
  std::chrono::steady_clock::time_point resume_accept_at_{};
  std::chrono::steady_clock::time_point last_accept_warning_{};

  std::mutex connections_mutex_;  // before any Connection::mutex
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;

  mutable std::mutex workers_mutex_;
  std::list<Worker> workers_;
  std::size_t live_workers_ = 0;

  std::mutex housekeeping_mutex_;
  std::condition_variable housekeeping_wake_;
  std::thread housekeeping_;

  std::mutex open_mutex_;
  std::condition_variable all_closed_;
  std::mutex report_mutex_;
};

}  // namespace irsa::server
