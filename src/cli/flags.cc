// The flag table: AWS's webhook's flags (and klog's) with their defaults,
// plus irsa-webhook's own. Parsing is pflag's syntax; validation says what to fix.
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "cli/config.h"
#include "server/defaults.h"
#include "server/tls_context.h"

// IRSA_VERSION and IRSA_REVISION come from CMakeLists.txt, their one home.
#if !defined(IRSA_VERSION) || !defined(IRSA_REVISION)
#error "IRSA_VERSION and IRSA_REVISION are defined by CMakeLists.txt (irsa_cli)"
#endif

namespace irsa::cli {
namespace {

enum class Kind { kString, kInt, kBool, kDuration, kSize };

// What a flag does to the Config: `set` stores a parsed value (an error
// says what is wrong with it); `show` writes the value back as the flag
// would take it, so that the help shows the default of a default-built
// Config rather than a copy of it (null: the help says it in words).
struct Target {
  std::function<Status(Config&, std::string_view)> set;
  std::function<std::string(const Config&)> show;
};

// One row of the table. A "{default}" in `help` is replaced by the target's
// value in a default-constructed Config; a "{rule}" by `rule`, for a
// default the server works out at start (server/defaults.h).
struct Flag {
  const char* name;
  Kind kind;
  const char* help;
  Target target;
  std::function<std::string()> rule = nullptr;
};

Result<int64_t> parse_int(std::string_view name, std::string_view text) {
  auto value = identity::parse_go_int64(text);
  if (!value)
    return Error{"--" + std::string(name) + " wants an integer, got \"" + std::string(text) + "\""};
  return *value;
}

Result<bool> parse_bool(std::string_view name, std::string_view text) {
  auto value = identity::parse_go_bool(text);
  if (!value)
    return Error{"--" + std::string(name) + " wants true or false, got \"" + std::string(text) +
                 "\""};
  return *value;
}

}  // namespace

// Go's time.ParseDuration: a sequence of decimal numbers with units
// ns, us, µs, ms, s, m, h ("100ms", "1m30s", "0"). Returns seconds.
std::optional<double> parse_go_duration(std::string_view text) {
  if (text == "0") return 0.0;
  if (text.empty()) return std::nullopt;
  double total = 0;
  bool negative = false;
  if (text.front() == '-' || text.front() == '+') {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  while (!text.empty()) {
    std::size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    std::string number(text.substr(0, digits));
    if (std::count(number.begin(), number.end(), '.') > 1 || number == ".") return std::nullopt;
    double value = std::strtod(number.c_str(), nullptr);
    text.remove_prefix(digits);
    std::size_t unit_length = 0;
    while (unit_length < text.size() &&
           !std::isdigit(static_cast<unsigned char>(text[unit_length])) &&
           text[unit_length] != '.') {
      ++unit_length;
    }
    std::string_view unit = text.substr(0, unit_length);
    text.remove_prefix(unit_length);
    double scale;
    if (unit == "ns")
      scale = 1e-9;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      scale = 1e-6;
    else if (unit == "ms")
      scale = 1e-3;
    else if (unit == "s")
      scale = 1;
    else if (unit == "m")
      scale = 60;
    else if (unit == "h")
      scale = 3600;
    else
      return std::nullopt;
    total += value * scale;
  }
  if (!std::isfinite(total)) return std::nullopt;
  return negative ? -total : total;
}

namespace {

// Go's duration syntax for a value in seconds: the largest unit that
// divides it (2m, 10s, 100ms).
std::string show_seconds(double seconds) {
  const double millis = std::round(seconds * 1000);
  auto whole = [](double value) { return std::to_string(static_cast<int64_t>(value)); };
  if (millis != 0 && std::fmod(millis, 3600000) == 0) return whole(millis / 3600000) + "h";
  if (millis != 0 && std::fmod(millis, 60000) == 0) return whole(millis / 60000) + "m";
  if (std::fmod(millis, 1000) == 0) return whole(millis / 1000) + "s";
  return whole(millis) + "ms";
}

double in_seconds(double seconds) { return seconds; }
double in_seconds(std::chrono::milliseconds duration) {
  return static_cast<double>(duration.count()) / 1000;
}

template <typename Field>
Target text(Field field) {
  return {[field](Config& config, std::string_view value) -> Status {
            field(config) = std::string(value);
            return Ok{};
          },
          [field](const Config& config) { return std::string(field(config)); }};
}

template <typename Field>
Target boolean(const char* name, Field field) {
  return {[name, field](Config& config, std::string_view value) -> Status {
            auto parsed = parse_bool(name, value);
            if (!parsed) return Error{parsed.error()};
            field(config) = *parsed;
            return Ok{};
          },
          [field](const Config& config) { return std::string(field(config) ? "true" : "false"); }};
}

template <typename Field>
Target integer(const char* name, Field field) {
  return {
      [name, field](Config& config, std::string_view value) -> Status {
        auto parsed = parse_int(name, value);
        if (!parsed) return Error{parsed.error()};
        using Value = std::remove_reference_t<decltype(field(config))>;
        if (*parsed < 0 && std::is_unsigned_v<Value>) {
          return Error{"--" + std::string(name) + " must not be negative"};
        }
        if (std::cmp_greater(*parsed, std::numeric_limits<Value>::max()) ||
            std::cmp_less(*parsed, std::numeric_limits<Value>::min())) {
          return Error{"--" + std::string(name) + " " + std::string(value) + " is out of range"};
        }
        field(config) = static_cast<Value>(*parsed);
        return Ok{};
      },
      [field](const Config& config) { return std::to_string(field(config)); }};
}

// Into seconds (double) or a std::chrono::milliseconds (rounded).
template <typename Field>
Target duration(const char* name, Field field) {
  return {[name, field](Config& config, std::string_view value) -> Status {
            auto parsed = parse_go_duration(value);
            // Beyond ~30 years a duration means nothing here, and would not fit.
            if (!parsed || std::abs(*parsed) > 1e9) {
              return Error{"--" + std::string(name) +
                           " wants a duration such as 100ms, 2s or 1m, got \"" +
                           std::string(value) + "\""};
            }
            auto& target = field(config);
            if constexpr (std::is_same_v<std::remove_reference_t<decltype(target)>, double>) {
              target = *parsed;
            } else {
              target = std::chrono::milliseconds(std::llround(*parsed * 1000));
            }
            return Ok{};
          },
          [field](const Config& config) { return show_seconds(in_seconds(field(config))); }};
}

// Accepted for compatibility with AWS's webhook or klog; changes nothing here.
Target ignored() {
  return {[](Config&, std::string_view) -> Status { return Ok{}; }, nullptr};
}

// Accepted, recorded, and reported at start as not implemented yet.
Target pending(const char* name, const char* reason) {
  return {[name, reason](Config& config, std::string_view) -> Status {
            config.not_implemented.push_back(std::string("--") + name + " (" + reason + ")");
            return Ok{};
          },
          nullptr};
}

// A flag that takes one of a few words.
template <typename Field, typename Value>
Target one_of(const char* name, Field field,
              std::vector<std::pair<std::string_view, Value>> choices) {
  return {[name, field, choices](Config& config, std::string_view value) -> Status {
            std::string words;
            for (const auto& [word, meaning] : choices) {
              if (value == word) {
                field(config) = meaning;
                return Ok{};
              }
              words += words.empty() ? "" : (&word == &choices.back().first ? " or " : ", ");
              words += word;
            }
            return Error{"--" + std::string(name) + " must be " + words + ", got \"" +
                         std::string(value) + "\""};
          },
          [field, choices](const Config& config) {
            for (const auto& [word, meaning] : choices) {
              if (field(config) == meaning) return std::string(word);
            }
            return std::string();
          }};
}

// The defaults the server works out at start, said with the functions it
// computes them with (server/defaults.h, server/tls_context.h): the rule,
// and its value on this machine.
std::string default_max_connections() {
  namespace d = server::defaults;
  return "default: the open-files limit, raised to its hard limit at start, less " +
         std::to_string(d::kFileReserve) + "; " +
         std::to_string(d::max_connections(d::hard_open_file_limit())) + " here";
}

std::string default_worker_threads() {
  namespace d = server::defaults;
  return "default: max(" + std::to_string(d::kMinWorkerThreads) + ", " +
         std::to_string(d::kWorkerThreadsPerCore) + " x cores), " +
         std::to_string(d::worker_threads(d::cores())) + " here; more are added, up to " +
         std::to_string(d::kMaxWorkerThreads) + ", while all are busy";
}

std::string default_io_threads() {
  namespace d = server::defaults;
  return "default: one per core, at most " + std::to_string(d::kMaxDefaultIoThreads) + "; " +
         std::to_string(d::io_threads(d::cores())) + " here";
}

std::string default_cipher_suites() {
  std::string suites;
  for (std::string_view suite : server::default_tls12_cipher_suites()) {
    suites += suites.empty() ? "" : ", ";
    suites += suite;
  }
  return "default: " + suites + " for TLS 1.2, and OpenSSL's TLS 1.3 suites";
}

// The field a flag sets, for both the setter and the shown default. `expr`
// is a member path (serve.server.port): it cannot take parentheses.
#define FIELD(expr) \
  [](auto& c) -> auto& { return c.expr; }  // NOLINT(bugprone-macro-parentheses)

const std::vector<Flag>& flag_table() {
  static const std::vector<Flag> kTable = {
      // Listener and TLS.
      {"port", Kind::kInt, "Port to listen on (default {default})",
       integer("port", FIELD(serve.server.port))},
      {"bind-address", Kind::kString, "Address to listen on (default {default})",
       text(FIELD(serve.server.bind_address))},
      {"metrics-port", Kind::kInt, "Port for metrics over plain HTTP (default {default})",
       integer("metrics-port", FIELD(serve.metrics_port))},
      {"tls-cert", Kind::kString, "TLS certificate file (default {default})",
       text(FIELD(serve.server.tls_cert_file))},
      {"tls-key", Kind::kString, "TLS key file (default {default})",
       text(FIELD(serve.server.tls_key_file))},
      {"max-request-bytes", Kind::kSize, "Largest accepted request body (default {default})",
       integer("max-request-bytes", FIELD(serve.server.max_request_bytes))},
      {"max-response-bytes", Kind::kSize,
       "Largest AdmissionReview answer; a Pod whose patch would not fit is refused with "
       "allowed: false, code 413 (default {default})",
       integer("max-response-bytes", FIELD(serve.max_response_bytes))},
      {"tls-min-version", Kind::kString,
       "Lowest TLS version accepted: 1.2 or 1.3 (default {default})",
       text(FIELD(serve.server.tls.min_version))},
      {"tls-cipher-suites", Kind::kString,
       "Comma-separated TLS cipher suites, IANA names as Kubernetes takes them ({rule})",
       text(FIELD(serve.server.tls.cipher_suites)), default_cipher_suites},
      {"read-timeout", Kind::kDuration,
       "A request (line, headers, body) must arrive within this, and a TLS handshake finish "
       "(default {default})",
       duration("read-timeout", FIELD(serve.server.read_timeout))},
      {"write-timeout", Kind::kDuration, "A reply must be written within this (default {default})",
       duration("write-timeout", FIELD(serve.server.write_timeout))},
      {"idle-timeout", Kind::kDuration,
       "Close a keep-alive connection idle this long (default {default}, above the API server's "
       "90s)",
       duration("idle-timeout", FIELD(serve.server.idle_timeout))},
      {"max-connections", Kind::kInt,
       "Most connections open at once; at the limit the longest idle one is closed ({rule})",
       integer("max-connections", FIELD(serve.server.max_connections)), default_max_connections},
      {"worker-threads", Kind::kInt,
       "Threads for reviews that wait on a ServiceAccount lookup or are large, at least ({rule})",
       integer("worker-threads", FIELD(serve.server.worker_threads)), default_worker_threads},
      {"io-threads", Kind::kInt,
       "Threads that accept, run TLS, read requests, answer the usual review and write replies "
       "({rule})",
       integer("io-threads", FIELD(serve.server.io_threads)), default_io_threads},
      {"max-bytes-in-flight", Kind::kSize,
       "Request bodies and replies held at once across all connections; a body that does not "
       "fit waits within its read timeout (default {default})",
       integer("max-bytes-in-flight", FIELD(serve.server.max_bytes_in_flight))},
      {"shutdown-grace", Kind::kDuration,
       "On SIGTERM/SIGINT, finish the requests in progress and exit within this (default "
       "{default})",
       duration("shutdown-grace", FIELD(serve.shutdown_grace_seconds))},
      {"shutdown-delay", Kind::kDuration,
       "On SIGTERM/SIGINT, keep serving new connections this long (with /readyz at 503) while "
       "the Service stops routing here (default {default}, within --shutdown-grace)",
       duration("shutdown-delay", FIELD(serve.shutdown_delay_seconds))},
      // ServiceAccount sources.
      {"service-accounts-file", Kind::kString,
       "Read ServiceAccounts from this YAML/JSON file instead of the API server",
       text(FIELD(serve.service_accounts_file))},
      {"kubeconfig", Kind::kString, "(out-of-cluster) Path to a kubeconfig file",
       text(FIELD(serve.kubeconfig))},
      {"kube-api", Kind::kString, "(out-of-cluster) The URL of the API server",
       text(FIELD(serve.kube_api))},
      {"in-cluster", Kind::kBool,
       "Accepted for compatibility; certificates always come from --tls-cert/--tls-key",
       boolean("in-cluster", FIELD(serve.in_cluster))},
      {"namespace", Kind::kString,
       "The namespace this webhook and its ConfigMap live in (default {default})",
       text(FIELD(serve.namespace_name))},
      {"service-name", Kind::kString, "The Service fronting this webhook",
       text(FIELD(serve.service_name))},
      {"tls-secret", Kind::kString, "Accepted for compatibility (in-cluster CSR mode)",
       text(FIELD(serve.tls_secret))},
      {"watch-config-map", Kind::kBool,
       "Also read the pod-identity-webhook ConfigMap mapping ServiceAccounts to roles",
       boolean("watch-config-map", FIELD(serve.watch_config_map))},
      {"service-account-lookup-grace-period", Kind::kDuration,
       "How long to wait for an unknown ServiceAccount to reach the cache (default {default})",
       duration("service-account-lookup-grace-period",
                FIELD(serve.service_account_lookup_grace_seconds))},
      {"unknown-service-account", Kind::kString,
       "admit or deny a Pod whose ServiceAccount is still unknown after the grace period "
       "(default {default}, as AWS's webhook; deny makes the controller retry)",
       one_of("unknown-service-account", FIELD(serve.unknown_service_account_deny),
              std::vector<std::pair<std::string_view, bool>>{{"admit", false}, {"deny", true}})},
      {"resync-period", Kind::kDuration,
       "Accepted for compatibility; the watch keeps the cache current without periodic resyncs",
       ignored()},
      {"watch-container-credentials-config", Kind::kString,
       "Container-credentials (EKS Pod Identity) config file",
       text(FIELD(serve.watch_container_credentials_config))},
      {"enable-debugging-handlers", Kind::kBool, "Serve /debug/alpha/cache on the metrics port",
       boolean("enable-debugging-handlers", FIELD(serve.enable_debugging_handlers))},
      {"report-missed-pods-interval", Kind::kDuration,
       "List every Pod this often (with 10% jitter) and report those that missed their AWS "
       "identity: gauges and one IdentityNotInjected Event per Pod; needs the API server and "
       "RBAC to list Pods and create Events (default {default}, which is off; at least 1s)",
       duration("report-missed-pods-interval", FIELD(serve.report_missed_pods_interval_seconds))},
      {"compose-role-arn", Kind::kBool,
       "Not supported: needs EC2 instance metadata; use full ARNs in role-arn",
       pending("compose-role-arn", "needs EC2 instance metadata; use full role ARNs")},
      // Mutation.
      {"annotation-prefix", Kind::kString, "Annotation prefix (default {default})",
       text(FIELD(mutation.annotation_prefix))},
      {"token-audience", Kind::kString, "Default token audience (default {default})",
       text(FIELD(identity.audience))},
      {"token-mount-path", Kind::kString, "Where the token is mounted (default {default})",
       text(FIELD(mutation.token_mount_path))},
      {"token-expiration", Kind::kInt,
       "Default token lifetime in seconds (default {default}, min 600)",
       integer("token-expiration", FIELD(identity.token_expiration))},
      {"aws-default-region", Kind::kString, "Set AWS_DEFAULT_REGION and AWS_REGION to this",
       text(FIELD(mutation.region))},
      {"inject-fs-group", Kind::kInt,
       "Set spec.securityContext.fsGroup to this GID (1-2147483647) in Pods that receive an "
       "identity and set none, so the token is group-readable by every container (default "
       "{default})",
       Target{[](Config& config, std::string_view value) -> Status {
                if (value.empty()) {
                  config.mutation.inject_fs_group.reset();
                  return Ok{};
                }
                auto parsed = parse_int("inject-fs-group", value);
                if (!parsed) return Error{parsed.error()};
                if (*parsed < 1 || *parsed > 2147483647) {
                  return Error{
                      "--inject-fs-group must be a group ID from 1 to 2147483647 (not root's "
                      "group 0), got " +
                      std::to_string(*parsed)};
                }
                config.mutation.inject_fs_group = *parsed;
                return Ok{};
              },
              [](const Config& config) {
                const auto& gid = config.mutation.inject_fs_group;
                return gid ? std::to_string(*gid) : std::string("off");
              }}},
      {"sts-regional-endpoint", Kind::kBool, "Set AWS_STS_REGIONAL_ENDPOINTS=regional",
       boolean("sts-regional-endpoint", FIELD(identity.regional_sts))},
      {"inject-role-session-name", Kind::kBool,
       "Set AWS_ROLE_SESSION_NAME to the Pod's name (downward API)",
       boolean("inject-role-session-name", FIELD(identity.inject_role_session_name))},
      {"container-credentials-audience", Kind::kString,
       "Token audience in container-credentials mode (default {default})",
       text(FIELD(identity.container_credentials_audience))},
      {"container-credentials-full-uri", Kind::kString,
       "AWS_CONTAINER_CREDENTIALS_FULL_URI (default {default})",
       text(FIELD(mutation.container_credentials_full_uri))},
      {"container-credentials-token-mount-path", Kind::kString,
       "Token mount path in container-credentials mode (default {default})",
       text(FIELD(mutation.container_credentials_token_mount_path))},
      {"container-credentials-token-volume-name", Kind::kString,
       "Token volume name in container-credentials mode (default {default})",
       text(FIELD(mutation.container_credentials_token_volume_name))},
      {"container-credentials-token-path", Kind::kString,
       "Token file name in container-credentials mode (default {default})",
       text(FIELD(mutation.container_credentials_token_path))},
      // Static credentials.
      {"static-credentials", Kind::kString,
       "Static AWS keys in Pods that receive an identity: off, warn, strip or deny (default "
       "{default})",
       one_of("static-credentials", FIELD(static_credentials.managed),
              std::vector<std::pair<std::string_view, credentials::ManagedMode>>{
                  {"off", credentials::ManagedMode::kOff},
                  {"warn", credentials::ManagedMode::kWarn},
                  {"strip", credentials::ManagedMode::kStrip},
                  {"deny", credentials::ManagedMode::kDeny}})},
      {"static-credentials-unmanaged", Kind::kString,
       "Static AWS keys in Pods without an identity: allow, warn or deny (default {default})",
       one_of("static-credentials-unmanaged", FIELD(static_credentials.unmanaged),
              std::vector<std::pair<std::string_view, credentials::UnmanagedMode>>{
                  {"allow", credentials::UnmanagedMode::kAllow},
                  {"warn", credentials::UnmanagedMode::kWarn},
                  {"deny", credentials::UnmanagedMode::kDeny}})},
      {"allow-static-credentials-opt-out", Kind::kBool,
       "Honour the Pod annotation <prefix>/keep-static-credentials: \"true\"",
       boolean("allow-static-credentials-opt-out", FIELD(static_credentials.allow_opt_out))},
      {"static-credentials-secret-names", Kind::kString,
       "Comma-separated Secret names or globs whose envFrom counts as static credentials",
       Target{[](Config& config, std::string_view value) -> Status {
                auto& patterns = config.static_credentials.detect.secret_name_patterns;
                patterns.clear();
                std::size_t start = 0;
                while (start <= value.size()) {
                  std::size_t end = value.find(',', start);
                  if (end == std::string_view::npos) end = value.size();
                  std::string_view item = value.substr(start, end - start);
                  while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
                  while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
                  if (!item.empty()) patterns.emplace_back(item);
                  start = end + 1;
                }
                return Ok{};
              },
              nullptr}},
      // Process.
      {"version", Kind::kBool, "Print the version and exit",
       boolean("version", FIELD(show_version))},
      {"help", Kind::kBool, "Print this help and exit", boolean("help", FIELD(show_help))},
      {"check-config", Kind::kBool,
       "Check the flags and the files they name as a start would, print \"configuration OK\" and "
       "exit (0 valid, 2 a bad flag, 1 would not start)",
       boolean("check-config", FIELD(check_config))},
      {"log-format", Kind::kString, "text or json (default {default})",
       one_of("log-format", FIELD(log_format),
              std::vector<std::pair<std::string_view, LogFormat>>{{"text", LogFormat::kText},
                                                                  {"json", LogFormat::kJson}})},
      {"v", Kind::kInt, "Log verbosity, as klog (3: one line per review)",
       integer("v", FIELD(verbosity))},
      // Old AWS flags (out-of-cluster self-signed mode) and klog's other flags.
      {"webhook-config", Kind::kString, "Accepted for compatibility; ignored", ignored()},
      {"cert-dir", Kind::kString, "Accepted for compatibility; ignored", ignored()},
      {"cert-duration", Kind::kDuration, "Accepted for compatibility; ignored", ignored()},
      {"logtostderr", Kind::kBool, "klog flag; logs always go to stderr", ignored()},
      {"alsologtostderr", Kind::kBool, "klog flag; ignored", ignored()},
      {"log_dir", Kind::kString, "klog flag; ignored", ignored()},
      {"log_file", Kind::kString, "klog flag; ignored", ignored()},
      {"log_file_max_size", Kind::kInt, "klog flag; ignored", ignored()},
      {"stderrthreshold", Kind::kString, "klog flag; ignored", ignored()},
      {"skip_headers", Kind::kBool, "klog flag; ignored", ignored()},
      {"skip_log_headers", Kind::kBool, "klog flag; ignored", ignored()},
      {"add_dir_header", Kind::kBool, "klog flag; ignored", ignored()},
      {"one_output", Kind::kBool, "klog flag; ignored", ignored()},
      {"log_backtrace_at", Kind::kString, "klog flag; ignored", ignored()},
      {"vmodule", Kind::kString, "klog flag; ignored", ignored()},
  };
  return kTable;
}

#undef FIELD

// The help with "{default}" replaced by the flag's value in `defaults`, and
// "{rule}" by its rule.
std::string help_of(const Flag& flag, const Config& defaults) {
  std::string help = flag.help;
  constexpr std::string_view kPlaceholder = "{default}";
  if (auto at = help.find(kPlaceholder); at != std::string::npos && flag.target.show) {
    help.replace(at, kPlaceholder.size(), flag.target.show(defaults));
  }
  constexpr std::string_view kRule = "{rule}";
  if (auto at = help.find(kRule); at != std::string::npos && flag.rule) {
    help.replace(at, kRule.size(), flag.rule());
  }
  return help;
}

bool is_dns_label(std::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  for (char c : text) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return false;
    }
  }
  return text.front() != '-' && text.back() != '-';
}

bool is_dns_subdomain(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('.', start);
    if (end == std::string_view::npos) end = text.size();
    if (!is_dns_label(text.substr(start, end - start))) return false;
    start = end + 1;
  }
  return true;
}

