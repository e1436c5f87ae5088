// The API client against the fake API server: TLS verification, bearer
// tokens (fixed and rotating files), client certificates, plain http,
// timeouts and cancellation.
#include "kube/api_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connect_proxy.h"
#include "kube_test_support.h"

namespace irsa::kube {
namespace {

using testing::FakeApiServerTest;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::read_text;

constexpr std::string_view kList = "/api/v1/serviceaccounts";

class ApiClientTest : public FakeApiServerTest {};

TEST_F(ApiClientTest, GetsOverVerifiedTlsWithTheBearerToken) {
  server_->put_service_account("team", "app");
  auto connection = client()->connect();
  auto response = connection->get(std::string(kList), "application/json");
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->body, HasSubstr("\"name\":\"app\""));
  auto requests = server_->requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().accept, "application/json");
}

TEST_F(ApiClientTest, RefusesAServerCertificateFromAnotherCa) {
  auto config = rest_config();
  config.certificate_authority_pem = read_text(pki_.other_ca_cert);
  auto response = client(config)->connect()->get(std::string(kList), "application/json");
  ASSERT_FALSE(response);
  EXPECT_THAT(response.error(), HasSubstr("certificate failed verification"));
  EXPECT_EQ(server_->stats().lists, 0);
}

TEST_F(ApiClientTest, InsecureSkipTlsVerifyAcceptsAnyServerCertificate) {
  auto config = rest_config();
  config.certificate_authority_pem.clear();
  config.insecure_skip_tls_verify = true;
  auto response = client(config)->connect()->get(std::string(kList), "application/json");
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);
}

TEST_F(ApiClientTest, WithoutTheTokenTheServerAnswers401) {
  auto config = rest_config();
  config.bearer_token.clear();
  auto response = client(config)->connect()->get(std::string(kList), "application/json");
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 401);
  EXPECT_EQ(status_message(response->body), "Unauthorized");
}

TEST_F(ApiClientTest, ReReadsTheTokenFileWhenItRotates) {
  auto config = rest_config();
  config.bearer_token.clear();
  // The kubelet's projected volume: token -> ..data/token, ..data -> ..v1.
  std::filesystem::create_directories(dir_.path("v1"));
  std::filesystem::create_directories(dir_.path("v2"));
  dir_.write("v1/token", std::string(testing::kToken) + "\n");
  dir_.write("v2/token", "rotated-token\n");
  std::filesystem::create_directory_symlink("v1", dir_.path("..data"));
  std::filesystem::create_symlink("..data/token", dir_.path("token"));
  config.bearer_token_file = dir_.path("token");
  auto connection = client(config)->connect();
  auto first = connection->get(std::string(kList), "application/json");
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(first->status, 200);

  server_->set_tokens({"rotated-token"});
  std::filesystem::create_directory_symlink("v2", dir_.path("..data_tmp"));
  std::filesystem::rename(dir_.path("..data_tmp"), dir_.path("..data"));
  auto second = connection->get(std::string(kList), "application/json");
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(second->status, 200);
}

TEST_F(ApiClientTest, SlowResponsesTimeOut) {
  server_->set_response_delay(std::chrono::milliseconds(2000));
  auto connection = client()->connect();
  const auto started = std::chrono::steady_clock::now();
  auto response =
      connection->get(std::string(kList), "application/json", std::chrono::milliseconds(200));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(response);
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  server_->set_response_delay(std::chrono::milliseconds(0));
}

TEST_F(ApiClientTest, ConnectionRefusedIsAnErrorNotAHang) {
  auto config = rest_config();
  server_->stop();
  auto response = client(config)->connect()->get(std::string(kList), "application/json");
  ASSERT_FALSE(response);
}

TEST_F(ApiClientTest, CancelEndsAStreamInProgressPromptly) {
  auto connection = client()->connect();
  std::atomic<bool> got_data{false};
  Connection::StreamResult result;
  std::thread reader([&] {
    result = connection->stream(
        std::string(kList) +
            "?watch=1&resourceVersion=0&allowWatchBookmarks=true&timeoutSeconds=60",
        "application/json", std::chrono::milliseconds(30000), [&](std::string_view) {
          got_data = true;
          return true;
        });
  });
  ASSERT_TRUE(testing::eventually([&] { return server_->stats().active_watches == 1; }));
  const auto started = std::chrono::steady_clock::now();
  connection->cancel();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2000));
  EXPECT_EQ(result.failure, Connection::Failure::kCancelled);
  // Cancelled for good: later requests fail at once.
  EXPECT_FALSE(connection->get(std::string(kList), "application/json"));
}

TEST_F(ApiClientTest, StreamReportsADroppedConnectionAsBroken) {
  server_->set_stall_watches(true);
  auto connection = client()->connect();
  Connection::StreamResult result;
  std::thread reader([&] {
    result =
        connection->stream(std::string(kList) + "?watch=1&resourceVersion=0", "application/json",
                           std::chrono::milliseconds(30000), [](std::string_view) { return true; });
  });
  ASSERT_TRUE(testing::eventually([&] { return server_->stats().active_watches == 1; }));
  server_->drop_watches();
  reader.join();
  EXPECT_EQ(result.failure, Connection::Failure::kBroken) << result.error;
}

TEST_F(ApiClientTest, StreamReportsSilenceAsIdle) {
  server_->set_stall_watches(true);
  auto result = client()->connect()->stream(std::string(kList) + "?watch=1&resourceVersion=0",
                                            "application/json", std::chrono::milliseconds(300),
                                            [](std::string_view) { return true; });
  EXPECT_EQ(result.failure, Connection::Failure::kIdle) << result.error;
}

