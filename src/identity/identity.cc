// ServiceAccount annotations → settings, and settings + defaults → Identity,
// with the parsing rules of AWS's webhook (Go's strconv for bools and ints).
#include "identity/identity.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "common/quote.h"

namespace irsa::identity {
namespace {

constexpr std::size_t kMaxQuotedValue = 64;

// An annotation value for a problem message: quoted, bounded, one line, and
// plain ASCII so that it can go anywhere (logs, JSON warnings).
std::string quote(std::string_view value) {
  return irsa::quote(value, kMaxQuotedValue, QuoteBytes::kAscii);
}

const std::string* find(const std::map<std::string, std::string, std::less<>>& annotations,
                        std::string& key, std::size_t prefix_size, std::string_view suffix) {
  key.resize(prefix_size);
  key += suffix;
  auto it = annotations.find(key);
  return it == annotations.end() ? nullptr : &it->second;
}

constexpr std::array<std::string_view, 6> kServiceAccountKeys = {
    "role-arn",         "audience",          "sts-regional-endpoints",
    "token-expiration", "role-session-name", "region"};
constexpr std::array<std::string_view, 4> kPodKeys = {
    "skip-containers", "include-containers", "token-expiration", "keep-static-credentials"};

template <std::size_t N>
bool is_one_of(std::string_view name, const std::array<std::string_view, N>& keys) {
  return std::find(keys.begin(), keys.end(), name) != keys.end();
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Lowercase, without '-', '_', '.' and spaces: "Role_ARN" and "rolearn"
// both read "rolearn".
std::string squashed(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '-' || c == '_' || c == '.' || c == ' ') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Edit distance with adjacent transpositions (optimal string alignment),
// stopping early past `limit`; inputs are annotation keys (at most 317 bytes).
std::size_t distance(std::string_view a, std::string_view b, std::size_t limit) {
  if (a.size() > b.size() + limit || b.size() > a.size() + limit) return limit + 1;
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    std::size_t row_min = current[0];
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
      row_min = std::min(row_min, current[j]);
    }
    if (row_min > limit) return limit + 1;
    before.swap(previous);
    previous.swap(current);
  }
  return previous[b.size()];
}

bool near_name(std::string_view name, std::string_view known) {
  if (squashed(name) == squashed(known)) return true;
  std::size_t limit = known.size() <= 6 ? 1 : 2;
  return distance(lower(name), known, limit) <= limit;
}

bool near_domain(std::string_view domain, std::string_view prefix) {
  if (domain == prefix) return false;
  std::size_t limit = prefix.size() < 8 ? 1 : 2;
  return distance(lower(domain), lower(prefix), limit) <= limit;
}

// The known key `name` is near, and whether it belongs to the other target.
std::optional<std::pair<std::string_view, bool>> nearest_known(std::string_view name,
                                                               AnnotationTarget target) {
  const bool pod = target == AnnotationTarget::kPod;
  for (bool other : {false, true}) {
    bool pod_keys = pod != other;
    if (pod_keys) {
      for (auto known : kPodKeys) {
        if (known == name || near_name(name, known)) return std::pair{known, other};
      }
    } else {
      for (auto known : kServiceAccountKeys) {
        if (known == name || near_name(name, known)) return std::pair{known, other};
      }
    }
  }
  return std::nullopt;
}

}  // namespace

bool is_region_name(std::string_view text) {
  if (text.empty() || text.size() > 32 || text.front() == '-' || text.back() == '-') return false;
  std::size_t groups = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('-', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view group = text.substr(start, end - start);
    if (group.empty()) return false;
    bool last = end == text.size();
    for (char c : group) {
      bool digit = c >= '0' && c <= '9';
      bool letter = c >= 'a' && c <= 'z';
      if (groups == 0 && !letter) return false;
      if (last && !digit) return false;
      if (!digit && !letter) return false;
    }
    ++groups;
    start = end + 1;
  }
  return groups >= 3;
}

