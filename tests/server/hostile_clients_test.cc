// The server under clients that stall, trickle or frame requests
// ambiguously, over real TLS on 127.0.0.1: no client delays another's
// request, and what is ambiguous is refused with the connection closed.
#include "server/https_server.h"

#include "server/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace irsa::server {
namespace {

using testing::TestCertificates;
using testing::TlsClient;
using Clock = std::chrono::steady_clock;

ServerOptions options_for_test() {
  const auto& certs = TestCertificates::get();
  ServerOptions options;
  options.bind_address = "127.0.0.1";
  options.port = 0;
  options.tls_cert_file = (certs.dir / "tls.crt").string();
  options.tls_key_file = (certs.dir / "tls.key").string();
  options.max_request_bytes = 4096;
  options.worker_threads = 1;
  options.max_worker_threads = 1;
  options.io_threads = 1;
  return options;
}

// A server whose /mutate blocks while `hold` is set (on its one worker).
class Server {
 public:
  explicit Server(ServerOptions options = options_for_test()) {
    Routes routes;
    routes.mutate = [this](std::string_view body) {
      std::unique_lock lock(mutex_);
      ++entered_;
      changed_.notify_all();
      changed_.wait_for(lock, std::chrono::seconds(10), [this] { return !hold_; });
      return HttpReply{200, "application/json", "{\"bytes\":" + std::to_string(body.size()) + "}"};
    };
    server_ = std::make_unique<HttpsServer>(std::move(options), std::move(routes));
    auto started = server_->start();
    EXPECT_TRUE(started.ok()) << started.error();
  }
  ~Server() {
    release();
    server_->stop();
  }
  int port() const { return server_->port(); }
  void hold() {
    std::lock_guard lock(mutex_);
    hold_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      hold_ = false;
    }
    changed_.notify_all();
  }
  bool wait_entered(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return entered_ >= count; });
  }

 private:
  std::unique_ptr<HttpsServer> server_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_ = false;
  int entered_ = 0;
};

// A plain TCP connection to the server that never completes anything.
class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawSocket() { ::close(fd_); }
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  bool connected() const { return connected_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

const std::string kHealth = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kMutate =
    "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
    "2\r\n\r\n{}";

TEST(HostileClients, StalledHandshakesDoNotDelayAnotherClient) {
  ServerOptions options = options_for_test();
  options.read_timeout = std::chrono::seconds(30);  // they are not cut in time
  Server server(options);
  std::vector<std::unique_ptr<RawSocket>> stalled;
  for (int i = 0; i < 64; ++i) {
    stalled.push_back(std::make_unique<RawSocket>(server.port()));
    ASSERT_TRUE(stalled.back()->connected());
    // The first 5 bytes of a TLS record (a handshake record of 512 bytes).
    ASSERT_TRUE(stalled.back()->send(std::string("\x16\x03\x01\x02\x00", 5)));
  }
  // One I/O thread, one worker, 64 stalled handshakes: a review and a probe
  // from another client are answered anyway (the client's own timeout is
  // 5 s; the stalled handshakes would hold a blocking server for 30 s).
  TlsClient client(server.port());
  ASSERT_TRUE(client.handshake());
  ASSERT_TRUE(client.send(kMutate));
  EXPECT_NE(client.response().find("{\"bytes\":2}"), std::string::npos);
  ASSERT_TRUE(client.send(kHealth));
  EXPECT_NE(client.response().find("200 OK"), std::string::npos);
}

TEST(HostileClients, ASlowRequestDoesNotDelayAnotherClient) {
  ServerOptions options = options_for_test();
  options.read_timeout = std::chrono::seconds(30);
  Server server(options);
  std::vector<std::unique_ptr<TlsClient>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<TlsClient>(server.port()));
    ASSERT_TRUE(slow.back()->handshake());
    ASSERT_TRUE(slow.back()->send("POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: applic"));
  }
  TlsClient client(server.port());
  ASSERT_TRUE(client.handshake());
  ASSERT_TRUE(client.send(kMutate));
  EXPECT_NE(client.response().find("{\"bytes\":2}"), std::string::npos);
}

