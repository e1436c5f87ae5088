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

#include "log/log.h"

namespace irsa::server {

using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadBufferBytes = 16 * 1024;
// Plaintext read from one connection before the others get their turn.
constexpr std::size_t kTurnBytes = 64 * 1024;
constexpr int kAcceptsPerWake = 64;
constexpr int kEventsPerWait = 256;
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
// A refused body is read and dropped within these bounds before the
// connection closes, so that the client reads the reply rather than a reset.
constexpr uint64_t kDiscardMaxBytes = 32 * 1024 * 1024;
constexpr auto kDiscardMaxTime = std::chrono::seconds(2);
// While draining, a keep-alive connection idle this long is closed; one in
// use gets Connection: close on its next reply instead.
constexpr auto kDrainIdleClose = std::chrono::seconds(1);
// A reply buffer larger than this is freed once written.
constexpr std::size_t kKeepBufferBytes = 64 * 1024;

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

std::string tls_error(SSL* ssl, int result) {
  int error = SSL_get_error(ssl, result);
  unsigned long code = ERR_peek_last_error();
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    return buffer;
  }
  if (error == SSL_ERROR_SYSCALL) return errno ? std::strerror(errno) : "connection closed";
  if (error == SSL_ERROR_ZERO_RETURN) return "connection closed";
  return "TLS error " + std::to_string(error);
}

void append_response(std::string& out, const HttpResponse& response, bool head_only, bool close) {
  const std::string_view text = status_text(response.status);
  out.reserve(out.size() + 160 + (head_only ? 0 : response.body.size()));
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += text;
  out += "\r\nContent-Type: ";
  out += response.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\n";
  for (const auto& [name, value] : response.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_only) out += response.body;
}

}  // namespace

struct ConnectionLoop::Connection {
  enum class Phase {
    kHandshake,
    kReading,
    kWaitingMemory,  // a body waits for room in the in-flight budget
    kDispatched,     // a worker is answering
    kWriting,
    kDiscarding,  // reading and dropping a refused body, then closing
  };
  enum class AfterWrite { kNextRequest, kContinueReading, kClose, kDiscardThenClose };

  explicit Connection(const HttpLimits& limits) : parser(limits) {}

  uint64_t id = 0;
  IoThread* io = nullptr;
  int fd = -1;
  SSL* ssl = nullptr;
  std::string remote;
  Phase phase = Phase::kHandshake;
  AfterWrite after = AfterWrite::kNextRequest;
  bool closed = false;
  bool ready_queued = false;
  bool request_started = false;
  HttpRequestParser parser;
  std::string pending;  // plaintext read past a complete request (pipelining)
  std::string out;
  std::size_t out_at = 0;
  Clock::time_point deadline;
  Clock::time_point idle_at;  // when the last reply was written
  std::size_t requests = 0;
  std::size_t charged = 0;      // bytes charged to the in-flight budget
  std::size_t waiting_for = 0;  // kWaitingMemory: bytes to charge (0: any room)
  bool answer_waiting = false;  // kWaitingMemory: a complete request to answer
  uint64_t discard_left = 0;
  // Read by other threads (under the registry lock): when this connection
  // became idle between requests (0: not idle), and whether it was asked to
  // close.
  std::atomic<int64_t> idle_since{0};
  std::atomic<bool> kicked{false};
};

