// epoll with EPOLLONESHOT shared by the workers (leader/followers), non-
// blocking sockets, and a TLS stream whose reads and writes wait with poll()
// against the request's deadlines. Only the worker holding a connection
// frees it; others (housekeeping, the acceptor at the limit) ask it to close
// by shutting its socket's read side, which wakes it through epoll.
#include "server/connection_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>
#include <openssl/err.h>

#include "log/log.h"

namespace irsa::server {

using Clock = std::chrono::steady_clock;

struct ConnectionLoop::Connection {
  int fd = -1;
  SSL* ssl = nullptr;  // set by the first worker that serves it
  std::string remote_ip;
  int remote_port = 0;
  std::string local_ip;
  int local_port = 0;
  std::string leftover;  // bytes read past the last request (pipelining)
  std::size_t requests = 0;

  std::mutex mutex;     // guards what follows
  bool active = false;  // held by a worker (else parked in epoll)
  bool kicked = false;  // asked to close when next woken
  bool handshaken = false;
  Clock::time_point parked_at;
};

namespace {

constexpr std::size_t kReadBufferBytes = 16 * 1024;
constexpr std::size_t kWriteFlushBytes = 64 * 1024;
// Requests served back to back on one connection before its worker goes
// back to epoll (where other ready connections are waiting their turn).
constexpr int kRequestsPerTurn = 16;
constexpr int kAcceptsPerWake = 64;
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kScanInterval = std::chrono::seconds(1);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr auto kWaitSlice = std::chrono::milliseconds(100);
constexpr uint64_t kDrainMaxBytes = 32 * 1024 * 1024;
constexpr auto kDrainMaxTime = std::chrono::seconds(2);
// While draining, a keep-alive connection idle this long is closed; one in
// use gets Connection: close on its next reply instead, which races with
// nothing. (Closing an idle connection races with a request on its way.)
constexpr auto kDrainIdleClose = std::chrono::seconds(1);
// Under this share of one core over a tick, busy workers are waiting rather
// than computing, and another worker can help.
constexpr double kIdleCpuShare = 0.5;

// Tags for the non-connection entries in epoll.
char listen_tag;
char wake_tag;

void address_of(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    port = ntohs(in.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    port = ntohs(in6.sin6_port);
  }
  ip = text;
}

// poll() on one socket until `deadline` or until the loop stops; false then.
bool wait_for(int fd, short events, Clock::time_point deadline, const std::atomic<bool>& stop) {
  for (;;) {
    if (stop.load(std::memory_order_relaxed)) return false;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd entry{fd, events, 0};
    int ready = ::poll(&entry, 1, static_cast<int>(std::min(left, kWaitSlice).count()));
    if (ready > 0) return true;  // including POLLHUP/POLLERR: the next call says what
    if (ready < 0 && errno != EINTR) return false;
  }
}

double process_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// The worker thread's buffers, kept between connections.
struct IoBuffers {
  std::unique_ptr<char[]> in = std::make_unique<char[]>(kReadBufferBytes);
  std::string out;
};

// httplib's view of one connection while a worker serves it. Reads come out
// of a buffer filled a TLS record at a time (httplib reads header lines a
// byte at a time); writes are gathered and leave as one TLS record per
// reply where they fit, on flush().
class TlsStream final : public httplib::Stream {
 public:
  TlsStream(ConnectionLoop::Connection& connection, IoBuffers& buffers,
            std::chrono::milliseconds write_timeout, const std::atomic<bool>& stop)
      : connection_(connection), buffers_(buffers), write_timeout_(write_timeout), stop_(stop) {
    buffers_.out.clear();
    if (!connection_.leftover.empty()) {
      end_ = std::min(connection_.leftover.size(), kReadBufferBytes);
      std::memcpy(buffers_.in.get(), connection_.leftover.data(), end_);
      connection_.leftover.clear();
    }
  }

  void set_read_deadline(Clock::time_point deadline) { read_deadline_ = deadline; }

  bool is_readable() const override {
    return pos_ < end_ || SSL_has_pending(connection_.ssl) ||
           wait_for(connection_.fd, POLLIN, read_deadline_, stop_);
  }

