// OpenSSL 3 set-up: version and cipher names, PEM loading, the certificate
// callback (SSL_CTX_set_cert_cb) that hands each handshake the snapshot in
// service, and the stat()-polling reloader.
#include "server/tls_context.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/utc_time.h"
#include "files/read.h"
#include "log/log.h"
#include "server/http_request.h"

namespace irsa::server {
namespace {

// TLS 1.2 suites with forward secrecy and AEAD only.
constexpr char kDefaultTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr std::size_t kMaxPemBytes = 1024 * 1024;

struct CipherName {
  std::string_view iana;     // as Go and Kubernetes name it
  std::string_view openssl;  // as OpenSSL names it
  bool tls13;
};

// The suites Go's crypto/tls implements (what --tls-cipher-suites of
// Kubernetes components accepts), minus 3DES and RC4.
constexpr CipherName kCiphers[] = {
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", false},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", false},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305", false},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", false},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", false},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", false},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", false},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", false},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", false},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", false},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", false},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", false},
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", true},
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", true},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", true},
};

const CipherName* find_cipher(std::string_view name) {
  for (const auto& cipher : kCiphers) {
    if (name == cipher.iana || name == cipher.openssl) return &cipher;
  }
  return nullptr;
}

std::vector<std::string_view> split_list(std::string_view text) {
  std::vector<std::string_view> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = std::min(text.find(',', start), text.size());
    if (auto item = trim_whitespace(text.substr(start, end - start)); !item.empty())
      items.push_back(item);
    start = end + 1;
  }
  return items;
}

Result<int> parse_min_version(std::string_view text) {
  if (text == "1.2" || text == "VersionTLS12") return TLS1_2_VERSION;
  if (text == "1.3" || text == "VersionTLS13") return TLS1_3_VERSION;
  if (text == "1.0" || text == "1.1" || text == "VersionTLS10" || text == "VersionTLS11") {
    return Error{"TLS " + std::string(text) + " is not supported (insecure); use 1.2 or 1.3"};
  }
  return Error{"unknown TLS version \"" + std::string(text) + "\"; use 1.2 or 1.3"};
}

std::string openssl_error() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Result<std::string> read_pem(const std::string& path, const char* what) {
  // Regular files only: opening a FIFO would wait for a writer forever, at
  // start or in the reloader, which then cannot be stopped.
  files::ReadLimits limits;
  limits.max_bytes = kMaxPemBytes;
  limits.regular_only = true;
  const std::string named = std::string("the TLS ") + what;
  limits.what = named;
  return files::read_file(path, limits);
}

std::string hex(const unsigned char* data, std::size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

int64_t to_epoch_seconds(const ASN1_TIME* time) {
  struct tm parts {};
  if (ASN1_TIME_to_tm(time, &parts) != 1) return 0;
  return static_cast<int64_t>(timegm(&parts));
}

// Never asks for a passphrase (OpenSSL's default would read the terminal):
// an encrypted key fails to load, with a message.
int no_passphrase(char*, int, int, void*) { return 0; }

// The ALPN choice: HTTP/1.1 when the client offers it; otherwise no ALPN
// (the connection goes on, and HTTP/1.1 is all it gets).
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void*) {
  static const unsigned char kHttp11[] = "\x08http/1.1";
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_length, kHttp11, sizeof kHttp11 - 1, offered,
                            offered_length) == OPENSSL_NPN_NEGOTIATED) {
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// Runs in every handshake, before the cipher is chosen.
int install_current_certificate(SSL* ssl, void* arg) {
  auto snapshot = static_cast<CertificateStore*>(arg)->current();
  return snapshot && snapshot->install(ssl) ? 1 : 0;
}

struct ParsedSettings {
  int min_version = TLS1_2_VERSION;
  std::string tls12;  // OpenSSL cipher list
  std::string tls13;  // OpenSSL ciphersuites; empty: OpenSSL's defaults
};

Result<ParsedSettings> parse_settings(const TlsSettings& settings) {
  ParsedSettings parsed;
  auto min_version = parse_min_version(settings.min_version);
  if (!min_version) return Error{min_version.error()};
  parsed.min_version = *min_version;
  for (std::string_view name : split_list(settings.cipher_suites)) {
    const CipherName* cipher = find_cipher(name);
    if (!cipher) {
      std::string known;
      for (const auto& each : kCiphers) {
        if (!known.empty()) known += ", ";
        known += each.iana;
      }
      return Error{"unknown TLS cipher suite \"" + std::string(name) + "\" (known: " + known + ")"};
    }
    std::string& list = cipher->tls13 ? parsed.tls13 : parsed.tls12;
    if (!list.empty()) list += ':';
    list += cipher->openssl;
  }
  if (split_list(settings.cipher_suites).empty()) parsed.tls12 = kDefaultTls12Ciphers;
  if (parsed.min_version <= TLS1_2_VERSION && parsed.tls12.empty()) {
    return Error{
        "the cipher suites name no TLS 1.2 suite, so TLS 1.2 clients could not "
        "connect; add one or set the minimum version to 1.3"};
  }
  return parsed;
}

}  // namespace

