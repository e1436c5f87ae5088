#include "connect_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace irsa::fakes {
namespace {

constexpr int kPollMs = 50;
constexpr std::size_t kMaxHead = 16 * 1024;

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return true;
}

int connect_to(const std::string& target) {
  auto colon = target.rfind(':');
  if (colon == std::string::npos) return -1;
  std::string host = target.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::atoi(target.c_str() + colon + 1)));
  // Tests tunnel to loopback only: a name is not resolved.
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string header_value(const std::string& head, const std::string& name) {
  std::size_t line = head.find("\r\n");
  while (line != std::string::npos && line + 2 < head.size()) {
    std::size_t start = line + 2;
    std::size_t end = head.find("\r\n", start);
    if (end == std::string::npos) break;
    std::string text = head.substr(start, end - start);
    auto colon = text.find(':');
    if (colon != std::string::npos && strncasecmp(text.c_str(), name.c_str(), name.size()) == 0 &&
        colon == name.size()) {
      std::size_t value = text.find_first_not_of(' ', colon + 1);
      return value == std::string::npos ? std::string() : text.substr(value);
    }
    line = end;
  }
  return {};
}

}  // namespace

ConnectProxy::ConnectProxy(std::string require_authorization)
    : require_authorization_(std::move(require_authorization)) {}

ConnectProxy::~ConnectProxy() { stop(); }

Status ConnectProxy::start() {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener_ < 0) return Error{"proxy: socket failed"};
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener_, 64) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Error{std::string("proxy: ") + std::strerror(errno)};
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
  return Ok{};
}

void ConnectProxy::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& worker : workers) worker.join();
  if (listener_ >= 0) ::close(listener_);
}

std::vector<ConnectProxy::Tunnel> ConnectProxy::tunnels() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return tunnels_;
}

void ConnectProxy::accept_loop() {
  while (!stopping_.load()) {
    pollfd waiting{listener_, POLLIN, 0};
    if (::poll(&waiting, 1, kPollMs) <= 0) continue;
    int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    workers_.emplace_back([this, client] { serve(client); });
  }
}

void ConnectProxy::serve(int client) {
  std::string head;
  char buffer[16384];
  // The request head, bounded in size and in time (200 polls).
  for (int i = 0; i < 200 && !stopping_.load() && head.find("\r\n\r\n") == std::string::npos &&
                  head.size() < kMaxHead;
       ++i) {
    pollfd waiting{client, POLLIN, 0};
    if (::poll(&waiting, 1, kPollMs) <= 0) continue;
    ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
    if (got <= 0) break;
    head.append(buffer, static_cast<std::size_t>(got));
  }
  auto end_of_head = head.find("\r\n\r\n");
  int upstream = -1;
  if (end_of_head != std::string::npos && head.rfind("CONNECT ", 0) == 0) {
    std::string target = head.substr(8, head.find(' ', 8) - 8);
    std::string authorization = header_value(head, "Proxy-Authorization");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tunnels_.push_back({target, authorization});
    }
    if (!require_authorization_.empty() && authorization != require_authorization_) {
      ++refused_;
      static constexpr char kRefused[] =
          "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n";
      send_all(client, kRefused, sizeof kRefused - 1);
    } else if ((upstream = connect_to(target)) < 0) {
      static constexpr char kBad[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
      send_all(client, kBad, sizeof kBad - 1);
    } else {
      static constexpr char kOk[] = "HTTP/1.1 200 Connection established\r\n\r\n";
      send_all(client, kOk, sizeof kOk - 1);
      std::string early = head.substr(end_of_head + 4);
      if (!early.empty()) send_all(upstream, early.data(), early.size());
    }
  } else {
    static constexpr char kOnly[] = "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n";
    send_all(client, kOnly, sizeof kOnly - 1);
  }
  // Copy both ways until either side closes or the proxy stops.
  while (upstream >= 0 && !stopping_.load()) {
    pollfd ends[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    int ready = ::poll(ends, 2, kPollMs);
    if (ready < 0) break;
    if (ready == 0) continue;
    bool open = true;
    for (int side = 0; side < 2 && open; ++side) {
      if (!(ends[side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::recv(ends[side].fd, buffer, sizeof buffer, 0);
      open = got > 0 && send_all(ends[1 - side].fd, buffer, static_cast<std::size_t>(got));
    }
    if (!open) break;
  }
  if (upstream >= 0) ::close(upstream);
  ::close(client);
}

}  // namespace irsa::fakes
