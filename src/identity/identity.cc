// ServiceAccount annotations → settings, and settings + defaults → Identity,
// with the parsing rules of AWS's webhook (Go's strconv for bools and ints).
#include "identity/identity.h"

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

}  // namespace

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

  if (const auto* value = find(annotations, key, prefix_size, "role-arn");
      value && !value->empty()) {
    settings.role_arn = *value;
  }
  if (const auto* value = find(annotations, key, prefix_size, "audience");
      value && !value->empty()) {
    settings.audience = *value;
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
  return identity;
}

}  // namespace irsa::identity