  bool is_writable() const override {
    return wait_for(connection_.fd, POLLOUT, Clock::now() + write_timeout_, stop_);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == end_) {
      // A reply may be waiting for this read's answer (100 Continue).
      if (!buffers_.out.empty() && !flush()) return -1;
      ssize_t filled = fill();
      if (filled <= 0) return filled;
    }
    std::size_t n = std::min(size, end_ - pos_);
    std::memcpy(ptr, buffers_.in.get() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (failed_) return -1;
    buffers_.out.append(ptr, size);
    if (buffers_.out.size() >= kWriteFlushBytes && !flush()) return -1;
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = connection_.remote_ip;
    port = connection_.remote_port;
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = connection_.local_ip;
    port = connection_.local_port;
  }

  socket_t socket() const override { return connection_.fd; }

  // Writes what was gathered, within the write timeout.
  bool flush() {
    if (failed_) return false;
    const auto deadline = Clock::now() + write_timeout_;
    std::size_t offset = 0;
    std::string& out = buffers_.out;
    while (offset < out.size()) {
      int n = SSL_write(connection_.ssl, out.data() + offset,
                        static_cast<int>(std::min<std::size_t>(out.size() - offset, INT_MAX)));
      if (n > 0) {
        offset += static_cast<std::size_t>(n);
        continue;
      }
      int error = SSL_get_error(connection_.ssl, n);
      bool waited = false;
      if (error == SSL_ERROR_WANT_WRITE) {
        waited = wait_for(connection_.fd, POLLOUT, deadline, stop_);
      } else if (error == SSL_ERROR_WANT_READ) {
        waited = wait_for(connection_.fd, POLLIN, deadline, stop_);
      }
      if (!waited) {
        ERR_clear_error();
        failed_ = true;
        break;
      }
    }
    out.clear();
    return !failed_;
  }

  // Bytes received and not consumed yet (the next request has begun).
  bool has_pending() const { return pos_ < end_ || SSL_has_pending(connection_.ssl); }

  // Keeps the unread bytes with the connection for its next turn.
  void keep_leftover() {
    if (pos_ < end_) connection_.leftover.assign(buffers_.in.get() + pos_, end_ - pos_);
    pos_ = end_ = 0;
  }

  // Reads and drops up to `budget` bytes within `time`; stops at EOF.
  void discard(uint64_t budget, std::chrono::milliseconds time) {
    read_deadline_ = Clock::now() + time;
    char scratch[4096];
    while (budget > 0) {
      ssize_t n = read(scratch, static_cast<size_t>(std::min<uint64_t>(sizeof scratch, budget)));
      if (n <= 0) break;
      budget -= static_cast<uint64_t>(n);
    }
  }

 private:
  ssize_t fill() {
    pos_ = end_ = 0;
    for (;;) {
      int n = SSL_read(connection_.ssl, buffers_.in.get(), static_cast<int>(kReadBufferBytes));
      if (n > 0) {
        end_ = static_cast<std::size_t>(n);
        return n;
      }
      int error = SSL_get_error(connection_.ssl, n);
      if (error == SSL_ERROR_WANT_READ) {
        if (wait_for(connection_.fd, POLLIN, read_deadline_, stop_)) continue;
      } else if (error == SSL_ERROR_WANT_WRITE) {
        if (wait_for(connection_.fd, POLLOUT, read_deadline_, stop_)) continue;
      } else if (error == SSL_ERROR_ZERO_RETURN) {
        return 0;
      }
      ERR_clear_error();
      return -1;
    }
  }

  ConnectionLoop::Connection& connection_;
  IoBuffers& buffers_;
  std::chrono::milliseconds write_timeout_;
  const std::atomic<bool>& stop_;
  Clock::time_point read_deadline_{};
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  bool failed_ = false;
};

std::string handshake_error(SSL* ssl, int result) {
  int error = SSL_get_error(ssl, result);
  unsigned long code = ERR_peek_last_error();
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    return buffer;
  }
  if (error == SSL_ERROR_SYSCALL) return errno ? std::strerror(errno) : "connection closed";
  return "TLS error " + std::to_string(error);
}

}  // namespace

