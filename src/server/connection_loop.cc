// I/O threads with edge-triggered epoll over non-blocking sockets and
// non-blocking TLS; a connection is touched only by the I/O thread that
// accepted it. Other threads reach a connection through that thread's inbox
// (a worker's reply, a kick to close it, a socket to adopt) and its eventfd.
#include "server/connection_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <unordered_map>

#include <openssl/err.h>

#include "common/openssl.h"
#include "log/log.h"
#include "server/defaults.h"

namespace irsa::server {

namespace {

constexpr int kAcceptsPerWake = 64;
constexpr int kEventsPerWait = 256;
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

int64_t ticks(Clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

std::string address_of(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
  } else if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text,
              sizeof text);
  }
  return text;
}

// TLS over a non-blocking socket: OpenSSL's WANT_READ/WANT_WRITE become
// the connection's waits; the socket is closed with the TLS object.
class TlsTransport final : public Transport {
 public:
  TlsTransport(openssl::Ssl ssl, int fd) : ssl_(std::move(ssl)), fd_(fd) {}
  ~TlsTransport() override { close(false); }

  IoResult handshake() override {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl_.get());
    return result == 1 ? IoResult{} : failure(result);
  }
  IoResult read(char* buffer, std::size_t size) override {
    ERR_clear_error();
    const int n =
        SSL_read(ssl_.get(), buffer, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    return n > 0 ? IoResult{IoResult::kOk, static_cast<std::size_t>(n), {}} : failure(n);
  }
  IoResult write(const char* data, std::size_t size) override {
    ERR_clear_error();
    const int n =
        SSL_write(ssl_.get(), data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    return n > 0 ? IoResult{IoResult::kOk, static_cast<std::size_t>(n), {}} : failure(n);
  }
  void close(bool notify) override {
    if (!ssl_) return;
    if (notify && SSL_is_init_finished(ssl_.get())) SSL_shutdown(ssl_.get());  // best effort
    ssl_.reset();
    ::close(fd_);  // also leaves the epoll set
    ERR_clear_error();
  }

 private:
  IoResult failure(int result) {
    const int error = SSL_get_error(ssl_.get(), result);
    if (error == SSL_ERROR_WANT_READ) return IoResult{IoResult::kWantRead, 0, {}};
    if (error == SSL_ERROR_WANT_WRITE) return IoResult{IoResult::kWantWrite, 0, {}};
    IoResult closed{IoResult::kClosed, 0, {}};
    if (log::enabled(4)) {
      if (unsigned long code = ERR_peek_last_error(); code != 0) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        closed.error = text;
      } else if (error == SSL_ERROR_SYSCALL) {
        closed.error = errno ? std::strerror(errno) : "connection closed";
      } else {
        closed.error = error == SSL_ERROR_ZERO_RETURN ? "connection closed"
                                                      : "TLS error " + std::to_string(error);
      }
    }
    ERR_clear_error();
    return closed;
  }

  openssl::Ssl ssl_;
  int fd_;
};

}  // namespace

// A connection as the loop holds it: the state machine, and what other
// threads may read of it (under the registry lock) to choose one to close.
struct ConnectionLoop::Slot final : ConnectionHost {
  Slot(IoThread& io_thread, ConnectionLoop& loop_owner) : io(&io_thread), owner(loop_owner) {}

  Clock::time_point now() override { return Clock::now(); }
  HttpApplication& application() override { return owner.application_; }
  bool draining() override { return owner.draining_.load(std::memory_order_relaxed); }
  bool stopping() override { return owner.stopping_.load(std::memory_order_relaxed); }
  bool charge(std::size_t bytes, bool force) override { return owner.charge(bytes, force); }
  void release(std::size_t bytes) override { owner.release(bytes); }
  std::size_t in_flight() override { return owner.in_flight_.load(std::memory_order_relaxed); }
  void submit(Connection&, std::shared_ptr<HttpRequest> request) override;
  void yield(Connection&) override;
  void closed(Connection&) override;

  // After the connection did something: whether it is now idle.
  void update_idle() {
    idle_since.store(connection->idle() ? ticks(connection->idle_at()) : 0,
                     std::memory_order_relaxed);
  }

