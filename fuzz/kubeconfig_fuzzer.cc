// kubeconfig files (--kubeconfig) as kube::load_kubeconfig reads them, with
// the server URL and base64 parsers it uses.
//
// load_kubeconfig takes a path, so the input is written to a private
// temporary folder (which also holds a token file and an empty file that
// relative references can name). Run the fuzzer with stdin at /dev/null: a
// kubeconfig may name any file, /dev/stdin included, as kubectl allows.
//
// Properties: an error names the kubeconfig; a loaded config has a usable server
// (https/http, a host, a port in range) and a client certificate exactly when
// it has a key; parse_server_url is stable (its origin parses back to the
// same server); a proxy URL's user info never shows in an error; a proxy
// only with https and without tls-server-name; decode_base64 inverts
// standard base64.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "admission/review.h"
#include "fuzz_support.h"
#include "kube/rest_config.h"

namespace {

using irsa::fuzz::excerpt;

struct Sandbox {
  std::filesystem::path dir;
  std::string kubeconfig;
};

void remove_sandbox();

const Sandbox& sandbox() {
  static Sandbox* instance = [] {
    auto* s = new Sandbox;
    std::string pattern = (std::filesystem::temp_directory_path() / "kubeconfig-fuzz-XXXXXX");
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    s->dir = pattern;
    s->kubeconfig = (s->dir / "config").string();
    std::ofstream(s->dir / "token") << "token-from-file\n";
    std::ofstream(s->dir / "empty") << "";
    std::atexit(remove_sandbox);
    return s;
  }();
  return *instance;
}

void remove_sandbox() {
  std::error_code ignored;
  std::filesystem::remove_all(sandbox().dir, ignored);
}

void check_server_url(std::string_view text) {
  auto url = irsa::kube::parse_server_url(text);
  if (!url) return;
  FUZZ_CHECK(url->scheme == "https" || url->scheme == "http", url->scheme);
  FUZZ_CHECK(!url->host.empty(), excerpt(text));
  FUZZ_CHECK(url->port >= 1 && url->port <= 65535, std::to_string(url->port));
  FUZZ_CHECK(
      url->base_path.empty() || (url->base_path.front() == '/' && url->base_path.back() != '/'),
      url->base_path);
  // Hosts with '/' '?' '#' '@' or brackets would make origin() ambiguous.
  if (url->host.find_first_of("/?#@[]") != std::string::npos) return;
  auto again = irsa::kube::parse_server_url(url->origin() + url->base_path);
  FUZZ_CHECK(again.ok(), url->origin() + ": " + again.error());
  FUZZ_CHECK(again->scheme == url->scheme && again->host == url->host && again->port == url->port &&
                 again->base_path == url->base_path,
             "origin() does not parse back: " + url->origin());
}

// A proxy URL's user info (it may hold a password) never shows in an error:
// the error is the same with the user info swapped for another one (a valid
// one, "u", unless the error is that the user info is not valid). Comparing
// errors rather than searching one for the user info: an escape the error
// writes ("\x0a") can run into the text after it and spell the user info.
void check_proxy_url(std::string_view text) {
  auto proxy = irsa::kube::parse_proxy_url(text);
  std::string_view rest = text;
  if (auto scheme_end = rest.find("://"); scheme_end != std::string_view::npos)
    rest.remove_prefix(scheme_end + 3);
  std::string_view authority = rest.substr(0, rest.find('/'));
  auto at = authority.rfind('@');
  if (proxy) {
    FUZZ_CHECK(!proxy->host.empty() && proxy->port >= 1 && proxy->port <= 65535, excerpt(text));
    FUZZ_CHECK(proxy->username.empty() == (at == std::string_view::npos), excerpt(text));
    return;
  }
  FUZZ_CHECK(irsa::fuzz::one_line(proxy.error()), proxy.error());
  if (at == std::string_view::npos) return;
  const std::string invalid = "proxy-url: the user info is not a percent-encoded user[:password]";
  if (proxy.error() == invalid) return;
  std::size_t authority_start = text.size() - rest.size();
  std::string swapped = std::string(text.substr(0, authority_start)) + "u" +
                        std::string(text.substr(authority_start + at));
  auto other = irsa::kube::parse_proxy_url(swapped);
  FUZZ_CHECK(!other && other.error() == proxy.error(),
             "proxy-url error depends on the user info: " + proxy.error() + " / " +
                 (other ? std::string("accepted") : other.error()));
}

void check_base64(std::string_view text) {
  auto decoded = irsa::kube::decode_base64(text);
  if (!decoded) return;
  std::string encoded = irsa::admission::base64_encode(*decoded);
  auto again = irsa::kube::decode_base64(encoded);
  FUZZ_CHECK(again.ok() && *again == *decoded, "base64 round trip: " + excerpt(encoded));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = irsa::fuzz::as_text(data, size);
  const Sandbox& box = sandbox();
  {
    std::ofstream out(box.kubeconfig, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    FUZZ_CHECK(out.good(), "cannot write " + box.kubeconfig);
  }
  auto config = irsa::kube::load_kubeconfig(box.kubeconfig);
  if (!config) {
    FUZZ_CHECK(config.error().rfind("kubeconfig", 0) == 0, config.error());
    FUZZ_CHECK(irsa::fuzz::one_line(config.error()), config.error());
  } else {
    FUZZ_CHECK(!config->server.host.empty(), config->origin);
    FUZZ_CHECK(config->server.port >= 1 && config->server.port <= 65535, config->origin);
    FUZZ_CHECK(config->client_certificate_pem.empty() == config->client_key_pem.empty(),
               config->origin);
    // A proxy tunnels TLS; tls-server-name needs TLS and no proxy.
    if (!config->proxy.host.empty())
      FUZZ_CHECK(config->server.scheme == "https" && config->tls_server_name.empty(),
                 config->origin);
    if (!config->tls_server_name.empty())
      FUZZ_CHECK(config->server.scheme == "https", config->origin);
  }
  // The same bytes as a server URL (--kube-api) and as a *-data field.
  if (size <= 4096) {
    check_server_url(text);
    check_proxy_url(text);
    check_base64(text);
  }
  return 0;
}