ConnectionLoop::ConnectionLoop(int listen_fd, SSL_CTX* ctx, ConnectionLoopOptions options,
                               RequestHandler handler)
    : listen_fd_(listen_fd), ctx_(ctx), options_(std::move(options)), handler_(std::move(handler)) {
  options_.max_connections = std::max<std::size_t>(1, options_.max_connections);
  options_.min_workers = std::max<std::size_t>(1, options_.min_workers);
  options_.max_workers = std::max(options_.min_workers, options_.max_workers);
}

ConnectionLoop::~ConnectionLoop() { stop(); }

std::size_t ConnectionLoop::workers() const {
  std::lock_guard lock(workers_mutex_);
  return live_workers_;
}

Status ConnectionLoop::start() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Error{std::string("epoll_create1: ") + std::strerror(errno)};
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Error{std::string("eventfd: ") + std::strerror(errno)};
  // Level-triggered and never read: once written, every epoll_wait returns.
  epoll_event wake_event{};
  wake_event.events = EPOLLIN;
  wake_event.data.ptr = &wake_tag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event) != 0) {
    return Error{std::string("epoll_ctl: ") + std::strerror(errno)};
  }
  ::fcntl(listen_fd_, F_SETFL, ::fcntl(listen_fd_, F_GETFL, 0) | O_NONBLOCK);
  epoll_event listen_event{};
  listen_event.events = EPOLLIN | EPOLLONESHOT;
  listen_event.data.ptr = &listen_tag;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event) != 0) {
    return Error{std::string("epoll_ctl: ") + std::strerror(errno)};
  }
  {
    std::lock_guard lock(workers_mutex_);
    while (live_workers_ < options_.min_workers) spawn_worker_locked();
  }
  housekeeping_ = std::thread([this] { housekeep(); });
  return Ok{};
}

void ConnectionLoop::spawn_worker_locked() {
  Worker& worker = workers_.emplace_back();
  ++live_workers_;
  worker.thread = std::thread([this, &worker] { work(&worker); });
}

void ConnectionLoop::reap_workers_locked() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->finished) {
      it->thread.join();  // it has left work(): immediate
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void ConnectionLoop::work(Worker* self) {
  auto last_work = Clock::now();
  for (;;) {
    epoll_event event{};
    waiting_.fetch_add(1, std::memory_order_relaxed);
    int count = ::epoll_wait(epoll_fd_, &event, 1, 1000);
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    if (stopping_.load()) break;
    if (count < 0 && errno != EINTR) {
      log::error("epoll_wait failed", {{"error", std::strerror(errno)}});
      break;
    }
    if (count <= 0) {
      if (Clock::now() - last_work < options_.retire_after) continue;
      std::lock_guard lock(workers_mutex_);
      if (live_workers_ <= options_.min_workers) continue;
      --live_workers_;
      self->finished = true;
      return;
    }
    last_work = Clock::now();
    void* tag = event.data.ptr;
    if (tag == &listen_tag) {
      accept_ready();
    } else if (tag != &wake_tag) {
      serve(static_cast<Connection*>(tag));
    }
  }
  std::lock_guard lock(workers_mutex_);
  --live_workers_;
  self->finished = true;
}

void ConnectionLoop::arm_listener() {
  // Caller holds listener_mutex_.
  if (listen_fd_ < 0 || listener_paused_ || !accepting_) return;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.ptr = &listen_tag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &event);
}

