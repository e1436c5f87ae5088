// Test support for the server part: certificates made by the project's own
// script, and a small blocking TLS client (OpenSSL) that shows what a test
// needs to see: the peer certificate, ALPN, the version, an EOF.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace irsa::server::testing {

namespace fs = std::filesystem;

// dir: a CA and a serving pair; other: an unrelated CA and pair; renewed: a
// second serving pair from dir's CA. Made once per test binary.
class TestCertificates {
 public:
  static const TestCertificates& get() {
    static const TestCertificates instance;
    return instance;
  }
  ~TestCertificates() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  fs::path dir;
  fs::path other;
  fs::path renewed;

 private:
  TestCertificates() {
    char pattern[] = "/tmp/irsa-server-test-XXXXXX";
    dir = mkdtemp(pattern);
    other = dir / "other";
    renewed = dir / "renewed";
    generate(dir);
    generate(other);
    fs::create_directories(renewed);
    fs::copy_file(dir / "ca.crt", renewed / "ca.crt");
    fs::copy_file(dir / "ca.key", renewed / "ca.key");
    generate(renewed);
  }
  static void generate(const fs::path& out) {
    std::string command =
        std::string(IRSA_SOURCE_DIR) + "/certs/gen-dev-certs.sh " + out.string() + " >/dev/null";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
};

// One TLS connection to 127.0.0.1:port that trusts dir/ca.crt. Blocking,
// every call bounded by `timeout`.
struct TlsClientOptions {
  int max_version = 0;  // 0: any
  std::string alpn;     // wire format, e.g. "\x02h2\x08http/1.1"
  std::chrono::milliseconds timeout{5000};
};

class TlsClient {
 public:
  using Options = TlsClientOptions;

  explicit TlsClient(int port, Options options = {}) : options_(std::move(options)) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, (TestCertificates::get().dir / "ca.crt").c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (options_.max_version) SSL_CTX_set_max_proto_version(ctx_, options_.max_version);
    if (!options_.alpn.empty()) {
      SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(options_.alpn.data()),
                              static_cast<unsigned>(options_.alpn.size()));
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{static_cast<time_t>(options_.timeout.count() / 1000),
               static_cast<suseconds_t>((options_.timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~TlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
    ERR_clear_error();
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool connected() const { return connected_; }

  // The TCP connection is made by the constructor; this is the TLS part.
  bool handshake() {
    if (!connected_) return false;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    SSL_set1_host(ssl_, "localhost");
    return SSL_connect(ssl_) == 1;
  }

  bool send(const std::string& data) {
    return ssl_ && SSL_write(ssl_, data.data(), static_cast<int>(data.size())) ==
                       static_cast<int>(data.size());
  }

  // Reads one HTTP response with a Content-Length body (bytes past it are
  // kept for the next call: pipelined replies); empty on EOF, timeout or
  // error.
  std::string response() {
    std::string& got = buffered_;
    char buffer[16 * 1024];
    for (int i = 0; i < 1000; ++i) {
      std::size_t head = got.find("\r\n\r\n");
      if (head != std::string::npos) {
        std::size_t length = 0;
        std::size_t at = got.find("Content-Length: ");
        if (at != std::string::npos && at < head) length = std::stoul(got.substr(at + 16));
        if (got.size() >= head + 4 + length) {
          std::string one = got.substr(0, head + 4 + length);
          got.erase(0, head + 4 + length);
          return one;
        }
      }
      int n = SSL_read(ssl_, buffer, sizeof buffer);
      if (n <= 0) return {};
      got.append(buffer, static_cast<std::size_t>(n));
    }
    return {};
  }

  // True when application data (or the end of the connection) arrives
  // within `within`; TLS records without data (session tickets) do not
  // count. Reads nothing the next response() needs.
  bool readable_within(std::chrono::milliseconds within) {
    if (!buffered_.empty() || (ssl_ && SSL_pending(ssl_) > 0)) return true;
    const auto deadline = std::chrono::steady_clock::now() + within;
    const int flags = ::fcntl(fd_, F_GETFL, 0);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    bool readable = false;
    for (int i = 0; i < 1000 && !readable; ++i) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd entry{fd_, POLLIN, 0};
      if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0) break;
      char byte;
      const int n = SSL_peek(ssl_, &byte, 1);
      readable = n > 0 || SSL_get_error(ssl_, n) != SSL_ERROR_WANT_READ;
    }
    ERR_clear_error();
    ::fcntl(fd_, F_SETFL, flags);
    return readable;
  }

  // True when the server ends the connection (EOF, close_notify or reset)
  // within `within`.
  bool closed_by_server(std::chrono::milliseconds within) {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(within.count())) <= 0) return false;
    char buffer[4096];
    for (int i = 0; i < 100; ++i) {
      int n = ssl_ ? SSL_read(ssl_, buffer, sizeof buffer)
                   : static_cast<int>(::recv(fd_, buffer, sizeof buffer, 0));
      if (n <= 0) return true;
    }
    return false;
  }

  std::string peer_sha256() const {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    if (!peer) return {};
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    X509_digest(peer, EVP_sha256(), digest, &size);
    X509_free(peer);
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out += kDigits[digest[i] >> 4];
      out += kDigits[digest[i] & 0xf];
    }
    return out;
  }

  std::string alpn() const {
    const unsigned char* data = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_, &data, &length);
    return std::string(reinterpret_cast<const char*>(data), length);
  }

  int version() const { return SSL_version(ssl_); }

 private:
  Options options_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
  std::string buffered_;
};

}  // namespace irsa::server::testing