bool is_iam_role_arn(std::string_view text) {
  constexpr std::string_view kArn = "arn:";
  if (text.substr(0, kArn.size()) != kArn) return false;
  text.remove_prefix(kArn.size());
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view partition = text.substr(0, colon);
  if (partition != "aws" && partition.substr(0, 4) != "aws-") return false;
  for (char c : partition) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  text.remove_prefix(colon + 1);
  constexpr std::string_view kIam = "iam::";
  if (text.substr(0, kIam.size()) != kIam) return false;
  text.remove_prefix(kIam.size());
  if (text.size() < 12) return false;
  for (std::size_t i = 0; i < 12; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  text.remove_prefix(12);
  constexpr std::string_view kRole = ":role/";
  if (text.substr(0, kRole.size()) != kRole) return false;
  text.remove_prefix(kRole.size());
  if (text.empty() || text.back() == '/' || text.front() == '/' || text.size() > 576) return false;
  for (char c : text) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '=' ||
              c == ',' || c == '.' || c == '@' || c == '-' || c == '/';
    if (!ok) return false;
  }
  return text.find("//") == std::string_view::npos;
}

std::optional<std::string> annotation_key_problem(std::string_view key, std::string_view prefix,
                                                  AnnotationTarget target) {
  std::size_t slash = key.find('/');
  if (slash == std::string_view::npos || prefix.empty()) return std::nullopt;
  std::string_view domain = key.substr(0, slash);
  std::string_view name = key.substr(slash + 1);
  const bool pod = target == AnnotationTarget::kPod;
  const std::string shown = name_or_quote(key, 80);
  if (domain == prefix) {
    if (pod ? is_one_of(name, kPodKeys) : is_one_of(name, kServiceAccountKeys)) {
      return std::nullopt;
    }
    auto known = nearest_known(name, target);
    if (!known) return std::nullopt;
    if (known->first == name) {
      return "annotation " + shown + " belongs on the " + (pod ? "ServiceAccount" : "Pod") +
             ": here it is ignored";
    }
    return "annotation " + shown + " is unknown: did you mean " + std::string(prefix) + "/" +
           std::string(known->first) + "?";
  }
  if (!near_domain(domain, prefix)) return std::nullopt;
  auto known = nearest_known(name, target);
  if (!known) return std::nullopt;
  return "annotation " + shown + " is ignored: did you mean " + std::string(prefix) + "/" +
         std::string(known->first) + "?";
}

ServiceAccountSettings parse_service_account_annotations(
    const std::map<std::string, std::string, std::less<>>& annotations, std::string_view prefix) {
  ServiceAccountSettings settings;
  if (annotations.empty()) return settings;
  std::string key(prefix);
  key += '/';
  const std::size_t prefix_size = key.size();
  auto problem = [&key](const std::string& value, std::string_view what) {
    return "annotation " + key + " " + quote(value) + " " + std::string(what);
  };

  if (const auto* value = find(annotations, key, prefix_size, "role-arn")) {
    if (value->empty()) {
      settings.problems.push_back("annotation " + key + " is empty: no AWS identity from it");
    } else {
      settings.role_arn = *value;
      if (!is_iam_role_arn(*value)) {
        settings.problems.push_back(
            "annotation " + key + " " + irsa::quote(*value, 24, QuoteBytes::kAscii) +
            " is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)");
      }
    }
  }
  if (const auto* value = find(annotations, key, prefix_size, "audience")) {
    if (value->empty()) {
      settings.problems.push_back("annotation " + key + " is empty: using the default audience");
    } else {
      settings.audience = *value;
    }
  }
  if (const auto* value = find(annotations, key, prefix_size, "region")) {
    if (is_region_name(*value)) {
      settings.region = *value;
    } else {
      settings.problems.push_back(problem(*value,
                                          "is not a region name such as us-east-1; using "
                                          "the default"));
    }
  }
  if (const auto* value = find(annotations, key, prefix_size, "sts-regional-endpoints")) {
    settings.regional_sts = parse_go_bool(*value);
    if (!settings.regional_sts) {
      settings.problems.push_back(
          problem(*value, "is not a boolean (true or false); using the default"));
    }
  }
  if (const auto* value = find(annotations, key, prefix_size, "token-expiration")) {
    auto seconds = parse_go_int64(*value);
    if (!seconds) {
      settings.problems.push_back(problem(*value, "is not an integer; using the default"));
    } else {
      settings.token_expiration = validate_token_expiration(*seconds);
      if (!settings.token_expiration) {
        settings.problems.push_back(problem(*value, "is above the maximum of " +
                                                        std::to_string(kMaxTokenExpiration) +
                                                        " seconds; using the default"));
      }
    }
  }
  if (const auto* value = find(annotations, key, prefix_size, "role-session-name")) {
    if (*value == "pod-name") {
      settings.role_session_name = true;
    } else {
      settings.problems.push_back(problem(*value, "is not \"pod-name\"; ignoring it"));
    }
  }
  for (const auto& [annotation, value] : annotations) {
    if (auto key_problem =
            annotation_key_problem(annotation, prefix, AnnotationTarget::kServiceAccount)) {
      settings.problems.push_back(std::move(*key_problem));
    }
  }
  return settings;
}

