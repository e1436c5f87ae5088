// Shared set-up for the kube tests: a temporary folder with a test PKI, the
// fake API server on 127.0.0.1 with TLS and a bearer token, a client for it,
// short timeouts, and bounded polling.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fake_apiserver.h"
#include "kube/api_client.h"
#include "kube/reflector.h"
#include "support/eventually.h"
#include "support/temp_dir.h"
#include "test_pki.h"

namespace irsa::kube::testing {

inline constexpr const char* kToken = "test-token-1";

using test_support::eventually;
using test_support::TempDir;

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Options that keep tests fast: short backoff, short watches.
inline ReflectorOptions fast_reflector_options() {
  ReflectorOptions options;
  options.page_size = 2;
  options.list_page_timeout = std::chrono::milliseconds(3000);
  options.min_watch_timeout = std::chrono::seconds(30);
  options.watch_idle_slack = std::chrono::milliseconds(1000);
  options.healthy_watch = std::chrono::milliseconds(500);
  options.backoff.initial = std::chrono::milliseconds(20);
  options.backoff.max = std::chrono::milliseconds(200);
  return options;
}

class FakeApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pki = fakes::make_test_pki(dir_.path());
    ASSERT_TRUE(pki) << pki.error();
    pki_ = *pki;
    fakes::FakeApiServerOptions options;
    options.cert_file = pki_.server_cert;
    options.key_file = pki_.server_key;
    options.tokens = {kToken};
    options.bookmark_interval = std::chrono::milliseconds(100);
    customize(options);
    server_ = std::make_unique<fakes::FakeApiServer>(options);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error();
  }

  virtual void customize(fakes::FakeApiServerOptions&) {}

  RestConfig rest_config() const {
    RestConfig config;
    config.server = *parse_server_url(server_->url());
    config.certificate_authority_pem = read_text(pki_.ca_cert);
    config.bearer_token = kToken;
    config.origin = "test";
    return config;
  }

  std::shared_ptr<const ApiClient> client(RestConfig config) const {
    ClientOptions options;
    options.connect_timeout = std::chrono::milliseconds(1000);
    options.request_timeout = std::chrono::milliseconds(3000);
    auto made = ApiClient::create(std::move(config), options);
    EXPECT_TRUE(made) << (made ? "" : made.error());
    return made ? *made : nullptr;
  }
  std::shared_ptr<const ApiClient> client() const { return client(rest_config()); }

  TempDir dir_;
  fakes::TestPki pki_;
  std::unique_ptr<fakes::FakeApiServer> server_;
};

}  // namespace irsa::kube::testing
