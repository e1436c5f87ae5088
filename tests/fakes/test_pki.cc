// Test certificates made with OpenSSL's API (no openssl command needed).
#include "test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>

namespace irsa::fakes {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

Key new_key() { return Key(EVP_EC_gen("P-256")); }

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!extension) return false;
  bool ok = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

Cert make_cert(EVP_PKEY* key, const char* common_name, const char* organization, X509* issuer,
               EVP_PKEY* issuer_key, long serial, bool is_ca, const char* san, bool client) {
  Cert cert(X509_new());
  if (!cert) return nullptr;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  if (organization) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(organization), -1, -1, 0);
  }
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (is_ca) {
    ok = ok && add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    ok = ok && add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    ok = ok && add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    ok = ok && add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && add_extension(cert.get(), signer, NID_key_usage,
                             "critical,digitalSignature,keyEncipherment");
    ok = ok &&
         add_extension(cert.get(), signer, NID_ext_key_usage, client ? "clientAuth" : "serverAuth");
    if (san) ok = ok && add_extension(cert.get(), signer, NID_subject_alt_name, san);
  }
  if (!ok) return nullptr;
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

bool write_cert(const std::string& path, X509* cert) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (!file) return false;
  bool ok = PEM_write_X509(file, cert) == 1;
  return std::fclose(file) == 0 && ok;
}

bool write_key(const std::string& path, EVP_PKEY* key) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (!file) return false;
  bool ok = PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(file) == 0 && ok;
}

}  // namespace

Result<TestPki> make_test_pki(const std::string& dir) {
  TestPki pki;
  pki.dir = dir;
  pki.ca_cert = dir + "/ca.crt";
  pki.ca_key = dir + "/ca.key";
  pki.server_cert = dir + "/server.crt";
  pki.server_key = dir + "/server.key";
  pki.client_cert = dir + "/client.crt";
  pki.client_key = dir + "/client.key";
  pki.other_ca_cert = dir + "/other-ca.crt";

  Key ca_key = new_key();
  Key server_key = new_key();
  Key client_key = new_key();
  Key other_key = new_key();
  if (!ca_key || !server_key || !client_key || !other_key) return Error{"key generation failed"};
  Cert ca =
      make_cert(ca_key.get(), "irsa-test-ca", nullptr, nullptr, nullptr, 1, true, nullptr, false);
  Cert other = make_cert(other_key.get(), "irsa-other-ca", nullptr, nullptr, nullptr, 1, true,
                         nullptr, false);
  if (!ca || !other) return Error{"CA certificate generation failed"};
  Cert server = make_cert(server_key.get(), "fake-apiserver", nullptr, ca.get(), ca_key.get(), 2,
                          false, "IP:127.0.0.1,DNS:localhost,DNS:kubernetes.irsa.test", false);
  Cert client = make_cert(client_key.get(), "irsa-webhook", "system:masters", ca.get(),
                          ca_key.get(), 3, false, nullptr, true);
  if (!server || !client) return Error{"certificate generation failed"};
  bool ok =
      write_cert(pki.ca_cert, ca.get()) && write_key(pki.ca_key, ca_key.get()) &&
      write_cert(pki.server_cert, server.get()) && write_key(pki.server_key, server_key.get()) &&
      write_cert(pki.client_cert, client.get()) && write_key(pki.client_key, client_key.get()) &&
      write_cert(pki.other_ca_cert, other.get());
  if (!ok) return Error{"cannot write the test PKI to " + dir};
  return pki;
}

}  // namespace irsa::fakes
