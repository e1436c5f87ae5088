// base64url without padding (RFC 7515 section 2), the encoding of JWS parts,
// JWK members and kube-apiserver's key ids.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace irsa::oidc {

// Encodes bytes as unpadded base64url.
std::string base64url_encode(std::string_view bytes);

// Decodes unpadded base64url. Refuses '=' padding, characters of other
// alphabets (including '+' '/' and whitespace) and impossible lengths; the
// error says which, never echoing the input. Unused trailing bits are ignored.
Result<std::string> base64url_decode(std::string_view text);

}  // namespace irsa::oidc