bool has_control_or_space(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
}

Status check_absolute_path(std::string_view flag, std::string_view path) {
  if (path.empty() || path.front() != '/' || has_control_or_space(path)) {
    return Error{"--" + std::string(flag) + " must be an absolute path without spaces, got \"" +
                 std::string(path) + "\""};
  }
  return Ok{};
}

Status check_readable(std::string_view flag, const std::string& path) {
  if (path.empty()) return Error{"--" + std::string(flag) + " must not be empty"};
  if (access(path.c_str(), R_OK) != 0) {
    return Error{"--" + std::string(flag) + " " + path + ": " + std::strerror(errno)};
  }
  return Ok{};
}

}  // namespace

CommandFlags serve_flags(Config& config) {
  CommandFlags flags;
  flags.reserve(flag_table().size());
  for (const auto& flag : flag_table()) {
    const std::string name = flag.name;
    // pflag's --name and Go flag's -name alike.
    std::vector<std::string> names = {"--" + name, "-" + name};
    if (name.find('_') != std::string::npos) {
      // klog spells some flags with '-' in newer releases.
      std::string dashed = name;
      std::replace(dashed.begin(), dashed.end(), '_', '-');
      names.push_back("--" + dashed);
      names.push_back("-" + dashed);
    }
    flags.push_back({std::move(names), flag.kind != Kind::kBool, true,
                     [&config, &flag](std::string_view value) -> Status {
                       if (auto done = flag.target.set(config, value); !done) return done;
                       config.given.emplace_back(flag.name);
                       return Ok{};
                     },
                     name == "v"});
  }
  return flags;
}

