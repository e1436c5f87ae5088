// PEM public keys through OpenSSL 3's EVP interfaces; the kid as
// kube-apiserver computes it.
#include "oidc/public_key.h"

#include <array>
#include <utility>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/openssl.h"
#include "common/quote.h"
#include "oidc/base64url.h"

namespace irsa::oidc {
namespace {

// More blocks than any key file holds; bounds the reading loop.
constexpr int kMaxPemBlocks = 64;

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* key) { return openssl::Key(key); }

Result<KeyType> ec_key_type(EVP_PKEY* key) {
  std::array<char, 80> name{};
  std::size_t length = 0;
  if (EVP_PKEY_get_group_name(key, name.data(), name.size(), &length) != 1) {
    return Error{"is an EC key without a named curve; use P-256 or P-384"};
  }
  int nid = OBJ_sn2nid(name.data());
  if (nid == NID_undef) nid = EC_curve_nist2nid(name.data());
  if (nid == NID_X9_62_prime256v1) return KeyType::kEcP256;
  if (nid == NID_secp384r1) return KeyType::kEcP384;
  return Error{"is an EC key on curve " + std::string(name.data()) +
               "; only P-256 (ES256) and P-384 (ES384) are supported"};
}

std::string pem_error_reason() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : "unknown error";
}

// True when `pem` has a BEGIN line whose label names a private key.
bool mentions_private_key(std::string_view pem) {
  std::size_t at = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    at = pem.find("-----BEGIN ", at);
    if (at == std::string_view::npos) return false;
    std::size_t end = pem.find("-----", at + 11);
    if (end == std::string_view::npos) return false;
    std::string_view label = pem.substr(at + 11, end - at - 11);
    if (label.find("PRIVATE KEY") != std::string_view::npos) return true;
    at = end + 5;
  }
  return false;
}

Result<std::shared_ptr<EVP_PKEY>> decode_block(const std::string& label, const unsigned char* data,
                                               long length) {
  const unsigned char* cursor = data;
  if (label == "PUBLIC KEY") {
    EVP_PKEY* key = d2i_PUBKEY(nullptr, &cursor, length);
    if (!key) return Error{"has a PUBLIC KEY block that is not a valid SubjectPublicKeyInfo"};
    return own(key);
  }
  if (label == "RSA PUBLIC KEY") {
    EVP_PKEY* key = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &cursor, length);
    if (!key) return Error{"has an RSA PUBLIC KEY block that is not a valid PKCS#1 key"};
    return own(key);
  }
  if (label == "CERTIFICATE") {
    openssl::Certificate cert(d2i_X509(nullptr, &cursor, length));
    if (!cert) return Error{"has a CERTIFICATE block that is not a valid certificate"};
    EVP_PKEY* key = X509_get_pubkey(cert.get());
    if (!key) return Error{"has a certificate whose public key cannot be read"};
    return own(key);
  }
  // The label is the file's text: quoted, so a carriage return or an escape
  // sequence in it cannot rewrite the message (or the terminal it lands on).
  return Error{"has a PEM block " + quote(label) +
               "; expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE"};
}

}  // namespace

std::string_view signing_algorithm(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "RS256";
    case KeyType::kEcP256:
      return "ES256";
    case KeyType::kEcP384:
      return "ES384";
  }
  return "";
}

std::string_view describe(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "RSA";
    case KeyType::kEcP256:
      return "EC P-256";
    case KeyType::kEcP384:
      return "EC P-384";
  }
  return "";
}

PublicKey::PublicKey(std::shared_ptr<EVP_PKEY> key, KeyType type, std::string spki_der,
                     std::string kid)
    : key_(std::move(key)), type_(type), spki_der_(std::move(spki_der)), kid_(std::move(kid)) {}