std::vector<std::string_view> default_tls12_cipher_suites() {
  std::vector<std::string_view> names;
  std::string_view list = kDefaultTls12Ciphers;
  while (!list.empty()) {
    const std::size_t end = std::min(list.find(':'), list.size());
    if (const CipherName* cipher = find_cipher(list.substr(0, end))) names.push_back(cipher->iana);
    list.remove_prefix(std::min(end + 1, list.size()));
  }
  return names;
}

Status check_tls_settings(const TlsSettings& settings) {
  if (auto parsed = parse_settings(settings); !parsed) return Error{parsed.error()};
  return Ok{};
}

Result<std::shared_ptr<const CertifiedKey>> CertifiedKey::load(const std::string& cert_file,
                                                               const std::string& key_file) {
  auto cert_pem = read_pem(cert_file, "certificate");
  if (!cert_pem) return Error{cert_pem.error()};
  auto key_pem = read_pem(key_file, "key");
  if (!key_pem) return Error{key_pem.error()};
  return from_pem(*cert_pem, *key_pem, cert_file, key_file);
}

Result<std::shared_ptr<const CertifiedKey>> CertifiedKey::from_pem(const std::string& cert_pem,
                                                                   const std::string& key_pem,
                                                                   const std::string& cert_file,
                                                                   const std::string& key_file) {
  ERR_clear_error();
  std::shared_ptr<CertifiedKey> pair(new CertifiedKey());
  {
    auto bio = openssl::memory_bio(cert_pem.data(), cert_pem.size());
    if (!bio) return Error{"cannot load the TLS certificate " + cert_file + ": " + openssl_error()};
    pair->leaf_.reset(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
    if (pair->leaf_) {
      pair->chain_.reset(sk_X509_new_null());
      // A chain is a handful of certificates; the bound keeps a garbage file cheap.
      for (int i = 0; i < 16 && pair->chain_; ++i) {
        openssl::Certificate next(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
        if (!next) break;
        // The stack owns it.
        if (sk_X509_push(pair->chain_.get(), next.get()) > 0) static_cast<void>(next.release());
      }
    }
    if (!pair->leaf_) {
      return Error{"cannot load the TLS certificate " + cert_file + ": no PEM certificate in it (" +
                   openssl_error() + ")"};
    }
    ERR_clear_error();  // the end of the chain reads as "no start line"
  }
  {
    auto bio = openssl::memory_bio(key_pem.data(), key_pem.size());
    if (!bio) return Error{"cannot load the TLS key " + key_file + ": " + openssl_error()};
    pair->key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!pair->key_) {
      return Error{"cannot load the TLS key " + key_file +
                   ": no unencrypted PEM private key in it (" + openssl_error() + ")"};
    }
  }
  if (X509_check_private_key(pair->leaf_.get(), pair->key_.get()) != 1) {
    ERR_clear_error();
    return Error{"the TLS key " + key_file + " does not match the certificate " + cert_file};
  }

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (X509_digest(pair->leaf_.get(), EVP_sha256(), digest, &digest_size) == 1) {
    pair->sha256_ = hex(digest, digest_size);
  }
  if (openssl::Bignum serial{
          ASN1_INTEGER_to_BN(X509_get0_serialNumber(pair->leaf_.get()), nullptr)}) {
    if (openssl::String text{BN_bn2hex(serial.get())}) pair->serial_ = text.get();
  }
  char subject[256] = {0};
  X509_NAME_oneline(X509_get_subject_name(pair->leaf_.get()), subject, sizeof subject);
  pair->subject_ = subject;
  pair->not_after_ = to_epoch_seconds(X509_get0_notAfter(pair->leaf_.get()));
  ERR_clear_error();
  return std::shared_ptr<const CertifiedKey>(std::move(pair));
}

bool CertifiedKey::install(SSL* ssl) const {
  // Copies references: the connection keeps them after this snapshot goes.
  return SSL_use_cert_and_key(ssl, leaf_.get(), key_.get(), chain_.get(), 1) == 1;
}

bool CertifiedKey::same_as(const CertifiedKey& other) const {
  if (sha256_ != other.sha256_ || sk_X509_num(chain_.get()) != sk_X509_num(other.chain_.get())) {
    return false;
  }
  for (int i = 0; i < sk_X509_num(chain_.get()); ++i) {
    if (X509_cmp(sk_X509_value(chain_.get(), i), sk_X509_value(other.chain_.get(), i)) != 0) {
      return false;
    }
  }
  return EVP_PKEY_eq(key_.get(), other.key_.get()) == 1;
}

bool CertifiedKey::names_host(std::string_view host) const {
  return X509_check_host(leaf_.get(), host.data(), host.size(), 0, nullptr) == 1;
}

CertificateStore::CertificateStore(std::shared_ptr<const CertifiedKey> initial)
    : current_(std::move(initial)) {}

std::shared_ptr<const CertifiedKey> CertificateStore::current() const {
  MutexLock lock(mutex_);
  return current_;
}

void CertificateStore::replace(std::shared_ptr<const CertifiedKey> next) {
  MutexLock lock(mutex_);
  current_.swap(next);
  // The old snapshot is released here or by the last handshake using it.
}

Result<openssl::SslContext> make_server_context(const TlsSettings& settings,
                                                CertificateStore& store) {
  auto parsed = parse_settings(settings);
  if (!parsed) return Error{parsed.error()};
  const int min_version = parsed->min_version;
  const std::string& tls12 = parsed->tls12;
  const std::string& tls13 = parsed->tls13;

  ERR_clear_error();
  openssl::SslContext owned(SSL_CTX_new(TLS_server_method()));
  if (!owned) return Error{"cannot create the TLS context: " + openssl_error()};
  SSL_CTX* ctx = owned.get();
  auto fail = [](std::string message) -> Result<openssl::SslContext> {
    return Error{std::move(message)};
  };
  if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) {
    return fail("cannot set the minimum TLS version: " + openssl_error());
  }
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Non-blocking sockets; buffers released while a connection is idle (a
  // thousand idle connections would otherwise hold ~70 KB each).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  if (min_version <= TLS1_2_VERSION && SSL_CTX_set_cipher_list(ctx, tls12.c_str()) != 1) {
    return fail("cannot use the TLS 1.2 cipher suites " + tls12 + ": " + openssl_error());
  }
  if (!tls13.empty() && SSL_CTX_set_ciphersuites(ctx, tls13.c_str()) != 1) {
    return fail("cannot use the TLS 1.3 cipher suites " + tls13 + ": " + openssl_error());
  }
  static const unsigned char kSessionContext[] = "irsa-webhook";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  SSL_CTX_set_cert_cb(ctx, install_current_certificate, &store);
  return owned;
}

