// HttpsServer over real TLS on 127.0.0.1: start-up errors, routes, limits,
// timeouts, idle connections, the connection limit, draining, TLS settings.
#include "server/https_server.h"

#include "server/test_support.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace irsa::server {
namespace {

using testing::TestCertificates;
using testing::TlsClient;
using Certificates = TestCertificates;
namespace fs = std::filesystem;

ServerOptions test_options() {
  const auto& certs = Certificates::get();
  ServerOptions options;
  options.bind_address = "127.0.0.1";
  options.port = 0;
  options.tls_cert_file = (certs.dir / "tls.crt").string();
  options.tls_key_file = (certs.dir / "tls.key").string();
  options.max_request_bytes = 1024;
  options.worker_threads = 2;
  return options;
}

class HttpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Routes routes;
    routes.mutate = [this](std::string_view body) {
      ++mutate_calls_;
      return HttpReply{200, "application/json", "{\"echo\":" + std::to_string(body.size()) + "}"};
    };
    routes.ready = [this] { return ready_.load(); };
    server_ = std::make_unique<HttpsServer>(test_options(), std::move(routes));
    auto started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error();
    ASSERT_GT(server_->port(), 0);
    client_ = client();
  }

  std::unique_ptr<httplib::SSLClient> client() const {
    auto cli = std::make_unique<httplib::SSLClient>("localhost", server_->port());
    cli->set_ca_cert_path((Certificates::get().dir / "ca.crt").string().c_str());
    cli->enable_server_certificate_verification(true);
    cli->set_connection_timeout(5);
    cli->set_read_timeout(5);
    return cli;
  }

  std::unique_ptr<HttpsServer> server_;
  std::unique_ptr<httplib::SSLClient> client_;
  std::atomic<int> mutate_calls_{0};
  std::atomic<bool> ready_{true};
};

TEST_F(HttpsServerTest, AnswersHealthAndReadiness) {
  auto& cli = *client_;
  auto health = cli.Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  EXPECT_EQ(cli.Get("/readyz")->status, 200);
  ready_ = false;
  auto not_ready = cli.Get("/readyz");
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_EQ(not_ready->body, "not ready\n");
}

TEST_F(HttpsServerTest, PassesAJsonBodyToMutate) {
  auto& cli = *client_;
  auto plain = cli.Post("/mutate", "{\"a\":1}", "application/json");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200);
  EXPECT_EQ(plain->body, "{\"echo\":7}");
  EXPECT_EQ(plain->get_header_value("Content-Type"), "application/json");
  auto with_charset = cli.Post("/mutate?timeout=10s", "{}", "Application/JSON; charset=utf-8");
  ASSERT_TRUE(with_charset);
  EXPECT_EQ(with_charset->status, 200);
  EXPECT_EQ(mutate_calls_.load(), 2);
}

TEST_F(HttpsServerTest, RefusesUnknownPathsAndWrongMethods) {
  auto& cli = *client_;
  auto unknown = cli.Get("/nope");
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->body, "not found: /nope\n");
  auto get_mutate = cli.Get("/mutate");
  EXPECT_EQ(get_mutate->status, 405);
  EXPECT_EQ(get_mutate->get_header_value("Allow"), "POST");
  auto put_mutate = cli.Put("/mutate", "{}", "application/json");
  EXPECT_EQ(put_mutate->status, 405);
  auto post_health = cli.Post("/healthz", "x", "text/plain");
  EXPECT_EQ(post_health->status, 405);
  EXPECT_EQ(post_health->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(mutate_calls_.load(), 0);
  // The connection (or a new one) still serves.
  EXPECT_EQ(cli.Get("/healthz")->status, 200);
}

TEST_F(HttpsServerTest, RefusesOtherContentTypes) {
  auto& cli = *client_;
  auto text = cli.Post("/mutate", "{}", "text/plain");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 415);
  EXPECT_EQ(text->body, "Content-Type must be application/json, got text/plain\n");
  auto json_patch = cli.Post("/mutate", "{}", "application/json-patch+json");
  EXPECT_EQ(json_patch->status, 415);
  EXPECT_EQ(mutate_calls_.load(), 0);
}

TEST_F(HttpsServerTest, RefusesBodiesOverTheLimit) {
  auto& cli = *client_;
  auto big = cli.Post("/mutate", std::string(64 * 1024, ' '), "application/json");
  ASSERT_TRUE(big) << httplib::to_string(big.error());
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(big->get_header_value("Connection"), "close");
  auto at_limit = cli.Post("/mutate", std::string(1024, ' '), "application/json");
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->status, 200);
  EXPECT_EQ(mutate_calls_.load(), 1);
}

TEST_F(HttpsServerTest, RefusesChunkedBodiesOverTheLimit) {
  auto& cli = *client_;
  auto big = cli.Post(
      "/mutate",
      [](std::size_t offset, httplib::DataSink& sink) {
        if (offset >= 8 * 1024) {
          sink.done();
          return true;
        }
        std::string chunk(512, ' ');
        return sink.write(chunk.data(), chunk.size());
      },
      "application/json");
  ASSERT_TRUE(big) << httplib::to_string(big.error());
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(mutate_calls_.load(), 0);
  EXPECT_EQ(client()->Get("/healthz")->status, 200);
}