class ConnectionLoop::IoThread {
 public:
  IoThread(ConnectionLoop& owner) : owner_(owner) {}
  ~IoThread() {
    for (auto& [raw, connection] : connections_) {
      if (connection->ssl) SSL_free(connection->ssl);
      if (!connection->closed) ::close(connection->fd);
    }
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
  void post_reply(Connection* connection, std::shared_ptr<HttpRequest> request,
                  HttpResponse response) {
    {
      std::lock_guard lock(inbox_mutex_);
      inbox_.push_back(
          Message{Message::kReply, connection, 0, std::move(request), std::move(response), -1, {}});
    }
    wake();
  }
  // From any thread: close `connection` (if it is still `id`) when idle.
  void post_kick(Connection* connection, uint64_t id) {
    {
      std::lock_guard lock(inbox_mutex_);
      inbox_.push_back(Message{Message::kKick, connection, id, nullptr, {}, -1, {}});
    }
    wake();
  }
  // From stop_accepting(): a socket accepted on this thread's behalf.
  void post_adopt(int fd, std::string remote) {
    {
      std::lock_guard lock(inbox_mutex_);
      inbox_.push_back(Message{Message::kAdopt, nullptr, 0, nullptr, {}, fd, std::move(remote)});
    }
    wake();
  }

 private:
  struct Message {
    enum Kind { kReply, kKick, kAdopt } kind;
    Connection* connection;
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
  void advance(Connection& c);
  bool consume(Connection& c, std::string_view data);
  void dispatch(Connection& c);
  void reply(Connection& c, const HttpRequest& request, HttpResponse response,
             uint64_t unread_body);
  void finish_write(Connection& c);
  void discard(Connection& c);
  void close(Connection& c, bool notify);
  void make_ready(Connection& c) {
    if (c.ready_queued || c.closed) return;
    c.ready_queued = true;
    ready_.push_back(&c);
  }
  bool try_resume(Connection& c);
  bool room_to_answer(const Connection& c) const {
    const std::size_t total = owner_.in_flight_.load();
    const std::size_t others = total > c.charged ? total - c.charged : 0;
    return others < owner_.options_.max_bytes_in_flight;
  }

  ConnectionLoop& owner_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> ready_;
  std::vector<Connection*> graveyard_;
  std::mutex inbox_mutex_;
  std::vector<Message> inbox_;
  bool listener_paused_ = false;
  Clock::time_point resume_accept_at_{};
  Clock::time_point last_accept_warning_{};
  char buffer_[kReadBufferBytes];
};

void ConnectionLoop::IoThread::run() {
  epoll_event events[kEventsPerWait];
  auto next_tick = Clock::now() + kTick;
  std::vector<Connection*> turn;
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
        Connection& c = *static_cast<Connection*>(tag);
        if (!c.closed) advance(c);
      }
    }
    turn.swap(ready_);
    for (Connection* c : turn) {
      c->ready_queued = false;
      if (!c->closed) advance(*c);
    }
    turn.clear();
    const auto now = Clock::now();
    if (now >= next_tick) {
      tick(now);
      next_tick = now + kTick;
    }
    for (Connection* c : graveyard_) connections_.erase(c);
    graveyard_.clear();
  }
}

void ConnectionLoop::IoThread::accept_ready() {
  std::shared_lock listener(owner_.listener_mutex_);
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
  SSL* ssl = SSL_new(owner_.ctx_);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    if (ssl) SSL_free(ssl);
    ERR_clear_error();
    ::close(fd);
    return;
  }
  SSL_set_accept_state(ssl);
  // Idle connections keep no TLS buffers; replies may leave in pieces.
  SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  auto owned = std::make_unique<Connection>(owner_.options_.limits);
  Connection& c = *owned;
  c.id = next_id.fetch_add(1, std::memory_order_relaxed);
  c.io = this;
  c.fd = fd;
  c.ssl = ssl;
  c.remote = std::move(remote);
  c.deadline = now + owner_.options_.read_timeout;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.ptr = &c;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    SSL_free(ssl);
    ::close(fd);
    return;
  }
  connections_.emplace(&c, std::move(owned));
  const std::size_t open = owner_.connection_opened(&c);
  if (open > owner_.options_.max_connections && !owner_.kick_oldest_idle()) {
    // Nothing idle to make room with: this one goes.
    if (now - last_accept_warning_ > std::chrono::seconds(10)) {
      log::warning("connection limit reached; refusing new connections",
                   {{"limit", std::to_string(owner_.options_.max_connections)}});
      last_accept_warning_ = now;
    }
    close(c, false);
    return;
  }
  advance(c);
}

void ConnectionLoop::IoThread::read_inbox() {
  std::vector<Message> messages;
  {
    std::lock_guard lock(inbox_mutex_);
    messages.swap(inbox_);
  }
  const auto now = Clock::now();
  for (Message& message : messages) {
    switch (message.kind) {
      case Message::kAdopt:
        adopt(message.fd, std::move(message.remote), now);
        break;
      case Message::kKick: {
        auto found = connections_.find(message.connection);
        if (found == connections_.end() || found->second->id != message.id) break;
        Connection& c = *found->second;
        if (!c.closed && c.phase == Connection::Phase::kReading && !c.request_started) {
          close(c, true);
        }
        break;
      }
      case Message::kReply: {
        auto found = connections_.find(message.connection);
        if (found == connections_.end()) break;
        Connection& c = *found->second;
        if (c.closed || c.phase != Connection::Phase::kDispatched) break;
        reply(c, *message.request, std::move(message.response), 0);
        advance(c);
        break;
      }
    }
  }
}

