// kubeconfig and in-cluster configuration, read as client-go reads them.
#include "kube/rest_config.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/openssl.h"
#include "common/quote.h"
#include "files/read.h"
#include "manifest/documents.h"

namespace irsa::kube {
namespace {

// A name or value from the kubeconfig in an error message: quoted, one line.
std::string named(std::string_view text) { return quote(text, 128); }

using nlohmann::json;

openssl::Bio memory_bio(const std::string& text) {
  return openssl::memory_bio(text.data(), text.size());
}

// Counts the certificates in a PEM text; 0 when there is none or one is broken.
int count_certificates(const std::string& pem) {
  auto bio = memory_bio(pem);
  if (!bio) return 0;
  int count = 0;
  for (int i = 0; i < 10000; ++i) {
    openssl::Certificate cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    ++count;
  }
  ERR_clear_error();
  return count;
}

std::string absolute_to(const std::filesystem::path& base_dir, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_absolute() || path.empty()) return path;
  return (base_dir / p).lexically_normal().string();
}

const json* member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// A string field; "" when absent. `ok` turns false on a non-string.
std::string string_field(const json& object, const char* name, bool& ok) {
  const json* value = member(object, name);
  if (!value) return {};
  if (!value->is_string()) {
    ok = false;
    return {};
  }
  return value->get<std::string>();
}

// The entry called `name` in a kubeconfig list such as "clusters", and its
// inner object (under `inner`, e.g. "cluster").
Result<json> named_entry(const json& config, const char* list, const char* inner,
                         const std::string& name) {
  const json* entries = member(config, list);
  if (entries && !entries->is_array()) return Error{std::string(list) + " must be a list"};
  if (entries) {
    for (const auto& entry : *entries) {
      if (!entry.is_object()) continue;
      auto entry_name = entry.find("name");
      if (entry_name == entry.end() || !entry_name->is_string() || *entry_name != name) continue;
      const json* body = member(entry, inner);
      if (!body) return json::object();
      if (!body->is_object())
        return Error{std::string(list) + " " + named(name) + ": " + inner + " must be a map"};
      return *body;
    }
  }
  return Error{"no " + std::string(inner) + " named " + named(name) + " in " + list};
}

// Reads a PEM either inline (base64 *-data) or from a file.
Result<std::string> pem_from(const json& object, const char* data_field, const char* file_field,
                             const std::filesystem::path& base_dir, std::string_view what) {
  bool ok = true;
  std::string data = string_field(object, data_field, ok);
  std::string file = string_field(object, file_field, ok);
  if (!ok)
    return Error{std::string(what) + ": " + data_field + " and " + file_field + " must be strings"};
  if (!data.empty()) {
    auto decoded = decode_base64(data);
    if (!decoded) return Error{std::string(what) + ": " + data_field + " is not valid base64"};
    return std::move(*decoded);
  }
  if (!file.empty()) {
    auto text = files::read_file(absolute_to(base_dir, file));
    if (!text) return Error{std::string(what) + ": " + text.error()};
    return std::move(*text);
  }
  return std::string();
}

}  // namespace

std::string ServerUrl::origin() const {
  std::string out = scheme;
  out += "://";
  const bool ipv6 = host.find(':') != std::string::npos;
  if (ipv6) out += '[';
  out += host;
  if (ipv6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

Result<ServerUrl> parse_server_url(std::string_view text) {
  auto fail = [&](std::string_view why) {
    return Error{"server URL " + quote(text, 256) + ": " + std::string(why)};
  };
  ServerUrl url;
  std::string_view rest = text;
  if (auto scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
    url.scheme = std::string(rest.substr(0, scheme_end));
    rest.remove_prefix(scheme_end + 3);
  } else {
    url.scheme = "https";
  }
  if (url.scheme != "https" && url.scheme != "http")
    return fail("the scheme must be https or http");
  url.port = url.scheme == "https" ? 443 : 80;
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path = rest.substr(authority.size());
  if (authority.find('@') != std::string_view::npos) return fail("user info is not supported");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed '[' in the host");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after the IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      url.host = std::string(authority.substr(0, colon));
      port_text = authority.substr(colon + 1);
    } else {
      url.host = std::string(authority);
    }
  }
  if (url.host.empty()) return fail("no host");
  if (!port_text.empty() || authority.back() == ':') {
    if (port_text.empty() || port_text.size() > 5) return fail("bad port");
    int port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return fail("bad port");
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return fail("port out of range");
    url.port = port;
  }
  if (path.find_first_of("?#") != std::string_view::npos)
    return fail("no query or fragment allowed");
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.base_path = std::string(path);
  return url;
}