void ConnectionLoop::accept_ready() {
  std::lock_guard listener(listener_mutex_);
  if (listen_fd_ < 0) return;
  const auto now = Clock::now();
  for (int i = 0; i < kAcceptsPerWake; ++i) {
    sockaddr_storage remote{};
    socklen_t remote_length = sizeof remote;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&remote), &remote_length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      // Out of descriptors or memory: back off rather than spin.
      listener_paused_ = true;
      resume_accept_at_ = now + kAcceptRetry;
      if (now - last_accept_warning_ > std::chrono::seconds(10)) {
        log::warning("cannot accept connections", {{"error", std::strerror(errno)}});
        last_accept_warning_ = now;
      }
      return;
    }
    int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    auto connection = std::make_unique<Connection>();
    Connection* raw = connection.get();
    raw->fd = fd;
    address_of(remote, raw->remote_ip, raw->remote_port);
    sockaddr_storage local{};
    socklen_t local_length = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) == 0) {
      address_of(local, raw->local_ip, raw->local_port);
    }
    raw->parked_at = now;
    std::size_t open;
    {
      std::lock_guard lock(connections_mutex_);
      connections_.emplace(raw, std::move(connection));
      open = open_.fetch_add(1) + 1;
    }
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    event.data.ptr = raw;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      // Never visible to another worker: this one owns it.
      {
        std::lock_guard lock(raw->mutex);
        raw->active = true;
      }
      finish(raw, false);
      continue;
    }
    report_open();
    if (open > options_.max_connections) {
      // Over the limit by this one: close the longest-idle connection to make
      // room, and accept again once under the limit (finish() re-arms).
      const bool kicked = kick_oldest_idle();
      listener_paused_ = true;
      if (now - last_accept_warning_ > std::chrono::seconds(10)) {
        log::warning(kicked ? "connection limit reached; closing the longest idle connection"
                            : "connection limit reached; new connections wait",
                     {{"limit", std::to_string(options_.max_connections)}});
        last_accept_warning_ = now;
      }
      return;
    }
  }
  arm_listener();
}

bool ConnectionLoop::kick_oldest_idle() {
  std::lock_guard lock(connections_mutex_);
  Connection* oldest = nullptr;
  for (auto& [raw, connection] : connections_) {
    std::lock_guard hold(connection->mutex);
    if (!connection->active && !connection->kicked && connection->handshaken &&
        (!oldest || connection->parked_at < oldest->parked_at)) {
      oldest = raw;
    }
  }
  if (!oldest) return false;
  std::lock_guard hold(oldest->mutex);
  oldest->kicked = true;
  ::shutdown(oldest->fd, SHUT_RD);  // wakes it in epoll; its worker closes it
  return true;
}

void ConnectionLoop::report_open() {
  if (!options_.on_connections_changed) return;
  // Serialized, and read under the lock: the last call reports the count.
  std::lock_guard lock(report_mutex_);
  options_.on_connections_changed(open_.load());
}

void ConnectionLoop::serve(Connection* connection) {
  thread_local IoBuffers buffers;
  Connection& c = *connection;
  bool kicked;
  {
    std::lock_guard lock(c.mutex);
    c.active = true;
    kicked = std::exchange(c.kicked, false);
  }
  if (kicked) {
    // Idle too long, draining, or making room. A request that arrived
    // meanwhile is still answered (with Connection: close); else close,
    // politely. The kick shut the socket's read side, which on Linux still
    // yields what was queued before reporting end of stream.
    char byte;
    const bool request_waiting = c.ssl && (SSL_has_pending(c.ssl) || !c.leftover.empty() ||
                                           ::recv(c.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0);
    if (!request_waiting) {
      finish(connection, true);
      return;
    }
  }
  if (!c.ssl && !handshake(c)) {
    finish(connection, false);
    return;
  }
  TlsStream stream(c, buffers, options_.write_timeout, stopping_);
  const int turns = kicked ? 1 : kRequestsPerTurn;
  for (int turn = 0; turn < turns; ++turn) {
    // epoll woke us for this connection: its first turn has bytes (or EOF).
    // A handshake just done, or a later turn, may find nothing yet.
    if ((turn > 0 || c.requests == 0) && !stream.has_pending()) {
      pollfd entry{c.fd, POLLIN, 0};
      if (::poll(&entry, 1, 0) <= 0) break;
    }
    const bool draining = draining_.load();
    const bool last = options_.max_requests_per_connection > 0 &&
                      c.requests + 1 >= options_.max_requests_per_connection;
    const bool must_close = draining || last || kicked || stopping_.load();
    stream.set_read_deadline(Clock::now() + options_.read_timeout);
    RequestOutcome outcome = handler_(stream, must_close);
    ++c.requests;
    const bool flushed = stream.flush();
    if (!flushed || must_close || outcome.after != RequestOutcome::After::kKeepAlive) {
      if (flushed && outcome.after == RequestOutcome::After::kDrainThenClose) {
        stream.discard(std::min(outcome.unread_bytes.value_or(kDrainMaxBytes), kDrainMaxBytes),
                       kDrainMaxTime);
      }
      finish(connection, flushed);
      return;
    }
  }
  stream.keep_leftover();
  park(connection);
}

bool ConnectionLoop::handshake(Connection& c) {
  c.ssl = SSL_new(ctx_);
  if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1) {
    ERR_clear_error();
    return false;
  }
  const auto deadline = Clock::now() + options_.read_timeout;
  for (;;) {
    ERR_clear_error();
    int result = SSL_accept(c.ssl);
    if (result == 1) return true;
    int error = SSL_get_error(c.ssl, result);
    bool waited = false;
    if (error == SSL_ERROR_WANT_READ) {
      waited = wait_for(c.fd, POLLIN, deadline, stopping_);
    } else if (error == SSL_ERROR_WANT_WRITE) {
      waited = wait_for(c.fd, POLLOUT, deadline, stopping_);
    }
    if (!waited) {
      if (log::enabled(4)) {
        std::string why = error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE
                              ? "timed out"
                              : handshake_error(c.ssl, result);
        log::info("TLS handshake failed", {{"remote", c.remote_ip}, {"error", why}});
      }
      ERR_clear_error();
      return false;
    }
  }
}

