// The connection loop on its own, with a scripted application: what it
// promises in connection_loop.h (no client holds a thread, the longest-idle
// connection makes room, a drain closes keep-alive connections, deadlines
// count from accept, bodies wait for the memory budget rather than grow it).
#include "server/connection_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/test_support.h"
#include "server/tls_context.h"

namespace irsa::server {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::TestCertificates;
using testing::TlsClient;

// Answers "/inline" on the I/O thread; "/block" only on a worker, and only
// once released; refuses "/refuse" from its head.
class ScriptedApplication : public HttpApplication {
 public:
  std::optional<HttpResponse> screen(const HttpRequest& head) override {
    if (head.path == "/refuse") return HttpResponse{403, "text/plain", "refused\n", {}, false};
    return std::nullopt;
  }
  std::optional<HttpResponse> respond(const HttpRequest& request, bool may_block) override {
    if (request.path != "/block") {
      return HttpResponse{
          200, "text/plain", "inline " + std::to_string(request.body.size()), {}, false};
    }
    if (!may_block) return std::nullopt;
    std::unique_lock lock(mutex_);
    ++blocked_;
    changed_.notify_all();
    // Bounded: a test that forgets to release does not hang.
    changed_.wait_for(lock, 20s, [this] { return released_; });
    return HttpResponse{
        200, "text/plain", "worker " + std::to_string(request.body.size()), {}, false};
  }
  void completed(const HttpRequest&, const HttpResponse&, const std::string&) override {
    std::lock_guard lock(mutex_);
    ++completed_;
    changed_.notify_all();
  }

  bool wait_blocked(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return blocked_ >= count; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  int blocked() {
    std::lock_guard lock(mutex_);
    return blocked_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int blocked_ = 0;
  int completed_ = 0;
  bool released_ = false;
};

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

std::string post(const std::string& path, std::size_t body_bytes) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body_bytes) +
         "\r\n\r\n" + std::string(body_bytes, 'x');
}

class ConnectionLoopTest : public ::testing::Test {
 protected:
  void start(ConnectionLoopOptions options) {
    const auto& certs = TestCertificates::get();
    auto pair = CertifiedKey::load(certs.dir / "tls.crt", certs.dir / "tls.key");
    ASSERT_TRUE(pair.ok()) << pair.error();
    store_ = std::make_unique<CertificateStore>(*pair);
    auto ctx = make_server_context(TlsSettings{}, *store_);
    ASSERT_TRUE(ctx.ok()) << ctx.error();
    ctx_ = std::move(*ctx);

    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(fd, 64), 0);
    socklen_t length = sizeof address;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);

    options.on_connections_changed = [this](std::size_t open) {
      std::lock_guard lock(open_mutex_);
      open_seen_.push_back(open);
    };
    loop_ = std::make_unique<ConnectionLoop>(fd, ctx_.get(), std::move(options), application_);
    ASSERT_TRUE(loop_->start().ok());
  }

  std::unique_ptr<TlsClient> connect() {
    auto client = std::make_unique<TlsClient>(port_);
    EXPECT_TRUE(client->handshake());
    return client;
  }

  // Polls, bounded, until the loop counts `open` connections.
  bool wait_open(std::size_t open) {
    for (int i = 0; i < 500; ++i) {
      if (loop_->open_connections() == open) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  void TearDown() override {
    application_.release();
    if (loop_) loop_->stop();
  }

  ScriptedApplication application_;
  std::unique_ptr<CertificateStore> store_;
  openssl::SslContext ctx_;
  std::unique_ptr<ConnectionLoop> loop_;
  int port_ = 0;
  std::mutex open_mutex_;
  std::vector<std::size_t> open_seen_;
};

TEST_F(ConnectionLoopTest, AnswersOnTheIoThreadAndKeepsTheConnectionAlive) {
  start({});
  auto client = connect();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client->send(get("/inline")));
    std::string reply = client->response();
    EXPECT_THAT(reply, HasSubstr("HTTP/1.1 200"));
    EXPECT_THAT(reply, HasSubstr("inline 0"));
    EXPECT_THAT(reply, ::testing::Not(HasSubstr("Connection: close")));
  }
  EXPECT_EQ(loop_->open_connections(), 1u);
  EXPECT_EQ(application_.blocked(), 0);  // no worker was needed
}

// A request whose answer waits takes a worker, not the I/O thread: with the
// only worker held, other clients are still answered.
TEST_F(ConnectionLoopTest, ARequestThatWaitsHoldsAWorkerNotTheLoop) {
  ConnectionLoopOptions options;
  options.io_threads = 1;
  options.min_workers = 1;
  options.max_workers = 1;
  start(options);
  auto slow = connect();
  ASSERT_TRUE(slow->send(post("/block", 10)));
  ASSERT_TRUE(application_.wait_blocked(1));
  for (int i = 0; i < 5; ++i) {
    auto other = connect();
    ASSERT_TRUE(other->send(get("/inline")));
    EXPECT_THAT(other->response(), HasSubstr("inline 0"));
  }
  application_.release();
  EXPECT_THAT(slow->response(), HasSubstr("worker 10"));
}