namespace {

// %XX escapes of a URL's user info; nullopt on a broken escape.
std::optional<std::string> percent_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0) return std::nullopt;
    out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
    i += 2;
  }
  return out;
}

}  // namespace

Result<ProxyConfig> parse_proxy_url(std::string_view text) {
  std::string_view rest = text;
  std::string_view scheme = "http";
  if (auto scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
    scheme = rest.substr(0, scheme_end);
    rest.remove_prefix(scheme_end + 3);
  }
  // The user info, if any, never appears in a message: it may hold a password.
  ProxyConfig proxy;
  std::string_view authority = rest.substr(0, rest.find('/'));
  bool has_user_info = false;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    has_user_info = true;
    std::string_view user_info = authority.substr(0, at);
    std::string_view user = user_info.substr(0, user_info.find(':'));
    std::string_view password =
        user.size() < user_info.size() ? user_info.substr(user.size() + 1) : std::string_view();
    auto decoded_user = percent_decode(user);
    auto decoded_password = percent_decode(password);
    if (!decoded_user || !decoded_password || decoded_user->empty())
      return Error{"proxy-url: the user info is not a percent-encoded user[:password]"};
    proxy.username = std::move(*decoded_user);
    proxy.password = std::move(*decoded_password);
    rest.remove_prefix(at + 1);
  }
  const std::string shown =
      has_user_info ? "(with user info, not shown) " + quote(rest, 256) : quote(text, 256);
  if (scheme == "https")
    return Error{"proxy-url " + shown +
                 ": an https:// proxy (TLS to the proxy) is not supported; use an http:// proxy, "
                 "which tunnels the TLS connection to the API server with CONNECT"};
  if (scheme != "http")
    return Error{"proxy-url " + shown + ": the scheme must be http (" + quote(scheme, 32) +
                 " proxies are not supported)"};
  auto url = parse_server_url("http://" + std::string(rest));
  if (!url) return Error{"proxy-url " + shown + ": " + url.error()};
  if (!url->base_path.empty()) return Error{"proxy-url " + shown + ": a proxy URL has no path"};
  proxy.host = std::move(url->host);
  proxy.port = url->port;
  return proxy;
}

Result<std::string> decode_base64(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  int padding = 0;
  int symbols = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      ++symbols;
      continue;
    }
    if (padding > 0) return Error{"base64: data after padding"};
    int value = value_of(c);
    if (value < 0) return Error{"base64: invalid character"};
    ++symbols;
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  if (padding > 2 || (padding > 0 && symbols % 4 != 0) || symbols % 4 == 1) {
    return Error{"base64: bad length or padding"};
  }
  return out;
}

Status check_credentials(const RestConfig& config) {
  if (!config.certificate_authority_pem.empty() &&
      count_certificates(config.certificate_authority_pem) == 0) {
    return Error{config.origin + ": the certificate authority is not a PEM certificate"};
  }
  if (config.client_certificate_pem.empty() != config.client_key_pem.empty()) {
    return Error{config.origin + ": a client certificate needs its key and a key its certificate"};
  }
  if (!config.client_certificate_pem.empty()) {
    auto cert_bio = memory_bio(config.client_certificate_pem);
    openssl::Certificate cert(
        cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
    auto key_bio = memory_bio(config.client_key_pem);
    openssl::Key key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                             : nullptr);
    ERR_clear_error();
    if (!cert) return Error{config.origin + ": the client certificate is not a PEM certificate"};
    if (!key)
      return Error{config.origin + ": the client key is not an unencrypted PEM private key"};
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
      ERR_clear_error();
      return Error{config.origin + ": the client key does not match the client certificate"};
    }
  }
  return Ok{};
}

