// The connection state machine without sockets or threads: a scripted
// transport (bytes in, in whatever pieces; writes taken in slices) and a
// host whose clock, budget and worker the test drives.
#include "server/connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace irsa::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class FakeTransport final : public Transport {
 public:
  struct Script {
    bool handshake_done = true;
    std::deque<std::string> in;  // each read returns at most one piece
    bool eof = false;            // after `in`: the client closed
    std::size_t write_slice = 1 << 20;
    bool write_blocked = false;  // writes want to wait
    std::string out;
    bool closed = false;
    bool notified = false;
  };
  explicit FakeTransport(Script& script) : s_(script) {}

  IoResult handshake() override {
    return s_.handshake_done ? IoResult{} : IoResult{IoResult::kWantRead, 0, {}};
  }
  IoResult read(char* buffer, std::size_t size) override {
    if (s_.in.empty()) {
      return s_.eof ? IoResult{IoResult::kClosed, 0, {}} : IoResult{IoResult::kWantRead, 0, {}};
    }
    std::string& piece = s_.in.front();
    const std::size_t n = std::min(size, piece.size());
    piece.copy(buffer, n);
    piece.erase(0, n);
    if (piece.empty()) s_.in.pop_front();
    return IoResult{IoResult::kOk, n, {}};
  }
  IoResult write(const char* data, std::size_t size) override {
    if (s_.write_blocked) return IoResult{IoResult::kWantWrite, 0, {}};
    const std::size_t n = std::min(size, s_.write_slice);
    s_.out.append(data, n);
    return IoResult{IoResult::kOk, n, {}};
  }
  void close(bool notify) override {
    s_.closed = true;
    s_.notified = notify;
  }

 private:
  Script& s_;
};

// Answers /healthz at once and /slow only on a worker; /mutate echoes the
// body's size.
class FakeApplication final : public HttpApplication {
 public:
  std::optional<HttpResponse> screen(const HttpRequest& head) override {
    if (head.path == "/refused") return HttpResponse{404, "text/plain", "no\n", {}, false};
    return std::nullopt;
  }
  std::optional<HttpResponse> respond(const HttpRequest& request, bool may_block) override {
    if (request.path == "/slow" && !may_block) return std::nullopt;
    return HttpResponse{
        200, "text/plain", request.path + ":" + std::to_string(request.body.size()), {}, false};
  }
  void completed(const HttpRequest&, const HttpResponse& response, const std::string&) override {
    statuses.push_back(response.status);
  }
  std::vector<int> statuses;
};

class FakeHost final : public ConnectionHost {
 public:
  Clock::time_point now() override { return clock; }
  HttpApplication& application() override { return app; }
  bool draining() override { return draining_; }
  bool stopping() override { return false; }
  bool charge(std::size_t bytes, bool force) override {
    if (!force && in_flight_ > 0 && in_flight_ + bytes > budget) return false;
    in_flight_ += bytes;
    return true;
  }
  void release(std::size_t bytes) override { in_flight_ -= bytes; }
  std::size_t in_flight() override { return in_flight_; }
  void submit(Connection&, std::shared_ptr<HttpRequest> request) override {
    submitted.push_back(std::move(request));
  }
  void yield(Connection&) override { ++yields; }
  void closed(Connection&) override { ++closes; }

  Clock::time_point clock{};
  FakeApplication app;
  bool draining_ = false;
  std::size_t budget = 1 << 20;
  std::size_t in_flight_ = 0;
  std::vector<std::shared_ptr<HttpRequest>> submitted;
  int yields = 0;
  int closes = 0;
};

class ConnectionTest : public ::testing::Test {
 protected:
  ConnectionTest() {
    options.read_timeout = std::chrono::seconds(10);
    options.write_timeout = std::chrono::seconds(10);
    options.idle_timeout = std::chrono::seconds(120);
  }
  Connection& connect() {
    connection = std::make_unique<Connection>(host, options,
                                              std::make_unique<FakeTransport>(script), "192.0.2.1");
    return *connection;
  }
  // Runs advance() as the loop would, while it yields (bounded).
  void advance() {
    for (int i = 0; i < 100; ++i) {
      const int before = host.yields;
      connection->advance();
      if (host.yields == before) return;
    }
  }
  // The replies written so far, split at each status line.
  std::vector<std::string> replies() const {
    std::vector<std::string> out;
    std::size_t at = 0;
    while ((at = script.out.find("HTTP/1.1 ", at)) != std::string::npos) {
      std::size_t next = script.out.find("HTTP/1.1 ", at + 1);
      out.push_back(script.out.substr(at, next == std::string::npos ? next : next - at));
      at = next == std::string::npos ? script.out.size() : next;
    }
    return out;
  }

  FakeTransport::Script script;
  FakeHost host;
  ConnectionOptions options;
  std::unique_ptr<Connection> connection;
};