void ConnectionLoop::IoThread::tick(Clock::time_point now) {
  if (listener_paused_ && now >= resume_accept_at_) {
    std::shared_lock listener(owner_.listener_mutex_);
    if (owner_.listen_fd_ >= 0 && add_listener(owner_.listen_fd_)) listener_paused_ = false;
  }
  const bool draining = owner_.draining_.load();
  const bool listening = owner_.listening_.load();
  for (auto& [raw, connection] : connections_) {
    Connection& c = *connection;
    if (c.closed) continue;
    using Phase = Connection::Phase;
    switch (c.phase) {
      case Phase::kWaitingMemory:
        if (now < c.deadline && try_resume(c)) {
          make_ready(c);
          break;
        }
        [[fallthrough]];
      case Phase::kHandshake:
      case Phase::kReading:
      case Phase::kWriting:
      case Phase::kDiscarding:
        if (now >= c.deadline) {
          const bool idle = c.phase == Phase::kReading && !c.request_started && c.requests > 0;
          if (log::enabled(4) && c.phase != Phase::kDiscarding && !idle) {
            log::info(c.phase == Phase::kHandshake ? "TLS handshake timed out"
                      : c.phase == Phase::kWriting ? "reply write timed out"
                                                   : "request read timed out",
                      {{"remote", c.remote}});
          }
          close(c, idle);
        } else if (draining && c.phase == Phase::kReading && !c.request_started && c.requests > 0 &&
                   (!listening || now - c.idle_at >= kDrainIdleClose)) {
          close(c, true);
        }
        break;
      case Phase::kDispatched:
        break;
    }
  }
}

bool ConnectionLoop::IoThread::try_resume(Connection& c) {
  if (c.answer_waiting) {
    if (!room_to_answer(c)) return false;
    c.answer_waiting = false;
    dispatch(c);
    return true;
  }
  if (c.waiting_for > 0) {
    if (!owner_.charge(c.waiting_for, false)) return false;
    c.charged += c.waiting_for;
    c.waiting_for = 0;
  } else if (owner_.in_flight_.load() >= owner_.options_.max_bytes_in_flight) {
    return false;
  }
  c.phase = Connection::Phase::kReading;
  return true;
}

void ConnectionLoop::IoThread::advance(Connection& c) {
  std::size_t turn = kTurnBytes;
  for (int step = 0; step < 64 && !c.closed; ++step) {
    switch (c.phase) {
      case Connection::Phase::kHandshake: {
        ERR_clear_error();
        const int result = SSL_do_handshake(c.ssl);
        if (result == 1) {
          c.phase = Connection::Phase::kReading;
          continue;
        }
        const int error = SSL_get_error(c.ssl, result);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
        if (log::enabled(4)) {
          log::info("TLS handshake failed",
                    {{"remote", c.remote}, {"error", tls_error(c.ssl, result)}});
        }
        ERR_clear_error();
        close(c, false);
        return;
      }
      case Connection::Phase::kReading: {
        if (!c.pending.empty()) {
          // Bytes read past the previous request; what consume() does not
          // take goes back to c.pending.
          std::string data = std::move(c.pending);
          c.pending.clear();
          consume(c, data);
          continue;
        }
        if (turn == 0) {
          make_ready(c);
          return;
        }
        ERR_clear_error();
        const int n = SSL_read(c.ssl, buffer_, static_cast<int>(sizeof buffer_));
        if (n <= 0) {
          const int error = SSL_get_error(c.ssl, n);
          if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
          ERR_clear_error();
          // The client closed or the TLS stream broke: nothing to answer.
          close(c, false);
          return;
        }
        turn -= std::min(turn, static_cast<std::size_t>(n));
        consume(c, std::string_view(buffer_, static_cast<std::size_t>(n)));
        continue;
      }
      case Connection::Phase::kWaitingMemory:
      case Connection::Phase::kDispatched:
        return;
      case Connection::Phase::kWriting: {
        while (c.out_at < c.out.size()) {
          ERR_clear_error();
          const int n =
              SSL_write(c.ssl, c.out.data() + c.out_at,
                        static_cast<int>(std::min<std::size_t>(c.out.size() - c.out_at, INT_MAX)));
          if (n > 0) {
            c.out_at += static_cast<std::size_t>(n);
            continue;
          }
          const int error = SSL_get_error(c.ssl, n);
          if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) return;
          ERR_clear_error();
          close(c, false);
          return;
        }
        finish_write(c);
        continue;
      }
      case Connection::Phase::kDiscarding:
        discard(c);
        return;
    }
  }
  if (!c.closed) make_ready(c);
}