  uint64_t id = 0;
  IoThread* io;
  ConnectionLoop& owner;
  std::unique_ptr<Connection> connection;
  bool ready_queued = false;
  // When the connection became idle between requests (0: not idle), and
  // whether it was asked to close.
  std::atomic<int64_t> idle_since{0};
  std::atomic<bool> kicked{false};
};

class ConnectionLoop::IoThread {
 public:
  explicit IoThread(ConnectionLoop& owner) : owner_(owner) {}
  ~IoThread() {
    slots_.clear();  // closes what is still open
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  Status init(int listen_fd) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return Error{std::string("epoll_create1: ") + std::strerror(errno)};
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return Error{std::string("eventfd: ") + std::strerror(errno)};
    epoll_event wake{};
    wake.events = EPOLLIN;
    wake.data.ptr = &wake_fd_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake) != 0) {
      return Error{std::string("epoll_ctl: ") + std::strerror(errno)};
    }
    if (!add_listener(listen_fd)) return Error{std::string("epoll_ctl: ") + std::strerror(errno)};
    return Ok{};
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  int epoll_fd() const { return epoll_fd_; }

  void wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t written = ::write(wake_fd_, &one, sizeof one);
  }

  // From a worker: the reply to a dispatched request.
  void post_reply(Slot* slot, std::shared_ptr<HttpRequest> request, HttpResponse response) {
    {
      MutexLock lock(inbox_mutex_);
      inbox_.push_back(Message{
          Message::kReply, slot, slot->id, std::move(request), std::move(response), -1, {}});
    }
    wake();
  }
  // From any thread: close the connection of `slot` (if it is still `id`)
  // when idle.
  void post_kick(Slot* slot, uint64_t id) {
    {
      MutexLock lock(inbox_mutex_);
      inbox_.push_back(Message{Message::kKick, slot, id, nullptr, {}, -1, {}});
    }
    wake();
  }
  // From stop_accepting(): a socket accepted on this thread's behalf.
  void post_adopt(int fd, std::string remote) {
    {
      MutexLock lock(inbox_mutex_);
      inbox_.push_back(Message{Message::kAdopt, nullptr, 0, nullptr, {}, fd, std::move(remote)});
    }
    wake();
  }

  void make_ready(Slot& slot) {
    if (slot.ready_queued) return;
    slot.ready_queued = true;
    ready_.push_back(&slot);
  }
  void bury(Slot& slot) { graveyard_.push_back(&slot); }

 private:
  struct Message {
    enum Kind { kReply, kKick, kAdopt } kind;
    Slot* slot;
    uint64_t id;
    std::shared_ptr<HttpRequest> request;
    HttpResponse response;
    int fd;
    std::string remote;
  };

  bool add_listener(int listen_fd) {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLEXCLUSIVE;
    event.data.ptr = &owner_.listen_fd_;
    return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd, &event) == 0;
  }

  void run();
  void accept_ready();
  void adopt(int fd, std::string remote, Clock::time_point now);
  void read_inbox();
  void tick(Clock::time_point now);
  void advance(Slot& slot) {
    if (slot.connection->closed()) return;
    slot.connection->advance();
    slot.update_idle();
  }
  // The slot of a message, if it is still the connection the message meant.
  Slot* find(Slot* slot, uint64_t id) {
    auto found = slots_.find(slot);
    if (found == slots_.end() || found->second->id != id) return nullptr;
    return found->second->connection->closed() ? nullptr : found->second.get();
  }

  ConnectionLoop& owner_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::unordered_map<Slot*, std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> ready_;
  std::vector<Slot*> graveyard_;
  Mutex inbox_mutex_;
  std::vector<Message> inbox_ IRSA_GUARDED_BY(inbox_mutex_);
  bool listener_paused_ = false;
  Clock::time_point resume_accept_at_{};
  Clock::time_point last_accept_warning_{};
};

void ConnectionLoop::Slot::submit(Connection&, std::shared_ptr<HttpRequest> request) {
  owner.submit(Job{io, this, id, std::move(request)});
}

void ConnectionLoop::Slot::yield(Connection&) { io->make_ready(*this); }

void ConnectionLoop::Slot::closed(Connection&) {
  idle_since.store(0, std::memory_order_relaxed);
  owner.connection_closed(this);
  io->bury(*this);
}

