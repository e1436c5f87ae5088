// The AWS identity a Pod receives, and how a ServiceAccount's annotations
// (plus the webhook's defaults) turn into one. Pure: values in, values out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace irsa::identity {

// Token lifetimes the API server accepts: at least 10 minutes (shorter values
// are raised, as AWS's webhook does), at most 2^32 s (Kubernetes validation).
inline constexpr int64_t kMinTokenExpiration = 600;
inline constexpr int64_t kMaxTokenExpiration = 4294967296;
inline constexpr int64_t kDefaultTokenExpiration = 86400;

enum class Mode {
  kWebIdentity,           // IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE
  kContainerCredentials,  // EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI + token file
};

// What the webhook knows about one ServiceAccount: only the annotations under
// the prefix that it acts on, already parsed. An annotation that is absent or
// invalid is empty here (an invalid one is reported in `problems`).
struct ServiceAccountSettings {
  std::optional<std::string> role_arn;
  std::optional<std::string> audience;
  std::optional<bool> regional_sts;
  std::optional<int64_t> token_expiration;  // clamped to >= kMinTokenExpiration
  bool role_session_name = false;           // <prefix>/role-session-name: pod-name
  std::optional<std::string> region;        // <prefix>/region, a valid region name
  std::vector<std::string> problems;        // e.g. "token-expiration \"x\" is not an integer"

  // True when the settings carry nothing that can change a Pod.
  bool empty() const {
    return !role_arn && !audience && !regional_sts && !token_expiration && !role_session_name &&
           !region;
  }
  bool operator==(const ServiceAccountSettings&) const = default;
};

// Reads the annotations `<prefix>/role-arn`, `/audience`,
// `/sts-regional-endpoints`, `/token-expiration`, `/role-session-name` and
// `/region`. Never fails: bad values become `problems`, and so do a role-arn
// that is not an IAM role ARN (kept, as AWS's webhook keeps it), an empty
// role-arn or audience, and keys that are near misses of a known one
// (annotation_key_problem). Other keys are ignored.
ServiceAccountSettings parse_service_account_annotations(
    const std::map<std::string, std::string, std::less<>>& annotations, std::string_view prefix);

// An AWS region name: lowercase letters, then groups of lowercase letters or
// digits, the last all digits, joined by '-' ("us-east-1", "us-gov-west-1",
// "eusc-de-east-1"); at most 32 characters.
bool is_region_name(std::string_view text);

// An IAM role ARN: arn:<partition>:iam::<12 digits>:role/<path/name>, the
// partition "aws" or "aws-..." (aws-cn, aws-us-gov, ...), the path and name
// of IAM's characters (letters, digits, _+=,.@- and '/' between parts).
bool is_iam_role_arn(std::string_view text);

// What an annotation is meant for.
enum class AnnotationTarget { kServiceAccount, kPod };

// A problem with an annotation key on a `target` object, or nullopt: a key
// of the other kind of object under the prefix ("<prefix>/role-arn" on a Pod
// is ignored), or a near miss of a known key, in its name ("rolearn",
// "role_arn", "role-Arn", "sts-regional-endpoint") or its prefix
// ("eks.amazonws.com/role-arn"). Unknown keys under the prefix that are not
// near misses belong to others (EKS uses the prefix for more) and pass.
std::optional<std::string> annotation_key_problem(std::string_view key, std::string_view prefix,
                                                  AnnotationTarget target);

// Go's strconv.ParseBool, which AWS's webhook uses for boolean annotations:
// 1 t T TRUE true True / 0 f F FALSE false False.
std::optional<bool> parse_go_bool(std::string_view text);

// A base-10 int64 as Go's strconv.ParseInt accepts it (optional sign, digits,
// no spaces); nullopt on anything else, including overflow.
std::optional<int64_t> parse_go_int64(std::string_view text);

// Clamps a requested token lifetime into what the API server accepts
// (>= kMinTokenExpiration); nullopt when it is above kMaxTokenExpiration.
std::optional<int64_t> validate_token_expiration(int64_t seconds);

// Flag-level defaults that annotations override.
struct Defaults {
  std::string audience = "sts.amazonaws.com";
  bool regional_sts = false;
  int64_t token_expiration = kDefaultTokenExpiration;
  bool inject_role_session_name = false;
  std::string container_credentials_audience = "pods.eks.amazonaws.com";
};

// The identity a Pod's ServiceAccount gives it, before Pod annotations.
struct Identity {
  Mode mode = Mode::kWebIdentity;
  std::string role_arn;  // kWebIdentity only
  std::string audience;
  bool regional_sts = false;
  int64_t token_expiration = kDefaultTokenExpiration;
  bool role_session_name = false;  // kWebIdentity only: add AWS_ROLE_SESSION_NAME
  // The ServiceAccount's <prefix>/region; empty: --aws-default-region.
  std::string region;
  bool operator==(const Identity&) const = default;
};

// Resolution as AWS's webhook does it: a ServiceAccount listed in the
// container-credentials config gets container credentials (even if it also
// has a role ARN); otherwise a role ARN gives web identity; otherwise none.
// `settings` is nullopt when the ServiceAccount is unknown.
std::optional<Identity> resolve_identity(const std::optional<ServiceAccountSettings>& settings,
                                         bool container_credentials_listed,
                                         const Defaults& defaults);

}  // namespace irsa::identity
