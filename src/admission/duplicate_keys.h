// Duplicate JSON object keys in a parsed review. simdjson (and so the
// webhook) reads the first of two equal keys, Go's decoder (and so the API
// server) the last: a review that holds a key twice means two different Pods,
// so it is refused rather than guessed at.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

namespace irsa::admission {

struct DuplicateKey {
  // The members leading to the object that holds the key twice, outermost
  // first (array indices as decimal text); empty for the root object.
  std::vector<std::string> path;
  std::string key;

  // The path as a JSON Pointer (RFC 6901): "" for the root, else
  // "/request/object/spec".
  std::string pointer() const;
  // `duplicate key "serviceAccountName" at /request/object/spec`: the key
  // quoted, both cut to a sane length, control bytes as \xNN, one line.
  std::string describe() const;
};

// An object that holds a key twice, in the document a parser has just parsed
// (parser.doc): the root object itself when it does, else the first found
// depth-first. One pass over the document; keys of small objects are compared
// pairwise, those of large ones sorted.
std::optional<DuplicateKey> find_duplicate_key(const simdjson::dom::document& document);

}  // namespace irsa::admission
