// Ownership of OpenSSL objects: one std::unique_ptr type per kind, freed by
// the matching OpenSSL function. Every part that holds an OpenSSL object
// holds it in one of these; nothing calls a *_free function by hand.
// Header-only: the parts that include it link OpenSSL themselves.
#pragma once

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace irsa::openssl {

// Frees with `Free`, which takes the pointer and returns nothing.
template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* object) const {
    Free(object);
  }
};

using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSignature = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using KeyContext = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using DigestContext = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;
using ParamBuilder = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using Ssl = std::unique_ptr<SSL, Deleter<SSL_free>>;
using SslContext = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using Certificate = std::unique_ptr<X509, Deleter<X509_free>>;

struct CertificateStackDeleter {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_pop_free(stack, X509_free); }
};
// A chain of certificates; frees each one with the stack.
using CertificateStack = std::unique_ptr<STACK_OF(X509), CertificateStackDeleter>;

struct AllocationDeleter {
  template <typename T>
  void operator()(T* memory) const {
    OPENSSL_free(memory);
  }
};
// Text that OpenSSL allocated (BN_bn2hex, PEM_read_bio's name, ...).
using String = std::unique_ptr<char, AllocationDeleter>;
// Bytes that OpenSSL allocated (i2d_PUBKEY, PEM_read_bio's data, ...).
using Bytes = std::unique_ptr<unsigned char, AllocationDeleter>;

// A read-only memory BIO over `size` bytes at `data`, which must outlive it.
inline Bio memory_bio(const void* data, std::size_t size) {
  return Bio(BIO_new_mem_buf(data, static_cast<int>(size)));
}

}  // namespace irsa::openssl
