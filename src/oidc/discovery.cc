// Rendering the discovery document and the JWKS.
#include "oidc/discovery.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

namespace irsa::oidc {

Status validate_jwks_path(std::string_view path) {
  const std::string quoted = "JWKS path \"" + std::string(path) + "\"";
  if (path.empty()) return Error{"JWKS path is empty"};
  if (path.size() > 200) return Error{quoted.substr(0, 40) + "...\" is too long"};
  if (path.front() == '/')
    return Error{quoted + " must be relative to the issuer (no leading '/')"};
  if (path.back() == '/') return Error{quoted + " must name a file (no trailing '/')"};
  std::size_t start = 0;
  for (int guard = 0; guard < 200 && start <= path.size(); ++guard) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return Error{quoted + " has an empty, \".\" or \"..\" segment"};
    }
    for (char c : segment) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
        return Error{quoted + " may use only A-Z a-z 0-9 . _ - and '/'"};
      }
    }
    start = end + 1;
  }
  if (path.rfind(".well-known/", 0) == 0) {
    return Error{quoted + " is under .well-known/; pick another place for the keys"};
  }
  return Ok{};
}

namespace {

struct Published {
  const PublicKey* key;
  std::string kid;
};

Result<IssuerDocuments> render(const std::vector<Published>& entries,
                               const IssuerDocumentsOptions& options) {
  if (entries.empty()) return Error{"no signing key given"};
  if (auto valid = validate_jwks_path(options.jwks_path); !valid) return Error{valid.error()};

  IssuerDocuments documents;
  std::vector<Published> distinct;
  for (const auto& entry : entries) {
    bool seen = std::any_of(distinct.begin(), distinct.end(), [&](const Published& other) {
      return other.kid == entry.kid && other.key->spki_der() == entry.key->spki_der();
    });
    if (seen) {
      documents.notes.push_back("key " + entry.key->kid() +
                                " was given more than once; published once");
      continue;
    }
    distinct.push_back(entry);
  }
  if (options.legacy_empty_kid) {
    std::size_t count = distinct.size();
    for (std::size_t i = 0; i < count; ++i) {
      const PublicKey* key = distinct[i].key;
      bool has_copy = std::any_of(distinct.begin(), distinct.end(), [&](const Published& other) {
        return other.kid.empty() && other.key->spki_der() == key->spki_der();
      });
      if (!has_copy) distinct.push_back({key, ""});
    }
  }

  nlohmann::ordered_json jwk_list = nlohmann::ordered_json::array();
  std::set<std::string> algorithms;
  for (const auto& entry : distinct) {
    jwk_list.push_back(to_jwk(*entry.key, entry.kid));
    algorithms.insert(std::string(entry.key->algorithm()));
  }
  nlohmann::ordered_json jwks;
  jwks["keys"] = std::move(jwk_list);

  nlohmann::ordered_json discovery;
  discovery["issuer"] = options.issuer.url;
  discovery["jwks_uri"] = options.issuer.url + "/" + options.jwks_path;
  discovery["response_types_supported"] = nlohmann::ordered_json::array({"id_token"});
  discovery["subject_types_supported"] = nlohmann::ordered_json::array({"public"});
  discovery["id_token_signing_alg_values_supported"] =
      std::vector<std::string>(algorithms.begin(), algorithms.end());

  documents.discovery = discovery.dump(2) + "\n";
  documents.jwks = jwks.dump(2) + "\n";
  return documents;
}

}  // namespace

Result<IssuerDocuments> render_issuer_documents(const std::vector<PublicKey>& keys,
                                                const IssuerDocumentsOptions& options) {
  std::vector<Published> entries;
  entries.reserve(keys.size());
  for (const auto& key : keys) entries.push_back({&key, key.kid()});
  return render(entries, options);
}

Result<IssuerDocuments> render_issuer_documents(const Jwks& jwks,
                                                const IssuerDocumentsOptions& options) {
  std::vector<Published> entries;
  entries.reserve(jwks.keys.size());
  for (const auto& entry : jwks.keys)
    entries.push_back({&entry.key, entry.kid.value_or(entry.key.kid())});
  return render(entries, options);
}

}  // namespace irsa::oidc