const std::string kHealth = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(ConnectionTest, AnswersARequestThatArrivesInPiecesOnceItIsComplete) {
  connect();
  const std::string request = "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd";
  for (std::size_t i = 0; i + 1 < request.size(); ++i) {
    script.in.push_back(request.substr(i, 1));
    advance();
    EXPECT_TRUE(script.out.empty()) << i;
  }
  script.in.push_back(request.substr(request.size() - 1));
  advance();
  ASSERT_EQ(replies().size(), 1u);
  EXPECT_THAT(replies()[0], StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(replies()[0], HasSubstr("/mutate:4"));
  EXPECT_EQ(replies()[0].find("Connection: close"), std::string::npos);
  EXPECT_EQ(connection->phase(), Connection::Phase::kReading);
  EXPECT_TRUE(connection->idle());
  EXPECT_EQ(host.in_flight(), 0u);  // body and reply released
}

TEST_F(ConnectionTest, WaitsForTheHandshakeBeforeReading) {
  script.handshake_done = false;
  script.in.push_back(kHealth);
  connect();
  advance();
  EXPECT_EQ(connection->phase(), Connection::Phase::kHandshake);
  EXPECT_TRUE(script.out.empty());
  script.handshake_done = true;
  advance();
  ASSERT_EQ(replies().size(), 1u);
}

TEST_F(ConnectionTest, AnswersPipelinedRequestsInOrder) {
  connect();
  script.in.push_back(kHealth + "GET /other HTTP/1.1\r\nHost: x\r\n\r\n" + kHealth);
  advance();
  auto got = replies();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_THAT(got[0], HasSubstr("/healthz:0"));
  EXPECT_THAT(got[1], HasSubstr("/other:0"));
  EXPECT_THAT(got[2], HasSubstr("/healthz:0"));
  EXPECT_EQ(connection->requests(), 3u);
}

TEST_F(ConnectionTest, RefusesAmbiguousFramingThenDropsTheRestAndCloses) {
  connect();
  script.in.push_back(
      "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n" +
      kHealth);
  advance();
  auto got = replies();
  ASSERT_EQ(got.size(), 1u);  // the smuggled /healthz is never answered
  EXPECT_THAT(got[0], StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(got[0], HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(connection->phase(), Connection::Phase::kDiscarding);
  script.eof = true;  // the client reads the reply and goes
  advance();
  EXPECT_TRUE(connection->closed());
  EXPECT_EQ(host.closes, 1);
}

TEST_F(ConnectionTest, ARefusedHeadIsAnsweredWithoutReadingTheBody) {
  connect();
  script.in.push_back("POST /refused HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  advance();
  ASSERT_EQ(replies().size(), 1u);
  EXPECT_THAT(replies()[0], StartsWith("HTTP/1.1 404 "));
  EXPECT_THAT(replies()[0], HasSubstr("Connection: close"));
  EXPECT_EQ(host.in_flight(), 0u);  // the announced body was never charged
}

TEST_F(ConnectionTest, AReviewThatWouldBlockGoesToAWorkerAndItsReplyIsWritten) {
  connect();
  script.in.push_back("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" + kHealth);
  advance();
  ASSERT_EQ(host.submitted.size(), 1u);
  EXPECT_EQ(connection->phase(), Connection::Phase::kDispatched);
  EXPECT_TRUE(script.out.empty());  // the pipelined probe waits its turn
  connection->answer(*host.submitted[0], *host.app.respond(*host.submitted[0], true));
  advance();
  auto got = replies();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_THAT(got[0], HasSubstr("/slow:0"));
  EXPECT_THAT(got[1], HasSubstr("/healthz:0"));
}

TEST_F(ConnectionTest, WritesAReplyInSlicesAsTheTransportTakesIt) {
  script.write_slice = 7;
  script.write_blocked = true;
  connect();
  script.in.push_back(kHealth);
  advance();
  EXPECT_EQ(connection->phase(), Connection::Phase::kWriting);
  EXPECT_TRUE(script.out.empty());
  script.write_blocked = false;
  advance();
  ASSERT_EQ(replies().size(), 1u);
  EXPECT_THAT(replies()[0], HasSubstr("/healthz:0"));
  EXPECT_EQ(connection->phase(), Connection::Phase::kReading);
}

TEST_F(ConnectionTest, TheFirstRequestsDeadlineCountsFromAcceptNotFromTheLastByte) {
  connect();
  for (int i = 0; i < 9; ++i) {
    host.clock += std::chrono::seconds(1);
    script.in.push_back(i == 0 ? "GET /healthz HTTP/1.1\r\n" : "X: y\r\n");
    advance();
    connection->tick(false, true);
    ASSERT_FALSE(connection->closed()) << i;
  }
  host.clock += std::chrono::seconds(1);
  connection->tick(false, true);
  EXPECT_TRUE(connection->closed());
  EXPECT_TRUE(script.out.empty());
}

TEST_F(ConnectionTest, AnIdleKeepAliveConnectionClosesAtTheIdleTimeout) {
  connect();
  script.in.push_back(kHealth);
  advance();
  ASSERT_TRUE(connection->idle());
  host.clock += std::chrono::seconds(119);
  connection->tick(false, true);
  EXPECT_FALSE(connection->closed());
  host.clock += std::chrono::seconds(1);
  connection->tick(false, true);
  EXPECT_TRUE(connection->closed());
  EXPECT_TRUE(script.notified);  // close_notify for a clean end
}

TEST_F(ConnectionTest, ALaterRequestHasTheReadTimeoutFromItsFirstByte) {
  connect();
  script.in.push_back(kHealth);
  advance();
  host.clock += std::chrono::seconds(60);  // idle, within the idle timeout
  script.in.push_back("GET /healthz HTTP/1.1\r\n");
  advance();
  host.clock += std::chrono::seconds(9);
  connection->tick(false, true);
  EXPECT_FALSE(connection->closed());
  host.clock += std::chrono::seconds(1);
  connection->tick(false, true);
  EXPECT_TRUE(connection->closed());
}

TEST_F(ConnectionTest, ABodyWaitsForRoomInTheBudgetWithinItsDeadline) {
  host.budget = 1000;
  host.in_flight_ = 600;  // held by others
  connect();
  script.in.push_back("POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n");
  script.in.push_back(std::string(500, 'x'));
  advance();
  EXPECT_EQ(connection->phase(), Connection::Phase::kWaitingMemory);
  connection->tick(false, true);
  EXPECT_EQ(connection->phase(), Connection::Phase::kWaitingMemory);
  host.in_flight_ = 0;  // the others are done
  connection->tick(false, true);
  advance();
  ASSERT_EQ(replies().size(), 1u);
  EXPECT_THAT(replies()[0], HasSubstr("/mutate:500"));
  EXPECT_EQ(host.in_flight(), 0u);
}

TEST_F(ConnectionTest, AWaitingBodyIsDroppedAtItsDeadline) {
  host.budget = 1000;
  host.in_flight_ = 600;
  connect();
  script.in.push_back("POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n");
  advance();
  ASSERT_EQ(connection->phase(), Connection::Phase::kWaitingMemory);
  host.clock += std::chrono::seconds(10);
  connection->tick(false, true);
  EXPECT_TRUE(connection->closed());
  EXPECT_EQ(host.in_flight(), 600u);  // nothing of it stays charged
}

TEST_F(ConnectionTest, ExpectContinueIsAnsweredBeforeTheBody) {
  connect();
  script.in.push_back(
      "POST /mutate HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  advance();
  EXPECT_EQ(script.out, "HTTP/1.1 100 Continue\r\n\r\n");
  script.in.push_back("{}");
  advance();
  EXPECT_THAT(script.out, HasSubstr("/mutate:2"));
}

TEST_F(ConnectionTest, DrainingRepliesCloseAndIdleConnectionsGo) {
  connect();
  script.in.push_back(kHealth);
  advance();
  ASSERT_TRUE(connection->idle());
  host.draining_ = true;
  connection->tick(true, true);
  EXPECT_FALSE(connection->closed());  // idle for less than a second
  host.clock += std::chrono::seconds(1);
  connection->tick(true, true);
  EXPECT_TRUE(connection->closed());
}

TEST_F(ConnectionTest, ARequestWhileDrainingIsAnsweredWithConnectionClose) {
  host.draining_ = true;
  connect();
  script.in.push_back(kHealth);
  advance();
  ASSERT_EQ(replies().size(), 1u);
  EXPECT_THAT(replies()[0], HasSubstr("Connection: close\r\n"));
  EXPECT_TRUE(connection->closed());
}

TEST_F(ConnectionTest, AClientThatClosesMidRequestIsNotAnswered) {
  connect();
  script.in.push_back("GET /healthz HTTP/1.1\r\n");
  script.eof = true;
  advance();
  EXPECT_TRUE(connection->closed());
  EXPECT_TRUE(script.out.empty());
  EXPECT_FALSE(script.notified);
}

TEST_F(ConnectionTest, OneTurnReadsABoundedAmountThenYields) {
  connect();
  // A stream of pipelined probes larger than one turn: the connection
  // yields to the others and goes on when advanced again.
  std::string many;
  for (int i = 0; i < 4000; ++i) many += kHealth;
  for (std::size_t at = 0; at < many.size(); at += 16384)
    script.in.push_back(many.substr(at, 16384));
  const int before = host.yields;
  connection->advance();
  EXPECT_GT(host.yields, before);
  EXPECT_LT(replies().size(), 4000u);
  advance();
  for (int i = 0; i < 100 && replies().size() < 4000; ++i) advance();
  EXPECT_EQ(replies().size(), 4000u);
}

}  // namespace
}  // namespace irsa::server