Result<Config> parse_flags(const std::vector<std::string>& args, const CommandFlags& own,
                           CommandLine* own_values) {
  Config config;
  CommandFlags flags = own;
  auto serve = serve_flags(config);
  flags.insert(flags.end(), std::make_move_iterator(serve.begin()),
               std::make_move_iterator(serve.end()));
  auto line = parse_command_line(args, flags);
  if (!line) return Error{line.error()};
  if (own_values) *own_values = std::move(*line);
  // As AWS's webhook: a default lifetime under 10 minutes is raised to 10 minutes.
  config.identity.token_expiration =
      std::max(config.identity.token_expiration, identity::kMinTokenExpiration);
  return config;
}

Status validate_mutation_config(const Config& config) {
  const auto& m = config.mutation;
  const auto& id = config.identity;
  if (!is_dns_subdomain(m.annotation_prefix)) {
    return Error{"--annotation-prefix must be a DNS subdomain such as eks.amazonaws.com, got \"" +
                 m.annotation_prefix + "\""};
  }
  if (id.audience.empty() || has_control_or_space(id.audience)) {
    return Error{"--token-audience must be a non-empty audience without spaces"};
  }
  if (id.container_credentials_audience.empty() ||
      has_control_or_space(id.container_credentials_audience)) {
    return Error{"--container-credentials-audience must be a non-empty audience without spaces"};
  }
  if (id.token_expiration > identity::kMaxTokenExpiration) {
    return Error{"--token-expiration " + std::to_string(id.token_expiration) +
                 " is longer than Kubernetes allows (4294967296 s)"};
  }
  if (auto ok = check_absolute_path("token-mount-path", m.token_mount_path); !ok) return ok;
  if (auto ok = check_absolute_path("container-credentials-token-mount-path",
                                    m.container_credentials_token_mount_path);
      !ok) {
    return ok;
  }
  if (!is_dns_label(m.container_credentials_token_volume_name)) {
    return Error{
        "--container-credentials-token-volume-name must be a DNS label (lowercase letters, "
        "digits, '-'), got \"" +
        m.container_credentials_token_volume_name + "\""};
  }
  const auto& token_path = m.container_credentials_token_path;
  if (token_path.empty() || token_path.front() == '/' || has_control_or_space(token_path) ||
      token_path == ".." || token_path.rfind("../", 0) == 0 ||
      token_path.find("/../") != std::string::npos) {
    return Error{
        "--container-credentials-token-path must be a relative path inside the volume, got \"" +
        token_path + "\""};
  }
  if (m.container_credentials_full_uri.empty() ||
      has_control_or_space(m.container_credentials_full_uri)) {
    return Error{"--container-credentials-full-uri must be a URI without spaces"};
  }
  if (has_control_or_space(m.region) || !std::all_of(m.region.begin(), m.region.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
      })) {
    return Error{"--aws-default-region must be a region name such as us-east-1, got \"" + m.region +
                 "\""};
  }
  return Ok{};
}

