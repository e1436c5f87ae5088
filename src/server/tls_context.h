// TLS for the webhook port: the protocol and cipher settings, the serving
// certificate as an immutable snapshot that is swapped atomically when its
// files change, and the SSL_CTX that picks the current snapshot for every
// new handshake (connections already established keep theirs).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "common/openssl.h"
#include "common/result.h"
#include "common/thread_annotations.h"
#include "files/watcher.h"

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

// The TLS 1.2 suites used when cipher_suites is empty, by their IANA names,
// in order of preference (for TLS 1.3, OpenSSL's defaults apply).
std::vector<std::string_view> default_tls12_cipher_suites();

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
  // The same from the files' contents; the names are for messages.
  static Result<std::shared_ptr<const CertifiedKey>> from_pem(const std::string& cert_pem,
                                                              const std::string& key_pem,
                                                              const std::string& cert_file,
                                                              const std::string& key_file);
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
  openssl::Certificate leaf_;
  openssl::CertificateStack chain_;  // the intermediates, without the leaf
  openssl::Key key_;
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
  mutable Mutex mutex_;
  std::shared_ptr<const CertifiedKey> current_ IRSA_GUARDED_BY(mutex_);
};

// Builds the server SSL_CTX: minimum version, ciphers, ALPN http/1.1, and a
// certificate callback that serves `store`'s current snapshot. `store` must
// outlive the context.
Result<openssl::SslContext> make_server_context(const TlsSettings& settings,
                                                CertificateStore& store);

struct CertificateReloaderOptions {
  std::string cert_file;
  std::string key_file;
  std::chrono::milliseconds poll_interval{1000};
  // Called after each reload attempt that found new files: true when the
  // new pair went into service. Runs on the reloader's thread.
  std::function<void(bool success, const CertifiedKey* in_service)> on_reload;
};

// Follows the certificate and key files with a files::FileWatcher (inotify
// on their folders and a stat every poll_interval, following symlinks, so the
// `..data` swap of a Kubernetes Secret volume and cert-manager's renewals are
// seen) and, when either changed, loads the pair. A pair that does not load
// or match, or that has expired, is logged with the reason and the previous
// one stays in service; it is retried when the files change again.
class CertificateReloader {
 public:
  CertificateReloader(CertificateStore& store, CertificateReloaderOptions options);
  ~CertificateReloader();  // stop()
  CertificateReloader(const CertificateReloader&) = delete;
  CertificateReloader& operator=(const CertificateReloader&) = delete;

  // Reads the pair once (the store's pair when unchanged since it was
  // loaded) and follows the files on a thread; an error when the files
  // cannot be read or hold no valid pair now.
  Status start();
  void stop();  // idempotent; joins the thread

 private:
  // The watcher's apply: the new pair into service, or why not.
  Status apply(const std::string& cert_pem, const std::string& key_pem);

  CertificateStore& store_;
  CertificateReloaderOptions options_;
  std::unique_ptr<files::FileWatcher> watcher_;
};

}  // namespace irsa::server
