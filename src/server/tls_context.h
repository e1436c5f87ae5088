// TLS for the webhook port: the protocol and cipher settings, the serving
// certificate as an immutable snapshot that is swapped atomically when its
// files change, and the SSL_CTX that picks the current snapshot for every
// new handshake (connections already established keep theirs).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <openssl/ssl.h>

#include "common/result.h"

namespace irsa::server {

struct TlsSettings {
  // "1.2" or "1.3" (also Kubernetes' spelling VersionTLS12, VersionTLS13).
  std::string min_version = "1.2";
  // Comma-separated IANA names as Kubernetes components take them
  // (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256, ...) or
  // OpenSSL names. Empty: ECDHE with AEAD only for TLS 1.2, OpenSSL's
  // defaults for TLS 1.3.
  std::string cipher_suites;
};

// Checks the names; the error says which one is wrong and what is accepted.
Status check_tls_settings(const TlsSettings& settings);

// A certificate chain and its private key, loaded and checked together.
// Immutable once built.
class CertifiedKey {
 public:
  // Reads both PEM files (the chain leaf first). The error names the file and
  // what is wrong: unreadable, no certificate, no key, key not matching.
  static Result<std::shared_ptr<const CertifiedKey>> load(const std::string& cert_file,
                                                          const std::string& key_file);
  ~CertifiedKey();
  CertifiedKey(const CertifiedKey&) = delete;
  CertifiedKey& operator=(const CertifiedKey&) = delete;

  // Installs the chain and key on one connection; false on an OpenSSL error.
  bool install(SSL* ssl) const;
  // The same certificate and key.
  bool same_as(const CertifiedKey& other) const;
  // Whether the leaf certificate's names (SANs) cover this DNS name, as a
  // client verifying it would check.
  bool names_host(std::string_view host) const;

  const std::string& sha256() const { return sha256_; }  // of the leaf, hex
  const std::string& serial() const { return serial_; }  // hex
  const std::string& subject() const { return subject_; }
  int64_t not_after() const { return not_after_; }  // seconds since the epoch

 private:
  CertifiedKey() = default;
  X509* leaf_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;  // the intermediates, without the leaf
  EVP_PKEY* key_ = nullptr;
  std::string sha256_;
  std::string serial_;
  std::string subject_;
  int64_t not_after_ = 0;
};

// The certificate in service. Readers get the current snapshot; replace()
// swaps it for new handshakes only.
class CertificateStore {
 public:
  explicit CertificateStore(std::shared_ptr<const CertifiedKey> initial);
  std::shared_ptr<const CertifiedKey> current() const;
  void replace(std::shared_ptr<const CertifiedKey> next);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const CertifiedKey> current_;
};

// Builds the server SSL_CTX: minimum version, ciphers, ALPN http/1.1, and a
// certificate callback that serves `store`'s current snapshot. `store` must
// outlive the context. The caller owns the result (SSL_CTX_free).
Result<SSL_CTX*> make_server_context(const TlsSettings& settings, CertificateStore& store);

struct CertificateReloaderOptions {
  std::string cert_file;
  std::string key_file;
  std::chrono::milliseconds poll_interval{1000};
  // Called after each reload attempt that found new files: true when the
  // new pair went into service. Runs on the reloader's thread.
  std::function<void(bool success, const CertifiedKey* in_service)> on_reload;
};

// Follows the certificate and key files: every poll_interval it stats both
// (following symlinks, so the `..data` swap of a Kubernetes Secret volume and
// cert-manager's renewals show up as a new inode/size/mtime) and, when either
// changed, loads the pair. A pair that does not load or match, or that has
// expired, is logged with the reason and the previous one stays in service;
// it is retried when the files change again.
class CertificateReloader {
 public:
  CertificateReloader(CertificateStore& store, CertificateReloaderOptions options);
  ~CertificateReloader();  // stop()
  CertificateReloader(const CertificateReloader&) = delete;
  CertificateReloader& operator=(const CertificateReloader&) = delete;

  void start();
  void stop();  // idempotent; joins the thread

 private:
  void run();
  void check();

  CertificateStore& store_;
  CertificateReloaderOptions options_;
  std::string seen_;  // the files' identity (stat) last loaded or tried
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace irsa::server