// The smallest --max-response-bytes: a denial with its 4 KiB message, or a
// usual patch with 4 KB of warnings, fits many times over.
constexpr std::size_t kMinResponseBytes = 16 * 1024;

Status validate_config(const Config& config) {
  if (auto ok = validate_mutation_config(config); !ok) return ok;
  const auto& s = config.serve;
  if (s.server.port < 0 || s.server.port > 65535) {
    return Error{"--port must be between 1 and 65535 (0 picks a free port), got " +
                 std::to_string(s.server.port)};
  }
  if (s.metrics_port < 0 || s.metrics_port > 65535) {
    return Error{"--metrics-port must be between 0 and 65535, got " +
                 std::to_string(s.metrics_port)};
  }
  if (s.metrics_port != 0 && s.metrics_port == s.server.port) {
    return Error{"--metrics-port and --port are both " + std::to_string(s.server.port) +
                 ": the metrics port is plain HTTP and needs a port of its own (or 0 for none)"};
  }
  if (s.server.max_request_bytes < 1024) {
    return Error{"--max-request-bytes must be at least 1024, got " +
                 std::to_string(s.server.max_request_bytes)};
  }
  if (s.max_response_bytes < kMinResponseBytes) {
    return Error{"--max-response-bytes must be at least " + std::to_string(kMinResponseBytes) +
                 " (room for a usual patch and 4 KB of warnings), got " +
                 std::to_string(s.max_response_bytes) + "; the default is " +
                 std::to_string(admission::kDefaultMaxResponseBytes)};
  }
  if (s.service_account_lookup_grace_seconds < 0) {
    return Error{"--service-account-lookup-grace-period must not be negative"};
  }
  if (auto tls = server::check_tls_settings({s.server.tls.min_version, s.server.tls.cipher_suites});
      !tls) {
    return Error{"--tls-min-version/--tls-cipher-suites: " + tls.error()};
  }
  for (auto [flag, timeout] : {std::pair{"read-timeout", s.server.read_timeout},
                               std::pair{"write-timeout", s.server.write_timeout},
                               std::pair{"idle-timeout", s.server.idle_timeout}}) {
    if (timeout < std::chrono::milliseconds(1)) {
      return Error{std::string("--") + flag + " must be at least 1ms"};
    }
  }
  if (s.shutdown_grace_seconds < 0 || s.shutdown_delay_seconds < 0) {
    return Error{"--shutdown-grace and --shutdown-delay must not be negative"};
  }
  if (s.shutdown_delay_seconds > s.shutdown_grace_seconds) {
    return Error{"--shutdown-delay must not be longer than --shutdown-grace"};
  }
  if (s.server.worker_threads < 0) return Error{"--worker-threads must not be negative"};
  if (s.server.io_threads < 0 || s.server.io_threads > 256) {
    return Error{"--io-threads must be from 0 (one per core) to 256, got " +
                 std::to_string(s.server.io_threads)};
  }
  if (s.server.max_bytes_in_flight < s.server.max_request_bytes) {
    return Error{"--max-bytes-in-flight (" + std::to_string(s.server.max_bytes_in_flight) +
                 ") must be at least --max-request-bytes (" +
                 std::to_string(s.server.max_request_bytes) +
                 "), or a body of the largest accepted size could never be read"};
  }
  if (s.watch_config_map && !s.service_accounts_file.empty()) {
    return Error{
        "--watch-config-map reads the ConfigMap from the API server; it cannot be used "
        "with --service-accounts-file"};
  }
  if (s.report_missed_pods_interval_seconds < 0 ||
      (s.report_missed_pods_interval_seconds > 0 && s.report_missed_pods_interval_seconds < 1)) {
    return Error{
        "--report-missed-pods-interval must be 0 (off) or at least 1s (5m or more in a "
        "large cluster: each sweep lists every Pod), got " +
        show_seconds(s.report_missed_pods_interval_seconds)};
  }
  if (s.report_missed_pods_interval_seconds > 0 && !s.service_accounts_file.empty()) {
    return Error{
        "--report-missed-pods-interval lists Pods from the API server and checks them against "
        "the ServiceAccounts read from it; it cannot be used with --service-accounts-file"};
  }
  if (auto ok = check_readable("tls-cert", s.server.tls_cert_file); !ok) return ok;
  if (auto ok = check_readable("tls-key", s.server.tls_key_file); !ok) return ok;
  if (!s.service_accounts_file.empty()) {
    if (auto ok = check_readable("service-accounts-file", s.service_accounts_file); !ok) return ok;
  }
  if (!s.watch_container_credentials_config.empty()) {
    if (auto ok = check_readable("watch-container-credentials-config",
                                 s.watch_container_credentials_config);
        !ok) {
      return ok;
    }
  }
  return Ok{};
}

