// An HTTP proxy for tests that only tunnels: it answers CONNECT host:port by
// opening that address and copying bytes both ways, and records what each
// CONNECT asked for. Listens on 127.0.0.1; every wait is bounded.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"

namespace irsa::fakes {

class ConnectProxy {
 public:
  struct Tunnel {
    std::string target;               // "host:port" of the CONNECT line
    std::string proxy_authorization;  // the Proxy-Authorization header, or ""
  };

  // `require_authorization`: when non-empty, a CONNECT without exactly this
  // Proxy-Authorization value is answered 407.
  explicit ConnectProxy(std::string require_authorization = {});
  ~ConnectProxy();
  ConnectProxy(const ConnectProxy&) = delete;
  ConnectProxy& operator=(const ConnectProxy&) = delete;

  Status start();
  void stop();
  int port() const { return port_; }
  std::vector<Tunnel> tunnels() const;
  int refused() const { return refused_.load(); }

 private:
  void accept_loop();
  void serve(int client);

  std::string require_authorization_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> refused_{0};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<Tunnel> tunnels_;
  std::vector<std::thread> workers_;
};

}  // namespace irsa::fakes