std::optional<bool> parse_go_bool(std::string_view text) {
  if (text == "1" || text == "t" || text == "T" || text == "TRUE" || text == "true" ||
      text == "True") {
    return true;
  }
  if (text == "0" || text == "f" || text == "F" || text == "FALSE" || text == "false" ||
      text == "False") {
    return false;
  }
  return std::nullopt;
}

std::optional<int64_t> parse_go_int64(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  // The magnitude of INT64_MIN is one more than INT64_MAX.
  const uint64_t limit =
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + (negative ? 1 : 0);
  uint64_t magnitude = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    auto digit = static_cast<uint64_t>(c - '0');
    if (magnitude > (limit - digit) / 10) return std::nullopt;
    magnitude = magnitude * 10 + digit;
  }
  if (!negative) return static_cast<int64_t>(magnitude);
  if (magnitude == limit) return std::numeric_limits<int64_t>::min();
  return -static_cast<int64_t>(magnitude);
}

std::optional<int64_t> validate_token_expiration(int64_t seconds) {
  if (seconds > kMaxTokenExpiration) return std::nullopt;
  if (seconds < kMinTokenExpiration) return kMinTokenExpiration;
  return seconds;
}

std::optional<Identity> resolve_identity(const std::optional<ServiceAccountSettings>& settings,
                                         bool container_credentials_listed,
                                         const Defaults& defaults) {
  auto regional_sts = [&] {
    return settings && settings->regional_sts ? *settings->regional_sts : defaults.regional_sts;
  };
  auto token_expiration = [&] {
    return settings && settings->token_expiration ? *settings->token_expiration
                                                  : defaults.token_expiration;
  };
  if (container_credentials_listed) {
    Identity identity;
    identity.mode = Mode::kContainerCredentials;
    identity.audience = defaults.container_credentials_audience;
    identity.regional_sts = regional_sts();
    identity.token_expiration = token_expiration();
    if (settings && settings->region) identity.region = *settings->region;
    return identity;
  }
  if (!settings || !settings->role_arn) return std::nullopt;
  Identity identity;
  identity.mode = Mode::kWebIdentity;
  identity.role_arn = *settings->role_arn;
  identity.audience = settings->audience ? *settings->audience : defaults.audience;
  identity.regional_sts = regional_sts();
  identity.token_expiration = token_expiration();
  identity.role_session_name = settings->role_session_name || defaults.inject_role_session_name;
  if (settings->region) identity.region = *settings->region;
  return identity;
}

}  // namespace irsa::identity