namespace {

Result<RestConfig> read_kubeconfig(const std::string& path, std::string_view server_override) {
  auto prefix = [&path](const std::string& message) {
    return Error{"kubeconfig " + path + ": " + message};
  };
  auto docs = manifest::read_documents(path);
  if (!docs) return Error{"kubeconfig: " + docs.error()};
  if (docs->size() != 1 || !(*docs)[0].is_object()) return prefix("expected one YAML or JSON map");
  const json& config = (*docs)[0];
  const std::filesystem::path base_dir =
      std::filesystem::absolute(std::filesystem::path(path)).parent_path();

  bool ok = true;
  std::string context_name = string_field(config, "current-context", ok);
  if (!ok) return prefix("current-context must be a string");
  if (context_name.empty())
    return prefix("no current-context; set one with kubectl config use-context");
  auto context = named_entry(config, "contexts", "context", context_name);
  if (!context) return prefix(context.error());
  std::string cluster_name = string_field(*context, "cluster", ok);
  std::string user_name = string_field(*context, "user", ok);
  if (!ok) return prefix("context " + named(context_name) + ": cluster and user must be strings");
  if (cluster_name.empty()) return prefix("context " + named(context_name) + " names no cluster");

  RestConfig rest;
  rest.origin = "kubeconfig " + path + " (context " + one_line(context_name) + ")";

  auto cluster = named_entry(config, "clusters", "cluster", cluster_name);
  if (!cluster) return prefix(cluster.error());
  std::string server = string_field(*cluster, "server", ok);
  if (!ok) return prefix("cluster " + named(cluster_name) + ": server must be a string");
  if (!server_override.empty()) server = std::string(server_override);
  if (server.empty())
    return prefix("cluster " + named(cluster_name) + " has no server (or pass --kube-api)");
  auto url = parse_server_url(server);
  if (!url) return prefix(url.error());
  rest.server = std::move(*url);
  if (const json* insecure = member(*cluster, "insecure-skip-tls-verify")) {
    if (!insecure->is_boolean()) return prefix("insecure-skip-tls-verify must be true or false");
    rest.insecure_skip_tls_verify = insecure->get<bool>();
  }
  rest.tls_server_name = string_field(*cluster, "tls-server-name", ok);
  std::string proxy_url = string_field(*cluster, "proxy-url", ok);
  if (!ok)
    return prefix("cluster " + named(cluster_name) +
                  ": tls-server-name and proxy-url must be strings");
  if (!rest.tls_server_name.empty()) {
    if (rest.server.scheme != "https")
      return prefix("cluster " + named(cluster_name) + ": tls-server-name needs an https server");
    if (rest.tls_server_name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") !=
        std::string::npos)
      return prefix("cluster " + named(cluster_name) + ": tls-server-name " +
                    named(rest.tls_server_name) + " is not a DNS name");
  }
  if (!proxy_url.empty()) {
    auto proxy = parse_proxy_url(proxy_url);
    if (!proxy) return prefix("cluster " + named(cluster_name) + ": " + proxy.error());
    if (rest.server.scheme != "https")
      return prefix("cluster " + named(cluster_name) +
                    ": proxy-url needs an https server (the proxy tunnels TLS with CONNECT)");
    if (!rest.tls_server_name.empty())
      return prefix("cluster " + named(cluster_name) +
                    ": tls-server-name together with proxy-url is not supported");
    rest.proxy = std::move(*proxy);
  }
  auto ca = pem_from(*cluster, "certificate-authority-data", "certificate-authority", base_dir,
                     "cluster " + named(cluster_name));
  if (!ca) return prefix(ca.error());
  rest.certificate_authority_pem = std::move(*ca);

  if (!user_name.empty()) {
    auto user = named_entry(config, "users", "user", user_name);
    if (!user) return prefix(user.error());
    const std::string who = "user " + named(user_name);
    if (const json* exec = member(*user, "exec")) {
      std::string command = exec->is_object() ? string_field(*exec, "command", ok) : "";
      return prefix(who + " authenticates with exec" +
                    (command.empty() ? std::string() : " (command " + named(command) + ")") +
                    ", which irsa-webhook does not run; use a kubeconfig with token, tokenFile or "
                    "client-certificate/client-key (for example a ServiceAccount token)");
    }
    if (const json* provider = member(*user, "auth-provider")) {
      std::string name = provider->is_object() ? string_field(*provider, "name", ok) : "";
      return prefix(who + " authenticates with auth-provider" +
                    (name.empty() ? std::string() : " " + named(name)) +
                    ", which irsa-webhook does not support; use token, tokenFile or "
                    "client-certificate/client-key");
    }
    if (member(*user, "username") || member(*user, "password")) {
      return prefix(who +
                    " uses basic auth, which irsa-webhook does not support; use token, "
                    "tokenFile or client-certificate/client-key");
    }
    rest.bearer_token = string_field(*user, "token", ok);
    std::string token_file = string_field(*user, "tokenFile", ok);
    if (!ok) return prefix(who + ": token and tokenFile must be strings");
    if (!token_file.empty()) {
      rest.bearer_token_file = absolute_to(base_dir, token_file);
      auto token = files::read_file(rest.bearer_token_file);
      if (!token) return prefix(who + ": tokenFile: " + token.error());
    }
    auto cert = pem_from(*user, "client-certificate-data", "client-certificate", base_dir, who);
    if (!cert) return prefix(cert.error());
    auto key = pem_from(*user, "client-key-data", "client-key", base_dir, who);
    if (!key) return prefix(key.error());
    rest.client_certificate_pem = std::move(*cert);
    rest.client_key_pem = std::move(*key);
  }
  if (auto checked = check_credentials(rest); !checked) return Error{checked.error()};
  return rest;
}

}  // namespace

