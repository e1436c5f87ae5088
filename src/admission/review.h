// AdmissionReview admission.k8s.io/v1 and v1beta1: the request fields the
// webhook reads (decoded in place with simdjson) and the response it writes.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/result.h"
#include "mutation/patch.h"

namespace irsa::admission {

inline constexpr std::string_view kApiVersionV1 = "admission.k8s.io/v1";
inline constexpr std::string_view kApiVersionV1beta1 = "admission.k8s.io/v1beta1";
inline constexpr std::string_view kReviewKind = "AdmissionReview";

// request.kind: what the object is.
struct GroupVersionKind {
  std::string_view group;  // "" for the core group, which Pods are in
  std::string_view version;
  std::string_view kind;
};

// The request of a review. Every view points into the document `parser`
// holds: use it before the parser parses anything else.
struct ReviewRequest {
  std::string_view api_version;  // kApiVersionV1 or kApiVersionV1beta1
  std::string_view uid;          // never empty
  std::string_view namespace_name;
  std::string_view operation;     // "CREATE", "UPDATE", ...; "" when absent
  std::string_view sub_resource;  // "" for the resource itself
  bool dry_run = false;
  std::optional<GroupVersionKind> kind;          // nullopt when absent
  std::optional<simdjson::dom::element> object;  // nullopt when absent or null
  // Set when an object in the review holds a key twice (outside the fields
  // that say whom to answer): the API server would read the last, the webhook
  // the first, so the handler refuses the review with this message.
  std::optional<std::string> duplicate_key;
};

// Decodes an AdmissionReview. An error means the body is not a review the
// webhook can answer (not JSON, not an object, apiVersion or kind wrong or
// missing, no request, no uid): the caller replies HTTP 400 with the message.
// A review whose object is not a Pod decodes fine; the handler denies it.
// A key twice in the review object or its request's uid is an error too
// (there is no unambiguous uid or apiVersion to answer with); a key twice
// anywhere else sets `duplicate_key`.
Result<ReviewRequest> decode_review(simdjson::dom::parser& parser, std::string_view body);

// metav1.Status in a response: why a review is denied.
struct ResponseStatus {
  int code = 400;
  std::string message;
};

struct ReviewResponse {
  std::string api_version = std::string(kApiVersionV1);  // echo the request's
  std::string uid;
  bool allowed = true;
  // RFC 6902 operations; the response carries a JSONPatch only when this is
  // a non-empty array.
  mutation::Patch patch;
  std::vector<std::string> warnings;                     // omitted when empty
  std::map<std::string, std::string> audit_annotations;  // omitted when empty
  std::optional<ResponseStatus> status;                  // set for denials
};

// The AdmissionReview JSON for `response`, written once into one string
// sized up front (the patch is base64-encoded straight from its text).
std::string encode_review_response(const ReviewResponse& response);
// The same, or nullopt when it would be longer than `max_bytes` (0: no
// limit). A reply whose unescaped parts already pass `max_bytes` is refused
// before anything is written, so the budget bounds the memory it takes.
std::optional<std::string> encode_review_response(const ReviewResponse& response,
                                                  std::size_t max_bytes);

// The longest status.message a denial carries; a longer one is cut.
inline constexpr std::size_t kMaxStatusMessageBytes = 4096;

// A response to `request` that denies it with `code` and a one-line reason
// (cut to kMaxStatusMessageBytes).
ReviewResponse denial(const ReviewRequest& request, int code, std::string message);

// Standard base64 (RFC 4648 section 4) with padding, as Kubernetes expects
// for a []byte field such as response.patch.
std::string base64_encode(std::string_view data);
// Appends the base64 of the concatenation of `pieces`, without building it.
void append_base64(std::string& out, const std::string_view* pieces, std::size_t count);
template <std::size_t N>
void append_base64(std::string& out, const std::array<std::string_view, N>& pieces) {
  append_base64(out, pieces.data(), N);
}
// The length of the base64 of `size` bytes.
constexpr std::size_t base64_size(std::size_t size) { return (size + 2) / 3 * 4; }

}  // namespace irsa::admission