CertificateReloader::CertificateReloader(CertificateStore& store,
                                         CertificateReloaderOptions options)
    : store_(store), options_(std::move(options)) {}

CertificateReloader::~CertificateReloader() { stop(); }

Status CertificateReloader::start() {
  files::FileWatcherOptions watch;
  watch.poll_interval = options_.poll_interval;
  watch.description = "TLS certificate";
  watch.limits.max_bytes = kMaxPemBytes;
  watch.limits.regular_only = true;
  watch.on_outcome = [this](const Status& outcome) {
    if (outcome) return;  // apply() said what went into service
    auto current = store_.current();
    log::warning("TLS certificate reload failed; the previous certificate stays in service",
                 {{"error", outcome.error()},
                  {"serial", current ? std::string_view(current->serial()) : ""}});
    if (options_.on_reload) options_.on_reload(false, current.get());
  };
  watcher_ = std::make_unique<files::FileWatcher>(
      std::vector<std::string>{options_.cert_file, options_.key_file},
      [this](const std::vector<std::string>& pems) { return apply(pems[0], pems[1]); },
      std::move(watch));
  return watcher_->start();
}

void CertificateReloader::stop() {
  if (watcher_) watcher_->stop();
}

Status CertificateReloader::apply(const std::string& cert_pem, const std::string& key_pem) {
  auto loaded = CertifiedKey::from_pem(cert_pem, key_pem, options_.cert_file, options_.key_file);
  if (!loaded) return Error{loaded.error()};
  auto current = store_.current();
  if (current && (*loaded)->same_as(*current)) return Ok{};  // touched, not changed
  if ((*loaded)->not_after() <= static_cast<int64_t>(std::time(nullptr))) {
    return Error{"the new certificate expired at " + utc_seconds((*loaded)->not_after())};
  }
  store_.replace(*loaded);
  const CertifiedKey& pair = **loaded;
  log::info("TLS certificate reloaded", {{"subject", pair.subject()},
                                         {"serial", pair.serial()},
                                         {"sha256", pair.sha256()},
                                         {"not_after", utc_seconds(pair.not_after())}});
  if (options_.on_reload) options_.on_reload(true, &pair);
  return Ok{};
}

}  // namespace irsa::server