void ConnectionLoop::IoThread::run() {
  epoll_event events[kEventsPerWait];
  auto next_tick = Clock::now() + kTick;
  std::vector<Slot*> turn;
  while (!owner_.stopping_.load(std::memory_order_relaxed)) {
    const int timeout = ready_.empty() ? static_cast<int>(kTick.count()) : 0;
    const int count = ::epoll_wait(epoll_fd_, events, kEventsPerWait, timeout);
    if (count < 0 && errno != EINTR) {
      log::error("epoll_wait failed", {{"error", std::strerror(errno)}});
      break;
    }
    for (int i = 0; i < count; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &owner_.listen_fd_) {
        accept_ready();
      } else if (tag == &wake_fd_) {
        uint64_t value;
        [[maybe_unused]] ssize_t n = ::read(wake_fd_, &value, sizeof value);
        read_inbox();
      } else {
        advance(*static_cast<Slot*>(tag));
      }
    }
    turn.swap(ready_);
    for (Slot* slot : turn) {
      slot->ready_queued = false;
      advance(*slot);
    }
    turn.clear();
    const auto now = Clock::now();
    if (now >= next_tick) {
      tick(now);
      next_tick = now + kTick;
    }
    for (Slot* slot : graveyard_) slots_.erase(slot);
    graveyard_.clear();
  }
}

void ConnectionLoop::IoThread::accept_ready() {
  ReaderLock listener(owner_.listener_mutex_);
  if (owner_.listen_fd_ < 0 || listener_paused_) return;
  const auto now = Clock::now();
  for (int i = 0; i < kAcceptsPerWake; ++i) {
    sockaddr_storage remote{};
    socklen_t remote_length = sizeof remote;
    int fd = ::accept4(owner_.listen_fd_, reinterpret_cast<sockaddr*>(&remote), &remote_length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      // Out of descriptors or memory: stop accepting here for a moment
      // rather than spin on a listener that stays readable.
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, owner_.listen_fd_, nullptr);
      listener_paused_ = true;
      resume_accept_at_ = now + kAcceptRetry;
      if (now - last_accept_warning_ > std::chrono::seconds(10)) {
        log::warning("cannot accept connections", {{"error", std::strerror(errno)}});
        last_accept_warning_ = now;
      }
      return;
    }
    adopt(fd, address_of(remote), now);
  }
}

void ConnectionLoop::IoThread::adopt(int fd, std::string remote, Clock::time_point now) {
  static std::atomic<uint64_t> next_id{1};
  int yes = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  openssl::Ssl ssl(SSL_new(owner_.ctx_));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    ERR_clear_error();
    ::close(fd);
    return;
  }
  SSL_set_accept_state(ssl.get());
  // Idle connections keep no TLS buffers; replies may leave in pieces.
  SSL_set_mode(ssl.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  auto owned = std::make_unique<Slot>(*this, owner_);
  Slot& slot = *owned;
  slot.id = next_id.fetch_add(1, std::memory_order_relaxed);
  slot.connection = std::make_unique<Connection>(slot, owner_.connection_options_,
                                                 std::make_unique<TlsTransport>(std::move(ssl), fd),
                                                 std::move(remote));
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.ptr = &slot;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return;  // owned closes it
  slots_.emplace(&slot, std::move(owned));
  const std::size_t open = owner_.connection_opened(&slot);
  if (open > owner_.options_.max_connections && !owner_.kick_oldest_idle()) {
    // Nothing idle to make room with: this one goes.
    if (now - last_accept_warning_ > std::chrono::seconds(10)) {
      log::warning("connection limit reached; refusing new connections",
                   {{"limit", std::to_string(owner_.options_.max_connections)}});
      last_accept_warning_ = now;
    }
    slot.connection->close(false);
    return;
  }
  advance(slot);
}

void ConnectionLoop::IoThread::read_inbox() {
  std::vector<Message> messages;
  {
    MutexLock lock(inbox_mutex_);
    messages.swap(inbox_);
  }
  const auto now = Clock::now();
  for (Message& message : messages) {
    switch (message.kind) {
      case Message::kAdopt:
        adopt(message.fd, std::move(message.remote), now);
        break;
      case Message::kKick:
        if (Slot* slot = find(message.slot, message.id)) {
          slot->connection->set_closing();
          slot->connection->close_if_idle();
        }
        break;
      case Message::kReply:
        if (Slot* slot = find(message.slot, message.id)) {
          slot->connection->answer(*message.request, std::move(message.response));
          advance(*slot);
        }
        break;
    }
  }
}