// tls-server-name: the certificate is checked against that name (and it is
// the SNI) while the socket goes to the server URL's host. The test PKI's
// server certificate names kubernetes.irsa.test, which never resolves, so a
// success proves the connection went to 127.0.0.1.
TEST_F(ApiClientTest, TlsServerNameIsCheckedWhileTheSocketGoesToTheServerHost) {
  auto config = rest_config();
  config.tls_server_name = "kubernetes.irsa.test";
  auto connection = client(config)->connect();
  auto response = connection->get(std::string(kList), "application/json");
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);
  // A second request on the same keep-alive connection, and a stream.
  ASSERT_TRUE(connection->get(std::string(kList), "application/json"));
  EXPECT_THAT(client(config)->describe(), HasSubstr("tls-server-name kubernetes.irsa.test"));

  // 127.0.0.1 is in the certificate too, but the name asked for is not.
  config.tls_server_name = "other.irsa.test";
  auto refused = client(config)->connect()->get(std::string(kList), "application/json");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error(), HasSubstr("does not name \"other.irsa.test\""));
}

TEST_F(ApiClientTest, TlsServerNameWithAServerHostThatDoesNotResolveSaysWhich) {
  auto config = rest_config();
  config.server.host = "no-such-host.irsa.test";
  config.tls_server_name = "kubernetes.irsa.test";
  auto response = client(config)->connect()->get(std::string(kList), "application/json");
  ASSERT_FALSE(response);
  EXPECT_THAT(response.error(), HasSubstr("cannot resolve no-such-host.irsa.test"));
}

// proxy-url: every connection is a CONNECT tunnel through the proxy, with the
// proxy's basic-auth credentials; TLS to the API server is end to end.
TEST_F(ApiClientTest, TunnelsThroughAnHttpProxyWithCredentials) {
  // "Basic " + base64("ops:p@ss word")
  fakes::ConnectProxy proxy("Basic b3BzOnBAc3Mgd29yZA==");
  ASSERT_TRUE(proxy.start());
  auto config = rest_config();
  config.proxy.host = "127.0.0.1";
  config.proxy.port = proxy.port();
  config.proxy.username = "ops";
  config.proxy.password = "p@ss word";
  server_->put_service_account("team", "app");
  auto connection = client(config)->connect();
  auto response = connection->get(std::string(kList), "application/json");
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->body, HasSubstr("\"name\":\"app\""));
  std::string streamed;
  auto watch =
      connection->stream(std::string(kList) + "?watch=true&timeoutSeconds=1", "application/json",
                         std::chrono::milliseconds(3000), [&](std::string_view piece) {
                           streamed.append(piece);
                           return true;
                         });
  EXPECT_EQ(watch.failure, Connection::Failure::kNone) << watch.error;
  auto tunnels = proxy.tunnels();
  ASSERT_FALSE(tunnels.empty());
  EXPECT_EQ(tunnels.front().target, "127.0.0.1:" + std::to_string(config.server.port));
  EXPECT_EQ(proxy.refused(), 0);
  EXPECT_THAT(client(config)->describe(), HasSubstr("via proxy 127.0.0.1:"));

  config.proxy.password = "wrong";
  auto refused = client(config)->connect()->get(std::string(kList), "application/json");
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error(), HasSubstr("407 Proxy Authentication Required"));
  EXPECT_THAT(refused.error(), Not(HasSubstr("wrong")));
  EXPECT_EQ(proxy.refused(), 1);
}

class ClientCertificateTest : public FakeApiServerTest {
  void customize(fakes::FakeApiServerOptions& options) override {
    options.client_ca_file = pki_.ca_cert;
    options.tokens.clear();
  }
};

TEST_F(ClientCertificateTest, AuthenticatesWithAClientCertificate) {
  auto config = rest_config();
  config.bearer_token.clear();
  config.client_certificate_pem = read_text(pki_.client_cert);
  config.client_key_pem = read_text(pki_.client_key);
  auto response = client(config)->connect()->get(std::string(kList), "application/json");
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);

  auto without = rest_config();
  without.bearer_token.clear();
  EXPECT_FALSE(client(without)->connect()->get(std::string(kList), "application/json"));
}

class PlainHttpTest : public FakeApiServerTest {
  void customize(fakes::FakeApiServerOptions& options) override { options.tls = false; }
};

TEST_F(PlainHttpTest, SpeaksPlainHttpToLocalTestClusters) {
  auto config = rest_config();
  config.certificate_authority_pem.clear();
  ASSERT_EQ(config.server.scheme, "http");
  auto response = client(config)->connect()->get(std::string(kList), "application/json");
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);
}

TEST(ApiClient, CreateRefusesMismatchedCredentials) {
  RestConfig config;
  config.server = *parse_server_url("https://127.0.0.1:1");
  config.client_certificate_pem = "-----BEGIN CERTIFICATE-----\n";
  EXPECT_FALSE(ApiClient::create(config));
}

TEST(UrlEncode, EncodesEverythingButUnreservedCharacters) {
  EXPECT_EQ(url_encode("c1:2/+= a"), "c1%3A2%2F%2B%3D%20a");
  EXPECT_EQ(url_encode("metadata.name=x-y_z~"), "metadata.name%3Dx-y_z~");
}

}  // namespace
}  // namespace irsa::kube