bool ConnectionLoop::IoThread::consume(Connection& c, std::string_view data) {
  const auto& options = owner_.options_;
  for (;;) {
    std::size_t used = 0;
    const HttpRequestParser::State state = c.parser.feed(data, used);
    data.remove_prefix(used);
    if (!c.request_started && c.parser.started()) {
      c.request_started = true;
      c.idle_since.store(0, std::memory_order_relaxed);
      // The first request counts from accept; a later one from its first byte.
      if (c.requests > 0) c.deadline = Clock::now() + options.read_timeout;
    }
    HttpRequest& request = c.parser.request();
    switch (state) {
      case HttpRequestParser::State::kNeedMore: {
        // A chunked body is charged as it grows; past the budget it waits.
        if (request.chunked && request.body.capacity() > c.charged) {
          const std::size_t more = request.body.capacity() - c.charged;
          owner_.charge(more, true);
          c.charged += more;
          if (owner_.in_flight_.load() > options.max_bytes_in_flight) {
            c.waiting_for = 0;
            c.phase = Connection::Phase::kWaitingMemory;
          }
        }
        return true;
      }
      case HttpRequestParser::State::kHeadersDone: {
        if (auto refusal = owner_.application_.screen(request)) {
          const auto left = c.parser.body_bytes_left();
          const uint64_t unread = left ? *left : kDiscardMaxBytes;
          refusal->close = true;
          reply(c, request, std::move(*refusal), unread);
          return false;
        }
        const uint64_t length = request.content_length.value_or(0);
        if (length > 0 && !owner_.charge(static_cast<std::size_t>(length), false)) {
          c.waiting_for = static_cast<std::size_t>(length);
          c.phase = Connection::Phase::kWaitingMemory;
          c.pending.assign(data);
          return false;
        }
        c.charged += static_cast<std::size_t>(length);
        if (request.expect_continue) {
          c.out = "HTTP/1.1 100 Continue\r\n\r\n";
          c.out_at = 0;
          c.after = Connection::AfterWrite::kContinueReading;
          c.phase = Connection::Phase::kWriting;
          c.pending.assign(data);
          return false;
        }
        continue;
      }
      case HttpRequestParser::State::kComplete:
        c.pending.assign(data);
        if (!room_to_answer(c)) {
          // Replies are held in memory until written: none is made while
          // what others hold fills the budget.
          c.answer_waiting = true;
          c.phase = Connection::Phase::kWaitingMemory;
          return false;
        }
        dispatch(c);
        return false;
      case HttpRequestParser::State::kFailed: {
        const HttpError& error = c.parser.error();
        HttpResponse response;
        response.status = error.status;
        response.body = error.reason + "\n";
        response.close = true;
        // The rest of what the client sends is read and dropped (bounded)
        // so that it reads the reply rather than a reset.
        const uint64_t unread = kDiscardMaxBytes;
        reply(c, request, std::move(response), unread);
        return false;
      }
    }
  }
}

void ConnectionLoop::IoThread::dispatch(Connection& c) {
  HttpRequest& request = c.parser.request();
  if (request.body.size() <= owner_.options_.inline_max_body_bytes) {
    std::optional<HttpResponse> response;
    try {
      response = owner_.application_.respond(request, false);
    } catch (const std::exception& e) {
      log::error("request failed", {{"error", e.what()}});
      response = HttpResponse{500, "text/plain; charset=utf-8", "internal error\n", {}, true};
    }
    if (response) {
      reply(c, request, std::move(*response), 0);
      return;
    }
  }
  c.phase = Connection::Phase::kDispatched;
  owner_.submit(Job{this, &c, std::make_shared<HttpRequest>(std::move(request))});
}