void ConnectionLoop::IoThread::tick(Clock::time_point now) {
  if (listener_paused_ && now >= resume_accept_at_) {
    ReaderLock listener(owner_.listener_mutex_);
    if (owner_.listen_fd_ >= 0 && add_listener(owner_.listen_fd_)) listener_paused_ = false;
  }
  const bool draining = owner_.draining_.load();
  const bool listening = owner_.listening_.load();
  for (auto& [raw, slot] : slots_) {
    if (slot->connection->closed()) continue;
    slot->connection->tick(draining, listening);
  }
}

// --- ConnectionLoop --------------------------------------------------------

ConnectionLoop::ConnectionLoop(int listen_fd, SSL_CTX* ctx, ConnectionLoopOptions options,
                               HttpApplication& application)
    : listen_fd_(listen_fd), ctx_(ctx), options_(std::move(options)), application_(application) {
  options_.max_connections = std::max<std::size_t>(1, options_.max_connections);
  options_.min_workers = std::max<std::size_t>(1, options_.min_workers);
  options_.max_workers = std::max(options_.min_workers, options_.max_workers);
  // A container sees every core of its node, not its CPU limit: a few I/O
  // threads unless told otherwise, so that memory does not scale with the
  // node (README "Sizing").
  if (options_.io_threads == 0) options_.io_threads = defaults::io_threads(defaults::cores());
  connection_options_.read_timeout = options_.read_timeout;
  connection_options_.write_timeout = options_.write_timeout;
  connection_options_.idle_timeout = options_.idle_timeout;
  connection_options_.max_requests_per_connection = options_.max_requests_per_connection;
  connection_options_.max_bytes_in_flight = options_.max_bytes_in_flight;
  connection_options_.inline_max_body_bytes = options_.inline_max_body_bytes;
  connection_options_.limits = options_.limits;
}

ConnectionLoop::~ConnectionLoop() { stop(); }

Status ConnectionLoop::start() {
  {
    ReaderLock listener(listener_mutex_);
    ::fcntl(listen_fd_, F_SETFL, ::fcntl(listen_fd_, F_GETFL, 0) | O_NONBLOCK);
    for (std::size_t i = 0; i < options_.io_threads; ++i) {
      auto io = std::make_unique<IoThread>(*this);
      if (auto ready = io->init(listen_fd_); !ready) return ready;
      io_.push_back(std::move(io));
    }
  }
  {
    MutexLock lock(jobs_mutex_);
    for (std::size_t i = 0; i < options_.min_workers; ++i) {
      worker_threads_.emplace_back([this] { work(); });
    }
  }
  for (auto& io : io_) io->start();
  return Ok{};
}

void ConnectionLoop::submit(Job job) {
  MutexLock lock(jobs_mutex_);
  if (stopping_.load()) return;
  jobs_.push_back(std::move(job));
  if (idle_workers_ < jobs_.size() && worker_threads_.size() < options_.max_workers) {
    worker_threads_.emplace_back([this] { work(); });
    if (worker_threads_.size() == options_.max_workers) {
      log::warning("every request thread is busy; at the maximum",
                   {{"threads", std::to_string(worker_threads_.size())}});
    }
  }
  jobs_ready_.notify_one();
}