std::string commands_text() {
  return "Usage: irsa-webhook [serve] [flags]            serve the webhook over HTTPS (flags "
         "below)\n"
         "       irsa-webhook mutate [flags]             print the patch the webhook would make "
         "for "
         "a Pod file\n"
         "       irsa-webhook audit [flags]              list static AWS credentials in manifests, "
         "or audit the running cluster (--from-cluster)\n"
         "       irsa-webhook issuer documents [flags]   write a self-managed cluster's OIDC "
         "discovery document and JWKS\n"
         "       irsa-webhook trust-policy [flags]       write a role's trust policy for "
         "ServiceAccounts\n"
         "       irsa-webhook explain [flags]            say why STS would accept or refuse a "
         "token\n"
         "       irsa-webhook help [COMMAND]             this text, or one command's usage\n";
}

std::string usage_text() {
  std::string text = commands_text() +
                     "\nServe flags (AWS's amazon-eks-pod-identity-webhook names; --name value or "
                     "--name=value; mutate and audit take them too):\n";
  std::vector<std::pair<std::string, const Flag*>> lines;
  std::size_t width = 0;
  for (const auto& flag : flag_table()) {
    std::string line =
        std::string(flag.name) == "v" ? "  -v, --v" : "  --" + std::string(flag.name);
    switch (flag.kind) {
      case Kind::kString:
        line += " string";
        break;
      case Kind::kInt:
        line += " int";
        break;
      case Kind::kSize:
        line += " bytes";
        break;
      case Kind::kDuration:
        line += " duration";
        break;
      case Kind::kBool:
        break;
    }
    width = std::max(width, line.size());
    lines.emplace_back(std::move(line), &flag);
  }
  const Config defaults;
  for (auto& [line, flag] : lines) {
    line.resize(width, ' ');
    text += line + "  " + help_of(*flag, defaults) + "\n";
  }
  return text;
}

const char* version() { return IRSA_VERSION; }
const char* git_revision() { return IRSA_REVISION; }

std::string version_string() {
  return std::string("irsa-webhook ") + version() + " (" + git_revision() + ")";
}

std::vector<std::pair<std::string, std::string>> flag_values(const Config& config) {
  std::vector<std::pair<std::string, std::string>> values;
  for (const auto& flag : flag_table()) {
    if (flag.target.show) values.emplace_back(flag.name, flag.target.show(config));
  }
  return values;
}

}  // namespace irsa::cli