void ConnectionLoop::park(Connection* connection) {
  Connection& c = *connection;
  // Bytes already read (pipelined) or buffered in TLS do not wake epoll:
  // queue the connection as ready right away by arming it for writability,
  // which a healthy socket has.
  const bool ready = !c.leftover.empty() || SSL_has_pending(c.ssl);
  std::lock_guard lock(c.mutex);
  c.active = false;
  c.parked_at = Clock::now();
  c.handshaken = true;
  epoll_event event{};
  event.events = (ready ? EPOLLOUT : EPOLLIN | EPOLLRDHUP) | EPOLLONESHOT;
  event.data.ptr = connection;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event) != 0) {
    // Cannot wait for it: make it wake and close.
    c.kicked = true;
    ::shutdown(c.fd, SHUT_RDWR);
  }
}

void ConnectionLoop::finish(Connection* connection, bool send_close_notify) {
  Connection& c = *connection;
  if (c.ssl) {
    if (send_close_notify && SSL_is_init_finished(c.ssl)) SSL_shutdown(c.ssl);  // best effort
    SSL_free(c.ssl);
    c.ssl = nullptr;
    ERR_clear_error();
  }
  std::unique_ptr<Connection> owned;
  std::size_t open;
  {
    std::lock_guard lock(connections_mutex_);
    auto found = connections_.find(connection);
    if (found != connections_.end()) {
      owned = std::move(found->second);
      connections_.erase(found);
    }
    open = open_.fetch_sub(1) - 1;
  }
  ::close(c.fd);  // also leaves the epoll set
  owned.reset();
  report_open();
  if (open == 0) {
    std::lock_guard lock(open_mutex_);
    all_closed_.notify_all();
  }
  if (open <= options_.max_connections) {
    std::lock_guard listener(listener_mutex_);
    if (listener_paused_ && Clock::now() >= resume_accept_at_) {
      listener_paused_ = false;
      arm_listener();
    }
  }
}

void ConnectionLoop::housekeep() {
  auto next_scan = Clock::now() + kScanInterval;
  double last_cpu = process_cpu_seconds();
  auto last_tick = Clock::now();
  int starved_ticks = 0;
  std::unique_lock lock(housekeeping_mutex_);
  while (!housekeeping_wake_.wait_for(lock, kTick, [this] { return stopping_.load(); })) {
    lock.unlock();
    const auto now = Clock::now();
    // No worker waiting for work for two ticks while the process barely uses
    // the CPU: the workers are stuck on clients or lookups; add one.
    const double cpu = process_cpu_seconds();
    const double share =
        (cpu - last_cpu) / std::max(1e-3, std::chrono::duration<double>(now - last_tick).count());
    last_cpu = cpu;
    last_tick = now;
    starved_ticks = waiting_.load() == 0 && share < kIdleCpuShare ? starved_ticks + 1 : 0;
    {
      std::lock_guard workers(workers_mutex_);
      reap_workers_locked();
      if (starved_ticks >= 2 && live_workers_ < options_.max_workers) {
        spawn_worker_locked();
        starved_ticks = 0;
        if (live_workers_ == options_.max_workers) {
          log::warning("every request thread is waiting; at the maximum",
                       {{"threads", std::to_string(live_workers_)}});
        }
      }
    }
    {
      std::lock_guard listener(listener_mutex_);
      if (listener_paused_ && now >= resume_accept_at_ &&
          open_.load() <= options_.max_connections) {
        listener_paused_ = false;
        arm_listener();
      }
    }
    if (now >= next_scan || draining_.load()) {
      scan(now);
      next_scan = now + kScanInterval;
    }
    lock.lock();
  }
}