TEST(HostileClients, ProbesAnswerWhileEveryWorkerIsBusy) {
  Server server;
  server.hold();
  TlsClient busy(server.port());
  ASSERT_TRUE(busy.handshake());
  ASSERT_TRUE(busy.send(kMutate));
  ASSERT_TRUE(server.wait_entered(1));
  TlsClient probe(server.port());
  ASSERT_TRUE(probe.handshake());
  ASSERT_TRUE(probe.send(kHealth));
  EXPECT_NE(probe.response().find("200 OK"), std::string::npos);
  ASSERT_TRUE(probe.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(probe.response().find("200 OK"), std::string::npos);
  server.release();
  EXPECT_NE(busy.response().find("{\"bytes\":2}"), std::string::npos);
}

TEST(HostileClients, AStalledHandshakeIsClosedAtTheReadTimeoutCountedFromAccept) {
  ServerOptions options = options_for_test();
  options.read_timeout = std::chrono::milliseconds(400);
  Server server(options);
  TlsClient trickle(server.port());
  ASSERT_TRUE(trickle.handshake());
  // Bytes keep coming, but the request never completes: the deadline is
  // the request's, not the last byte's.
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    closed = !trickle.send("X") || trickle.closed_by_server(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(closed);
}

struct Framing {
  const char* name;
  std::string request;
  const char* status_line;
};

class FramingOverTls : public ::testing::TestWithParam<Framing> {};

TEST_P(FramingOverTls, IsRefusedAndTheConnectionClosed) {
  Server server;
  TlsClient client(server.port());
  ASSERT_TRUE(client.handshake());
  ASSERT_TRUE(client.send(GetParam().request));
  const std::string response = client.response();
  EXPECT_EQ(response.rfind(GetParam().status_line, 0), 0u) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
  EXPECT_TRUE(client.closed_by_server(std::chrono::milliseconds(3000)));
}

const std::string kPost = "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, FramingOverTls,
    ::testing::Values(
        Framing{
            "ContentLengthWithChunked",
            kPost + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + kHealth,
            "HTTP/1.1 400 "},
        Framing{"DifferingContentLengths",
                kPost + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "HTTP/1.1 400 "},
        Framing{"ChunkedThenIdentity",
                kPost + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", "HTTP/1.1 501 "},
        Framing{"TooManyHeaders",
                [] {
                  std::string r = kPost;
                  for (int i = 0; i < 100; ++i) r += "X-" + std::to_string(i) + ": v\r\n";
                  return r + "\r\n";
                }(),
                "HTTP/1.1 431 "},
        Framing{"HeadersTooLarge", kPost + "X-Big: " + std::string(20000, 'a') + "\r\n\r\n",
                "HTTP/1.1 431 "},
        Framing{"ObsoleteFolding", kPost + "X-A: b\r\n  c\r\n\r\n", "HTTP/1.1 400 "}),
    [](const ::testing::TestParamInfo<Framing>& info) { return info.param.name; });

TEST(HostileClients, PipelinedRequestsAreAnsweredInOrder) {
  Server server;
  TlsClient client(server.port());
  ASSERT_TRUE(client.handshake());
  ASSERT_TRUE(client.send(kMutate + kHealth + kMutate));
  EXPECT_NE(client.response().find("{\"bytes\":2}"), std::string::npos);
  EXPECT_NE(client.response().find("ok"), std::string::npos);
  EXPECT_NE(client.response().find("{\"bytes\":2}"), std::string::npos);
}

TEST(HostileClients, ExpectContinueGetsAnInterimReplyThenTheAnswer) {
  Server server;
  TlsClient client(server.port());
  ASSERT_TRUE(client.handshake());
  ASSERT_TRUE(client.send(kPost + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  const std::string interim = client.response();
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << interim;
  ASSERT_TRUE(client.send("{}"));
  const std::string response = client.response();
  EXPECT_NE(response.find("{\"bytes\":2}"), std::string::npos) << response;
}

TEST(HostileClients, BodiesWaitForRoomInTheInFlightBudget) {
  ServerOptions options = options_for_test();
  options.max_bytes_in_flight = 3000;
  Server server(options);
  // The first body holds 2,500 bytes of the 3,000 while it trickles in.
  TlsClient first(server.port());
  ASSERT_TRUE(first.handshake());
  ASSERT_TRUE(first.send(kPost + "Content-Length: 2500\r\n\r\n" + std::string(100, ' ')));
  std::this_thread::yield();
  // The second cannot be charged until the first is done: it waits, and is
  // answered once the first completes.
  TlsClient second(server.port());
  ASSERT_TRUE(second.handshake());
  ASSERT_TRUE(second.send(kPost + "Content-Length: 2000\r\n\r\n" + std::string(2000, ' ')));
  EXPECT_FALSE(second.readable_within(std::chrono::milliseconds(500)))
      << "answered while the first body held the budget";
  ASSERT_TRUE(first.send(std::string(2400, ' ')));
  EXPECT_NE(first.response().find("{\"bytes\":2500}"), std::string::npos);
  EXPECT_NE(second.response().find("{\"bytes\":2000}"), std::string::npos);
}

}  // namespace
}  // namespace irsa::server
