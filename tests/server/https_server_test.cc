// HttpsServer over real TLS on 127.0.0.1: start-up errors, routes, limits.
#include "server/https_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace irsa::server {
namespace {

namespace fs = std::filesystem;

// Two independent CA + serving certificate sets, made once by the project's
// own script.
class Certificates {
 public:
  static const Certificates& get() {
    static const Certificates instance;
    return instance;
  }
  ~Certificates() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  fs::path dir;
  fs::path other;

 private:
  Certificates() {
    char pattern[] = "/tmp/irsa-server-test-XXXXXX";
    dir = mkdtemp(pattern);
    other = dir / "other";
    for (const fs::path& out : {dir, other}) {
      std::string command =
          std::string(IRSA_SOURCE_DIR) + "/certs/gen-dev-certs.sh " + out.string() + " >/dev/null";
      EXPECT_EQ(std::system(command.c_str()), 0) << command;
    }
  }
};

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

}  // namespace
}  // namespace irsa::server