Result<PublicKey> PublicKey::from_evp(std::shared_ptr<EVP_PKEY> key) {
  if (!key) return Error{"no key"};
  KeyType type = KeyType::kRsa;
  int base_id = EVP_PKEY_get_base_id(key.get());
  if (base_id == EVP_PKEY_RSA) {
    type = KeyType::kRsa;
    if (int bits = EVP_PKEY_get_bits(key.get()); bits > kMaxRsaBits) {
      return Error{"is an RSA key of " + std::to_string(bits) + " bits; keys over " +
                   std::to_string(kMaxRsaBits) + " bits are refused"};
    }
  } else if (base_id == EVP_PKEY_EC) {
    auto ec = ec_key_type(key.get());
    if (!ec) return Error{ec.error()};
    type = *ec;
    // kube-apiserver (Go) hashes the uncompressed point encoding.
    if (EVP_PKEY_set_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                       OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1) {
      ERR_clear_error();
      return Error{"is an EC key whose point cannot be encoded"};
    }
  } else if (base_id == EVP_PKEY_RSA_PSS) {
    return Error{"is an RSA-PSS key; service-account tokens need a plain RSA key (RS256)"};
  } else {
    const char* name = EVP_PKEY_get0_type_name(key.get());
    return Error{"is a " + std::string(name ? name : "unknown") +
                 " key; only RSA (RS256) and EC P-256 / P-384 (ES256 / ES384) are supported"};
  }

  unsigned char* raw_der = nullptr;
  int der_length = i2d_PUBKEY(key.get(), &raw_der);
  openssl::Bytes der(raw_der);
  if (der_length <= 0) {
    ERR_clear_error();
    return Error{"has a public key that cannot be DER-encoded"};
  }
  std::string spki(reinterpret_cast<const char*>(der.get()), static_cast<std::size_t>(der_length));

  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_length = 0;
  if (EVP_Digest(spki.data(), spki.size(), digest.data(), &digest_length, EVP_sha256(), nullptr) !=
      1) {
    ERR_clear_error();
    return Error{"cannot be hashed (SHA-256 unavailable)"};
  }
  std::string kid = base64url_encode(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest_length));
  return PublicKey(std::move(key), type, std::move(spki), std::move(kid));
}

Result<std::vector<PublicKey>> parse_public_keys_pem(std::string_view pem,
                                                     std::string_view origin) {
  const std::string where(origin);
  if (mentions_private_key(pem)) {
    return Error{where +
                 " holds a private key; give the public key instead (openssl pkey -in KEY "
                 "-pubout -out KEY.pub)"};
  }
  if (pem.find("-----BEGIN ") == std::string_view::npos) {
    return Error{where + " has no PEM block (-----BEGIN PUBLIC KEY-----)"};
  }
  auto bio = openssl::memory_bio(pem.data(), pem.size());
  if (!bio) return Error{where + ": out of memory"};

  std::vector<PublicKey> keys;
  ERR_clear_error();
  // Bounded: every pass reads a block, and the 65th is refused.
  for (int block = 0; block <= kMaxPemBlocks; ++block) {
    char* raw_name = nullptr;
    char* raw_header = nullptr;
    unsigned char* raw_data = nullptr;
    long length = 0;
    const int read = PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &length);
    openssl::String name(raw_name);
    openssl::String header(raw_header);
    openssl::Bytes data(raw_data);
    if (read != 1) {
      unsigned long code = ERR_peek_last_error();
      bool at_end = ERR_GET_LIB(code) == ERR_LIB_PEM &&
                    ERR_GET_REASON(code) == PEM_R_NO_START_LINE && !keys.empty();
      if (at_end) {
        ERR_clear_error();
        break;
      }
      return Error{where + " is not valid PEM (" + pem_error_reason() + ")"};
    }
    if (block == kMaxPemBlocks) {
      return Error{where + " has more than " + std::to_string(kMaxPemBlocks) + " PEM blocks"};
    }
    bool encrypted = header != nullptr && header.get()[0] != '\0';
    auto key = encrypted ? Result<std::shared_ptr<EVP_PKEY>>(Error{"has an encrypted PEM block"})
                         : decode_block(name.get(), data.get(), length);
    ERR_clear_error();
    if (!key) return Error{where + " " + key.error()};
    auto loaded = PublicKey::from_evp(std::move(*key));
    if (!loaded) return Error{where + " " + loaded.error()};
    keys.push_back(std::move(*loaded));
  }
  return keys;
}

}  // namespace irsa::oidc
