// Where the Kubernetes API server is and how to authenticate to it: from a
// kubeconfig file (--kubeconfig, --kube-api) or from the Pod's own
// ServiceAccount (in-cluster), as client-go reads them.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace irsa::kube {

// A server URL split into its parts: https://host:port/base-path.
struct ServerUrl {
  std::string scheme;  // "https" or "http"
  std::string host;    // a name or an IP address; IPv6 without brackets
  int port = 443;
  std::string base_path;  // "" or "/prefix" without a trailing '/'

  // "https://host:port" (IPv6 in brackets), no base path.
  std::string origin() const;
};

// Parses "https://host[:port][/path]" or "http://..."; a bare "host:port" is
// https, as client-go reads it. The error says what is wrong.
Result<ServerUrl> parse_server_url(std::string_view text);

// An HTTP proxy that connections to the API server tunnel through with
// CONNECT (kubeconfig proxy-url), with optional basic-auth credentials.
struct ProxyConfig {
  std::string host;  // IPv6 without brackets; empty: no proxy
  int port = 80;
  std::string username;
  std::string password;
};

// Parses a kubeconfig proxy-url: "http://[user[:password]@]host[:port][/]".
// https:// and socks5:// proxies are refused with a message that says so;
// user and password are percent-decoded and never quoted in an error.
Result<ProxyConfig> parse_proxy_url(std::string_view text);

struct RestConfig {
  ServerUrl server;
  // The name the server's certificate must carry and the TLS SNI, when it is
  // not server.host (kubeconfig tls-server-name); "" otherwise. The
  // connection still goes to server.host, resolved when a connection opens.
  std::string tls_server_name;
  ProxyConfig proxy;
  // PEM certificates that sign the server's certificate; empty: the system's
  // trust store.
  std::string certificate_authority_pem;
  bool insecure_skip_tls_verify = false;
  // A fixed bearer token, and/or a file holding one that is re-read when it
  // changes (bound ServiceAccount tokens rotate); the file wins, as in client-go.
  std::string bearer_token;
  std::string bearer_token_file;
  // PEM client certificate (chain) and private key, both or neither.
  std::string client_certificate_pem;
  std::string client_key_pem;
  // For messages: "kubeconfig /path (context ctx)" or "in-cluster".
  std::string origin;
};

// Reads a kubeconfig's current context: cluster server, certificate-authority
// (-data), insecure-skip-tls-verify, tls-server-name, proxy-url; user token, tokenFile,
// client-certificate (-data), client-key (-data). Relative file paths are
// relative to the kubeconfig's folder. `server_override` (--kube-api), when
// non-empty, replaces the cluster's server. Users with exec or auth-provider
// (and basic auth) are refused with a message that says what to use instead.
// Certificates and keys are checked here, so that a broken kubeconfig fails
// at start with a clear error.
Result<RestConfig> load_kubeconfig(const std::string& path, std::string_view server_override = {});

// Where in-cluster configuration comes from; the defaults are the real ones.
struct InClusterSource {
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Reads an environment variable; nullopt when unset.
  std::function<std::optional<std::string>(const char*)> getenv;
};

// True when KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are set.
bool in_cluster_available(const InClusterSource& source = {});

// The API server from KUBERNETES_SERVICE_HOST/PORT, the ServiceAccount's
// token file (re-read on rotation, never cached for the process lifetime) and
// its ca.crt.
Result<RestConfig> in_cluster_config(const InClusterSource& source = {});

// --kube-api alone: that server, no credentials, the system's trust store.
Result<RestConfig> server_only_config(std::string_view server);

// Checks that the PEM texts in `config` parse (CA bundle, client certificate
// and key, and that the key matches the certificate).
Status check_credentials(const RestConfig& config);

// Decodes standard base64 (kubeconfig *-data fields); whitespace is ignored.
Result<std::string> decode_base64(std::string_view text);

}  // namespace irsa::kube