void ConnectionLoop::work() {
  for (;;) {
    Job job;
    {
      MutexLock lock(jobs_mutex_);
      ++idle_workers_;
      while (!stopping_.load() && jobs_.empty()) jobs_ready_.wait(jobs_mutex_);
      --idle_workers_;
      if (stopping_.load()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::optional<HttpResponse> response;
    try {
      response = application_.respond(*job.request, true);
    } catch (const std::exception& e) {
      log::error("request failed", {{"error", e.what()}});
    } catch (...) {
      log::error("request failed", {{"error", "unknown exception"}});
    }
    if (!response) {
      response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n", {}, true};
    }
    std::string().swap(job.request->body);
    job.io->post_reply(job.slot, std::move(job.request), std::move(*response));
  }
}

bool ConnectionLoop::charge(std::size_t bytes, bool force) {
  std::size_t current = in_flight_.load(std::memory_order_relaxed);
  for (;;) {
    if (!force && current + bytes > options_.max_bytes_in_flight && current > 0) return false;
    if (in_flight_.compare_exchange_weak(current, current + bytes)) return true;
  }
}

void ConnectionLoop::release(std::size_t bytes) {
  if (bytes > 0) in_flight_.fetch_sub(bytes);
}

std::size_t ConnectionLoop::connection_opened(Slot* connection) {
  std::size_t open;
  {
    MutexLock lock(registry_mutex_);
    registry_.insert(connection);
    open = open_.fetch_add(1) + 1;
  }
  report_open();
  return open;
}

void ConnectionLoop::connection_closed(Slot* connection) {
  std::size_t open;
  {
    MutexLock lock(registry_mutex_);
    registry_.erase(connection);
    open = open_.fetch_sub(1) - 1;
  }
  report_open();
  if (open == 0) {
    MutexLock lock(open_mutex_);
    all_closed_.notify_all();
  }
}

bool ConnectionLoop::kick_oldest_idle() {
  MutexLock lock(registry_mutex_);
  Slot* oldest = nullptr;
  int64_t oldest_since = 0;
  for (Slot* slot : registry_) {
    const int64_t since = slot->idle_since.load(std::memory_order_relaxed);
    if (since == 0 || slot->kicked.load(std::memory_order_relaxed)) continue;
    if (!oldest || since < oldest_since) {
      oldest = slot;
      oldest_since = since;
    }
  }
  if (!oldest) return false;
  oldest->kicked.store(true);
  oldest->io->post_kick(oldest, oldest->id);
  return true;
}

void ConnectionLoop::report_open() {
  if (!options_.on_connections_changed) return;
  // Serialized, and read under the lock: the last call reports the count.
  MutexLock lock(report_mutex_);
  options_.on_connections_changed(open_.load());
}

void ConnectionLoop::drain() {
  if (draining_.exchange(true)) return;
  for (auto& io : io_) io->wake();
}

void ConnectionLoop::stop_accepting() {
  WriterLock listener(listener_mutex_);
  if (listen_fd_ < 0) return;
  for (auto& io : io_) ::epoll_ctl(io->epoll_fd(), EPOLL_CTL_DEL, listen_fd_, nullptr);
  // What the kernel already accepted on our behalf is served, not reset.
  std::size_t next = 0;
  for (int i = 0; i < 64 * kAcceptsPerWake && !io_.empty(); ++i) {
    sockaddr_storage remote{};
    socklen_t remote_length = sizeof remote;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&remote), &remote_length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;
    }
    io_[next++ % io_.size()]->post_adopt(fd, address_of(remote));
  }
  ::close(listen_fd_);
  listen_fd_ = -1;
  listening_.store(false);
  for (auto& io : io_) io->wake();
}

bool ConnectionLoop::wait_closed(Clock::time_point deadline) {
  MutexLock lock(open_mutex_);
  while (open_.load() != 0) {
    if (all_closed_.wait_until(open_mutex_, deadline) == std::cv_status::timeout) {
      return open_.load() == 0;
    }
  }
  return true;
}

void ConnectionLoop::stop() {
  if (stopping_.exchange(true)) return;
  for (auto& io : io_) io->wake();
  for (auto& io : io_) io->join();
  {
    MutexLock lock(jobs_mutex_);
    jobs_.clear();
  }
  jobs_ready_.notify_all();
  std::vector<std::thread> workers;
  {
    MutexLock lock(jobs_mutex_);
    workers.swap(worker_threads_);
  }
  for (auto& worker : workers) {
    if (worker.joinable()) worker.join();
  }
  {
    MutexLock lock(registry_mutex_);
    registry_.clear();
  }
  io_.clear();  // frees what is still open
  open_.store(0);
  {
    MutexLock lock(open_mutex_);
    all_closed_.notify_all();
  }
  {
    WriterLock listener(listener_mutex_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }
  ERR_clear_error();
}

}  // namespace irsa::server