TEST_F(HttpsServerTest, StopIsIdempotent) {
  server_->stop();
  server_->stop();
  auto& cli = *client_;
  EXPECT_FALSE(cli.Get("/healthz"));
}

TEST(HttpsServerStart, NamesAMissingCertificate) {
  ServerOptions options = test_options();
  options.tls_cert_file = "/nonexistent/tls.crt";
  HttpsServer server(options, Routes{});
  auto started = server.start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().find("/nonexistent/tls.crt"), std::string::npos) << started.error();
}

TEST(HttpsServerStart, NamesAKeyThatDoesNotMatch) {
  ServerOptions options = test_options();
  options.tls_key_file = (Certificates::get().other / "tls.key").string();
  HttpsServer server(options, Routes{});
  auto started = server.start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().find("does not match"), std::string::npos) << started.error();
}

TEST(HttpsServerStart, NamesAPortInUse) {
  HttpsServer first(test_options(), Routes{});
  ASSERT_TRUE(first.start().ok());
  ServerOptions options = test_options();
  options.port = first.port();
  HttpsServer second(options, Routes{});
  auto started = second.start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().find(":" + std::to_string(first.port())), std::string::npos)
      << started.error();
}

TEST(HttpsServerStart, StopWithoutStartIsFine) {
  HttpsServer server(test_options(), Routes{});
  server.stop();
}

// A server with its own options, for the tests below.
class ServerWith {
 public:
  explicit ServerWith(ServerOptions options) {
    Routes routes;
    routes.mutate = [](std::string_view) { return HttpReply{200, "application/json", "{}"}; };
    server = std::make_unique<HttpsServer>(std::move(options), std::move(routes));
    auto started = server->start();
    EXPECT_TRUE(started.ok()) << started.error();
  }
  int port() const { return server->port(); }
  std::unique_ptr<HttpsServer> server;
};

const std::string kGetHealth = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kGetReady = "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(HttpsServerConnections, ClosesAKeepAliveConnectionIdleLongerThanTheIdleTimeout) {
  ServerOptions options = test_options();
  options.idle_timeout = std::chrono::milliseconds(300);
  ServerWith s(options);
  TlsClient client(s.port());
  ASSERT_TRUE(client.handshake());
  ASSERT_TRUE(client.send(kGetHealth));
  EXPECT_NE(client.response().find("200 OK"), std::string::npos);
  // Closed by the 1 s scan after 300 ms idle: within 3 s, not at once.
  EXPECT_FALSE(client.closed_by_server(std::chrono::milliseconds(100)));
  EXPECT_TRUE(client.closed_by_server(std::chrono::milliseconds(3000)));
}

TEST(HttpsServerConnections, CutsAStalledRequestAndServesOthersMeanwhile) {
  ServerOptions options = test_options();
  options.read_timeout = std::chrono::milliseconds(500);
  options.worker_threads = 1;
  ServerWith s(options);
  TlsClient stalled(s.port());
  ASSERT_TRUE(stalled.handshake());
  ASSERT_TRUE(
      stalled.send("POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 100\r\n\r\n{"));
  TlsClient silent(s.port());  // connects, never says hello
  ASSERT_TRUE(silent.connected());
  // The one worker is waiting on the stalled request; another is found.
  TlsClient other(s.port());
  ASSERT_TRUE(other.handshake());
  ASSERT_TRUE(other.send(kGetHealth));
  EXPECT_NE(other.response().find("200 OK"), std::string::npos);
  EXPECT_TRUE(stalled.closed_by_server(std::chrono::milliseconds(3000)));
  EXPECT_TRUE(silent.closed_by_server(std::chrono::milliseconds(3000)));
}

TEST(HttpsServerConnections, HoldsManyIdleConnectionsWithoutStarvingANewOne) {
  ServerOptions options = test_options();
  options.worker_threads = 2;
  ServerWith s(options);
  std::vector<std::unique_ptr<TlsClient>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<TlsClient>(s.port()));
    ASSERT_TRUE(idle.back()->handshake()) << i;
  }
  EXPECT_EQ(s.server->open_connections(), 200u);
  const auto begin = std::chrono::steady_clock::now();
  TlsClient fresh(s.port());
  ASSERT_TRUE(fresh.handshake());
  ASSERT_TRUE(fresh.send(kGetHealth));
  EXPECT_NE(fresh.response().find("200 OK"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(2));
  ASSERT_TRUE(idle.front()->send(kGetHealth));
  EXPECT_NE(idle.front()->response().find("200 OK"), std::string::npos);
}