void ConnectionLoop::scan(Clock::time_point now) {
  const bool draining = draining_.load();
  const bool closing = !listening_.load();
  std::lock_guard lock(connections_mutex_);
  for (auto& [raw, connection] : connections_) {
    std::lock_guard hold(connection->mutex);
    if (connection->active || connection->kicked) continue;
    // Before its handshake a connection has the read timeout to make it;
    // after, the idle timeout. Draining, a keep-alive connection idle for a
    // second is closed, and every idle one once the listener is closed; one
    // that has asked nothing yet gets the read timeout to.
    const auto parked_for = now - connection->parked_at;
    const bool expired =
        parked_for >= (connection->handshaken ? options_.idle_timeout : options_.read_timeout);
    const bool drained =
        draining && ((connection->requests > 0 && (closing || parked_for >= kDrainIdleClose)) ||
                     parked_for >= options_.read_timeout);
    if (expired || drained) {
      connection->kicked = true;
      ::shutdown(connection->fd, SHUT_RD);  // wakes it in epoll; a worker closes it
    }
  }
}

void ConnectionLoop::drain() {
  if (draining_.exchange(true)) return;
  scan(Clock::now());
}

void ConnectionLoop::stop_accepting() {
  std::vector<Connection*> accepted;
  {
    std::lock_guard listener(listener_mutex_);
    if (listen_fd_ < 0) return;
    accepting_ = false;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
  }
  // What the kernel already accepted on our behalf is served, not reset:
  // accept_ready() leaves the listener disarmed now that accepting_ is off.
  for (int round = 0; round < 64; ++round) {
    const std::size_t before = open_.load();
    accept_ready();
    if (open_.load() == before) break;
  }
  {
    std::lock_guard listener(listener_mutex_);
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  listening_.store(false);
  scan(Clock::now());
}

bool ConnectionLoop::wait_closed(Clock::time_point deadline) {
  std::unique_lock lock(open_mutex_);
  return all_closed_.wait_until(lock, deadline, [this] { return open_.load() == 0; });
}

void ConnectionLoop::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t written = ::write(wake_fd_, &one, sizeof one);
  }
  { std::lock_guard lock(housekeeping_mutex_); }
  housekeeping_wake_.notify_all();
  if (housekeeping_.joinable()) housekeeping_.join();
  {
    // Workers in the middle of a request see the socket end at once.
    std::lock_guard lock(connections_mutex_);
    for (auto& [raw, connection] : connections_) {
      std::lock_guard hold(connection->mutex);
      if (connection->active) ::shutdown(connection->fd, SHUT_RDWR);
    }
  }
  std::list<Worker> workers;
  {
    std::lock_guard lock(workers_mutex_);
    workers.swap(workers_);  // nothing spawns once stopping_ is set
  }
  for (auto& worker : workers) {
    if (worker.thread.joinable()) worker.thread.join();
  }
  for (auto& [raw, connection] : connections_) {
    if (connection->ssl) SSL_free(connection->ssl);
    ::close(connection->fd);
  }
  connections_.clear();
  open_.store(0);
  {
    std::lock_guard lock(open_mutex_);
    all_closed_.notify_all();
  }
  {
    std::lock_guard listener(listener_mutex_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  wake_fd_ = epoll_fd_ = -1;
  ERR_clear_error();
}

}  // namespace irsa::server