void ConnectionLoop::IoThread::reply(Connection& c, const HttpRequest& request,
                                     HttpResponse response, uint64_t unread_body) {
  const auto& options = owner_.options_;
  owner_.application_.completed(request, response, c.remote);
  ++c.requests;
  const bool last =
      options.max_requests_per_connection > 0 && c.requests >= options.max_requests_per_connection;
  const bool close = response.close || !request.keep_alive || last || owner_.draining_.load() ||
                     owner_.stopping_.load() || c.kicked.load();
  // The request's body is done with; the reply is what is held now.
  owner_.release(c.charged);
  c.charged = 0;
  c.out.clear();
  c.out_at = 0;
  append_response(c.out, response, request.method == "HEAD", close);
  std::string().swap(response.body);
  owner_.charge(c.out.size(), true);
  c.charged = c.out.size();
  if (!close) {
    c.after = Connection::AfterWrite::kNextRequest;
  } else if (unread_body > 0) {
    c.after = Connection::AfterWrite::kDiscardThenClose;
    c.discard_left = std::min(unread_body, kDiscardMaxBytes);
  } else {
    c.after = Connection::AfterWrite::kClose;
  }
  c.phase = Connection::Phase::kWriting;
  c.deadline = Clock::now() + options.write_timeout;
}

void ConnectionLoop::IoThread::finish_write(Connection& c) {
  owner_.release(c.charged);
  c.charged = 0;
  if (c.out.capacity() > kKeepBufferBytes) {
    std::string().swap(c.out);
  } else {
    c.out.clear();
  }
  c.out_at = 0;
  const auto now = Clock::now();
  switch (c.after) {
    case Connection::AfterWrite::kContinueReading:
      c.phase = Connection::Phase::kReading;
      return;
    case Connection::AfterWrite::kClose:
      close(c, true);
      return;
    case Connection::AfterWrite::kDiscardThenClose:
      c.phase = Connection::Phase::kDiscarding;
      c.deadline = now + kDiscardMaxTime;
      return;
    case Connection::AfterWrite::kNextRequest:
      c.parser.reset();
      c.phase = Connection::Phase::kReading;
      c.request_started = false;
      c.idle_at = now;
      c.deadline = now + owner_.options_.idle_timeout;
      c.idle_since.store(ticks(now), std::memory_order_relaxed);
      return;
  }
}

void ConnectionLoop::IoThread::discard(Connection& c) {
  for (int i = 0; i < 64 && c.discard_left > 0; ++i) {
    ERR_clear_error();
    const int n = SSL_read(c.ssl, buffer_, static_cast<int>(sizeof buffer_));
    if (n <= 0) {
      const int error = SSL_get_error(c.ssl, n);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
      ERR_clear_error();
      close(c, false);  // the client closed: done
      return;
    }
    c.discard_left -= std::min<uint64_t>(c.discard_left, static_cast<uint64_t>(n));
  }
  if (c.discard_left > 0) {
    make_ready(c);  // more to drop on the next turn
    return;
  }
  close(c, true);
}

void ConnectionLoop::IoThread::close(Connection& c, bool notify) {
  if (c.closed) return;
  c.closed = true;
  if (c.ssl) {
    if (notify && SSL_is_init_finished(c.ssl)) SSL_shutdown(c.ssl);  // best effort
    SSL_free(c.ssl);
    c.ssl = nullptr;
    ERR_clear_error();
  }
  ::close(c.fd);  // also leaves the epoll set
  owner_.release(c.charged);
  c.charged = 0;
  owner_.connection_closed(&c);
  graveyard_.push_back(&c);
}

// --- ConnectionLoop --------------------------------------------------------

