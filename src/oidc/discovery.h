// The two documents an issuer publishes for STS: the OpenID discovery
// document and the JWKS, as kube-apiserver serves them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "oidc/jwk.h"
#include "oidc/provider.h"
#include "oidc/public_key.h"

namespace irsa::oidc {

struct IssuerDocumentsOptions {
  Issuer issuer;
  // Where the JWKS is served, relative to the issuer URL.
  std::string jwks_path = "keys.json";
  // Also publish each key with an empty kid, for tokens minted without one.
  bool legacy_empty_kid = false;
};

// File contents, JSON with a trailing newline.
struct IssuerDocuments {
  std::string discovery;           // serve at ISSUER/.well-known/openid-configuration
  std::string jwks;                // serve at ISSUER/<jwks_path>
  std::vector<std::string> notes;  // e.g. a key given twice
};

// A JWKS path must be relative, made of [A-Za-z0-9._-] segments separated
// by '/', without "." or ".." segments and not under .well-known/.
Status validate_jwks_path(std::string_view path);

// Discovery: issuer, jwks_uri (issuer + "/" + jwks_path),
// response_types_supported [id_token], subject_types_supported [public],
// id_token_signing_alg_values_supported (the keys' algorithms, sorted).
// JWKS: one JWK per distinct key in the given order (see to_jwk), then the
// empty-kid copies when asked. Errors: no keys, an invalid jwks_path.
Result<IssuerDocuments> render_issuer_documents(const std::vector<PublicKey>& keys,
                                                const IssuerDocumentsOptions& options);

// The same documents for keys read from a JWKS (the API server's
// /openid/v1/jwks): each key keeps the kid it was published with (its
// computed kid when it had none), so tokens already minted still match.
Result<IssuerDocuments> render_issuer_documents(const Jwks& jwks,
                                                const IssuerDocumentsOptions& options);

}  // namespace irsa::oidc