TEST_F(ConnectionLoopTest, AtTheConnectionLimitTheLongestIdleMakesRoom) {
  ConnectionLoopOptions options;
  options.max_connections = 2;
  start(options);
  auto oldest = connect();
  ASSERT_TRUE(oldest->send(get("/inline")));
  ASSERT_FALSE(oldest->response().empty());
  auto newer = connect();
  ASSERT_TRUE(newer->send(get("/inline")));
  ASSERT_FALSE(newer->response().empty());
  ASSERT_TRUE(wait_open(2));

  auto third = connect();
  ASSERT_TRUE(third->send(get("/inline")));
  EXPECT_THAT(third->response(), HasSubstr("inline 0"));
  EXPECT_TRUE(oldest->closed_by_server(5s));
  // The newer idle connection was left alone.
  ASSERT_TRUE(newer->send(get("/inline")));
  EXPECT_THAT(newer->response(), HasSubstr("inline 0"));
}

TEST_F(ConnectionLoopTest, ADrainSaysConnectionCloseAndEndsKeepAlive) {
  start({});
  auto client = connect();
  ASSERT_TRUE(client->send(get("/inline")));
  ASSERT_FALSE(client->response().empty());
  loop_->drain();
  EXPECT_TRUE(loop_->draining());
  ASSERT_TRUE(client->send(get("/inline")));
  std::string reply = client->response();
  EXPECT_THAT(reply, HasSubstr("inline 0"));
  EXPECT_THAT(reply, HasSubstr("Connection: close"));
  EXPECT_TRUE(client->closed_by_server(5s));
  loop_->stop_accepting();
  EXPECT_TRUE(loop_->wait_closed(std::chrono::steady_clock::now() + 5s));
  EXPECT_EQ(loop_->open_connections(), 0u);
}

TEST_F(ConnectionLoopTest, ARefusedHeadIsAnsweredAtOnceAndTheConnectionCloses) {
  start({});
  auto client = connect();
  // The body is announced but never sent: the refusal does not wait for it.
  ASSERT_TRUE(
      client->send("POST /refuse HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n"));
  std::string reply = client->response();
  EXPECT_THAT(reply, HasSubstr("HTTP/1.1 403"));
  EXPECT_THAT(reply, HasSubstr("Connection: close"));
  EXPECT_TRUE(client->closed_by_server(5s));
}

TEST_F(ConnectionLoopTest, AHeadThatDoesNotArriveInTimeIsClosed) {
  ConnectionLoopOptions options;
  options.read_timeout = 300ms;
  start(options);
  auto client = connect();
  ASSERT_TRUE(client->send("GET /inline HTTP/1.1\r\nHost: loc"));
  EXPECT_TRUE(client->closed_by_server(5s));
  EXPECT_TRUE(wait_open(0));
}

TEST_F(ConnectionLoopTest, AnIdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  ConnectionLoopOptions options;
  options.idle_timeout = 300ms;
  start(options);
  auto client = connect();
  ASSERT_TRUE(client->send(get("/inline")));
  ASSERT_FALSE(client->response().empty());
  EXPECT_TRUE(client->closed_by_server(5s));
}

// Bodies in flight are charged to one budget: a second large body waits
// while the first is held, and is answered once there is room.
TEST_F(ConnectionLoopTest, ABodyPastTheMemoryBudgetWaitsForRoom) {
  ConnectionLoopOptions options;
  options.max_bytes_in_flight = 96 * 1024;
  options.min_workers = 2;
  options.max_workers = 2;
  start(options);
  auto first = connect();
  ASSERT_TRUE(first->send(post("/block", 64 * 1024)));
  ASSERT_TRUE(application_.wait_blocked(1));

  auto second = connect();
  ASSERT_TRUE(second->send(post("/block", 64 * 1024)));
  // An observation window, not a speed check: within it the second body
  // must not have reached the application.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(application_.blocked(), 1);

  application_.release();
  EXPECT_THAT(first->response(), HasSubstr("worker 65536"));
  EXPECT_THAT(second->response(), HasSubstr("worker 65536"));
}

TEST_F(ConnectionLoopTest, StopClosesEverythingAndIsIdempotent) {
  start({});
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(wait_open(2));
  loop_->stop();
  EXPECT_TRUE(a->closed_by_server(5s));
  EXPECT_TRUE(b->closed_by_server(5s));
  loop_->stop();
  EXPECT_EQ(loop_->open_connections(), 0u);
  std::lock_guard lock(open_mutex_);
  ASSERT_FALSE(open_seen_.empty());
  EXPECT_EQ(*std::max_element(open_seen_.begin(), open_seen_.end()), 2u);
}

}  // namespace
}  // namespace irsa::server