Result<RestConfig> load_kubeconfig(const std::string& path, std::string_view server_override) {
  auto config = read_kubeconfig(path, server_override);
  if (!config) return Error{one_line(config.error())};
  return config;
}

bool in_cluster_available(const InClusterSource& source) {
  auto get = source.getenv ? source.getenv : [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (!value) return std::nullopt;
    return std::string(value);
  };
  auto host = get("KUBERNETES_SERVICE_HOST");
  auto port = get("KUBERNETES_SERVICE_PORT");
  return host && !host->empty() && port && !port->empty();
}

Result<RestConfig> in_cluster_config(const InClusterSource& source) {
  auto get = source.getenv ? source.getenv : [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (!value) return std::nullopt;
    return std::string(value);
  };
  auto host = get("KUBERNETES_SERVICE_HOST");
  auto port = get("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Error{
        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set "
        "(outside a cluster, pass --kubeconfig)"};
  }
  std::string authority = host->find(':') != std::string::npos ? "[" + *host + "]" : *host;
  auto url = parse_server_url("https://" + authority + ":" + *port);
  if (!url) return Error{"in-cluster: " + url.error()};
  RestConfig rest;
  rest.origin = "in-cluster";
  rest.server = std::move(*url);
  rest.bearer_token_file = source.service_account_dir + "/token";
  auto token = files::read_file(rest.bearer_token_file);
  if (!token) return Error{"in-cluster: " + token.error()};
  auto ca = files::read_file(source.service_account_dir + "/ca.crt");
  if (!ca) return Error{"in-cluster: " + ca.error()};
  rest.certificate_authority_pem = std::move(*ca);
  if (auto checked = check_credentials(rest); !checked) return Error{checked.error()};
  return rest;
}

Result<RestConfig> server_only_config(std::string_view server) {
  auto url = parse_server_url(server);
  if (!url) return Error{"--kube-api: " + url.error()};
  RestConfig rest;
  rest.origin = "--kube-api " + std::string(server);
  rest.server = std::move(*url);
  return rest;
}

}  // namespace irsa::kube