ConnectionLoop::ConnectionLoop(int listen_fd, SSL_CTX* ctx, ConnectionLoopOptions options,
                               HttpApplication& application)
    : listen_fd_(listen_fd), ctx_(ctx), options_(std::move(options)), application_(application) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  options_.max_connections = std::max<std::size_t>(1, options_.max_connections);
  options_.min_workers = std::max<std::size_t>(1, options_.min_workers);
  options_.max_workers = std::max(options_.min_workers, options_.max_workers);
  // A container sees every core of its node, not its CPU limit: a few I/O
  // threads unless told otherwise, so that memory does not scale with the
  // node (README "Sizing").
  if (options_.io_threads == 0) options_.io_threads = std::min<std::size_t>(cores, 4);
}

ConnectionLoop::~ConnectionLoop() { stop(); }

std::size_t ConnectionLoop::workers() const {
  std::lock_guard lock(jobs_mutex_);
  return worker_threads_.size();
}

Status ConnectionLoop::start() {
  ::fcntl(listen_fd_, F_SETFL, ::fcntl(listen_fd_, F_GETFL, 0) | O_NONBLOCK);
  for (std::size_t i = 0; i < options_.io_threads; ++i) {
    auto io = std::make_unique<IoThread>(*this);
    if (auto ready = io->init(listen_fd_); !ready) return ready;
    io_.push_back(std::move(io));
  }
  {
    std::lock_guard lock(jobs_mutex_);
    for (std::size_t i = 0; i < options_.min_workers; ++i) {
      worker_threads_.emplace_back([this] { work(); });
    }
  }
  for (auto& io : io_) io->start();
  return Ok{};
}

void ConnectionLoop::submit(Job job) {
  std::lock_guard lock(jobs_mutex_);
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
  std::unique_lock lock(jobs_mutex_);
  for (;;) {
    ++idle_workers_;
    jobs_ready_.wait(lock, [this] { return stopping_.load() || !jobs_.empty(); });
    --idle_workers_;
    if (stopping_.load()) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
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
    job.io->post_reply(job.connection, std::move(job.request), std::move(*response));
    lock.lock();
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

std::size_t ConnectionLoop::connection_opened(Connection* connection) {
  std::size_t open;
  {
    std::lock_guard lock(registry_mutex_);
    registry_.insert(connection);
    open = open_.fetch_add(1) + 1;
  }
  report_open();
  return open;
}

void ConnectionLoop::connection_closed(Connection* connection) {
  std::size_t open;
  {
    std::lock_guard lock(registry_mutex_);
    registry_.erase(connection);
    open = open_.fetch_sub(1) - 1;
  }
  report_open();
  if (open == 0) {
    std::lock_guard lock(open_mutex_);
    all_closed_.notify_all();
  }
}

bool ConnectionLoop::kick_oldest_idle() {
  std::lock_guard lock(registry_mutex_);
  Connection* oldest = nullptr;
  int64_t oldest_since = 0;
  for (Connection* c : registry_) {
    const int64_t since = c->idle_since.load(std::memory_order_relaxed);
    if (since == 0 || c->kicked.load(std::memory_order_relaxed)) continue;
    if (!oldest || since < oldest_since) {
      oldest = c;
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
  std::lock_guard lock(report_mutex_);
  options_.on_connections_changed(open_.load());
}

void ConnectionLoop::drain() {
  if (draining_.exchange(true)) return;
  for (auto& io : io_) io->wake();
}

void ConnectionLoop::stop_accepting() {
  std::unique_lock listener(listener_mutex_);
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
  std::unique_lock lock(open_mutex_);
  return all_closed_.wait_until(lock, deadline, [this] { return open_.load() == 0; });
}

void ConnectionLoop::stop() {
  if (stopping_.exchange(true)) return;
  for (auto& io : io_) io->wake();
  for (auto& io : io_) io->join();
  {
    std::lock_guard lock(jobs_mutex_);
    jobs_.clear();
  }
  jobs_ready_.notify_all();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(jobs_mutex_);
    workers.swap(worker_threads_);
  }
  for (auto& worker : workers) {
    if (worker.joinable()) worker.join();
  }
  {
    std::lock_guard lock(registry_mutex_);
    registry_.clear();
  }
  io_.clear();  // frees what is still open
  open_.store(0);
  {
    std::lock_guard lock(open_mutex_);
    all_closed_.notify_all();
  }
  {
    std::unique_lock listener(listener_mutex_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }
  ERR_clear_error();
}

}  // namespace irsa::server