TEST(HttpsServerConnections, AtTheLimitClosesTheLongestIdleConnection) {
  ServerOptions options = test_options();
  options.max_connections = 2;
  ServerWith s(options);
  TlsClient first(s.port());
  ASSERT_TRUE(first.handshake());
  ASSERT_TRUE(first.send(kGetHealth));
  ASSERT_FALSE(first.response().empty());
  TlsClient second(s.port());
  ASSERT_TRUE(second.handshake());
  ASSERT_TRUE(second.send(kGetHealth));
  ASSERT_FALSE(second.response().empty());
  TlsClient third(s.port());
  ASSERT_TRUE(third.handshake());
  ASSERT_TRUE(third.send(kGetHealth));
  EXPECT_NE(third.response().find("200 OK"), std::string::npos);
  EXPECT_TRUE(first.closed_by_server(std::chrono::milliseconds(2000)));
  ASSERT_TRUE(second.send(kGetHealth));
  EXPECT_NE(second.response().find("200 OK"), std::string::npos);
}

TEST(HttpsServerConnections, ShutdownDrainsThenStops) {
  ServerWith s(test_options());
  TlsClient busy(s.port());
  ASSERT_TRUE(busy.handshake());
  ASSERT_TRUE(busy.send(kGetReady));
  std::string before = busy.response();
  EXPECT_NE(before.find("200 OK"), std::string::npos);
  EXPECT_EQ(before.find("Connection: close"), std::string::npos);

  std::thread stopping([&] {
    EXPECT_EQ(s.server->shutdown(std::chrono::milliseconds(1500), std::chrono::seconds(5)), 0u);
  });
  // Draining (polled on new connections, bounded): /readyz says 503, and the
  // reply closes its connection.
  bool draining = false;
  for (int i = 0; i < 200 && !draining; ++i) {
    TlsClient probe(s.port());
    draining = probe.handshake() && probe.send(kGetReady) &&
               probe.response().find("503") != std::string::npos;
    if (!draining) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(draining);
  ASSERT_TRUE(busy.send(kGetReady));
  std::string during = busy.response();
  EXPECT_NE(during.find("503"), std::string::npos) << during;
  EXPECT_NE(during.find("shutting down"), std::string::npos);
  EXPECT_NE(during.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(busy.closed_by_server(std::chrono::milliseconds(2000)));
  // New connections are still served while the listener stays open.
  TlsClient late(s.port());
  ASSERT_TRUE(late.handshake());
  ASSERT_TRUE(late.send(kGetHealth));
  EXPECT_NE(late.response().find("Connection: close"), std::string::npos);
  stopping.join();
  TlsClient after(s.port());
  EXPECT_FALSE(after.connected());
}

TEST(HttpsServerTls, MinimumVersionAndAlpn) {
  ServerOptions options = test_options();
  options.tls.min_version = "1.3";
  ServerWith s(options);
  TlsClient::Options old;
  old.max_version = TLS1_2_VERSION;
  TlsClient refused(s.port(), old);
  EXPECT_FALSE(refused.handshake());
  TlsClient::Options offers;
  offers.alpn = std::string("\x02h2\x08http/1.1", 12);
  TlsClient modern(s.port(), offers);
  ASSERT_TRUE(modern.handshake());
  EXPECT_EQ(modern.version(), TLS1_3_VERSION);
  EXPECT_EQ(modern.alpn(), "http/1.1");
}

TEST(HttpsServerTls, UnknownCipherSuiteIsAStartUpError) {
  ServerOptions options = test_options();
  options.tls.cipher_suites = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, NOPE";
  HttpsServer server(options, Routes{});
  auto started = server.start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().find("\"NOPE\""), std::string::npos) << started.error();
}

TEST(HttpsServerTls, ServesARenewedCertificateToNewConnections) {
  const auto& certs = Certificates::get();
  fs::path dir = certs.dir / "reload-server";
  fs::create_directories(dir);
  fs::copy_file(certs.dir / "tls.crt", dir / "tls.crt", fs::copy_options::overwrite_existing);
  fs::copy_file(certs.dir / "tls.key", dir / "tls.key", fs::copy_options::overwrite_existing);
  ServerOptions options = test_options();
  options.tls_cert_file = (dir / "tls.crt").string();
  options.tls_key_file = (dir / "tls.key").string();
  options.certificate_poll_interval = std::chrono::milliseconds(50);
  ServerWith s(options);
  TlsClient before(s.port());
  ASSERT_TRUE(before.handshake());
  const std::string old_print = before.peer_sha256();

  // Replaced by rename, as cert-manager and kubelet do.
  fs::copy_file(certs.renewed / "tls.crt", dir / "tls.crt.new");
  fs::copy_file(certs.renewed / "tls.key", dir / "tls.key.new");
  fs::rename(dir / "tls.key.new", dir / "tls.key");
  fs::rename(dir / "tls.crt.new", dir / "tls.crt");
  std::string new_print;
  for (int i = 0; i < 100 && (new_print.empty() || new_print == old_print); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    TlsClient probe(s.port());
    if (probe.handshake()) new_print = probe.peer_sha256();
  }
  EXPECT_NE(new_print, old_print);
  EXPECT_FALSE(new_print.empty());
  // The connection made before still works, with its certificate.
  ASSERT_TRUE(before.send(kGetHealth));
  EXPECT_NE(before.response().find("200 OK"), std::string::npos);
  EXPECT_EQ(before.peer_sha256(), old_print);
}

}  // namespace
}  // namespace irsa::server
