// Flags -> ServiceAccount, ConfigMap and container-credentials sources.
#include "cli/sources.h"

#include <chrono>
#include <ctime>
#include <optional>
#include <utility>

#include "common/utc_time.h"
#include "files/read.h"
#include "files/watcher.h"
#include "identity/container_credentials.h"
#include "identity/service_accounts_file.h"
#include "kube/api_client.h"
#include "kube/config_map_source.h"
#include "kube/rest_config.h"
#include "kube/service_account_lookup.h"
#include "kube/service_account_source.h"
#include "log/log.h"
#include "server/tls_context.h"

namespace irsa::cli {
namespace {

class StartedSources final : public Sources {
 public:
  ~StartedSources() override { stop(); }

  bool ready() const override {
    if (service_accounts && !service_accounts->has_synced()) return false;
    if (config_map && !config_map->has_synced()) return false;
    return true;
  }

  admission::UnknownServiceAccounts unknown_service_accounts() override {
    admission::UnknownServiceAccounts policy;
    policy.deny = deny_unknown;
    if (lookup && grace.count() > 0) {
      policy.lookup = [source = lookup.get(), wait = grace](std::string_view namespace_name,
                                                            std::string_view name) {
        auto outcome = source->await(namespace_name, name, std::chrono::steady_clock::now() + wait);
        return outcome.settings;
      };
    }
    return policy;
  }

  std::map<std::string, std::uint64_t> watch_restarts() const override {
    std::map<std::string, std::uint64_t> restarts;
    auto restarts_of = [](const kube::Reflector::Stats& stats) -> std::uint64_t {
      return stats.lists > 1 ? stats.lists - 1 : 0;
    };
    if (service_accounts) restarts["serviceaccounts"] = restarts_of(service_accounts->stats());
    if (config_map) restarts["configmaps"] = restarts_of(config_map->stats());
    return restarts;
  }

  std::shared_ptr<const kube::ApiClient> api_client() const override { return client; }

  void stop() override {
    if (container_credentials) container_credentials->stop();
    if (config_map) config_map->stop();
    if (lookup) lookup->stop();
    if (service_accounts) service_accounts->stop();
  }

  bool deny_unknown = false;
  std::chrono::steady_clock::duration grace{};
  std::shared_ptr<const kube::ApiClient> client;
  std::unique_ptr<kube::ServiceAccountSource> service_accounts;
  std::unique_ptr<kube::ServiceAccountLookup> lookup;
  std::unique_ptr<kube::ConfigMapSource> config_map;
  std::unique_ptr<files::FileWatcher> container_credentials;
};

// The API server's configuration, in client-go's order: --kubeconfig (with
// --kube-api overriding its server), --kube-api alone, in-cluster.
Result<kube::RestConfig> rest_config(const ServeConfig& serve) {
  if (!serve.kubeconfig.empty()) return kube::load_kubeconfig(serve.kubeconfig, serve.kube_api);
  if (!serve.kube_api.empty()) return kube::server_only_config(serve.kube_api);
  if (kube::in_cluster_available()) return kube::in_cluster_config();
  return Error{
      "no ServiceAccount source: pass --kubeconfig or --kube-api, run in a cluster "
      "(KUBERNETES_SERVICE_HOST), or pass --service-accounts-file"};
}

Status check_serving_certificate(const Config& config, int64_t now) {
  const ServeConfig& serve = config.serve;
  auto pair = server::CertifiedKey::load(serve.server.tls_cert_file, serve.server.tls_key_file);
  if (!pair) return Error{pair.error()};
  if ((*pair)->not_after() <= now) {
    return Error{"--tls-cert " + serve.server.tls_cert_file + ": the certificate expired at " +
                 utc_seconds((*pair)->not_after()) +
                 "; the API server will refuse it: renew it (cert-manager, or "
                 "certs/gen-dev-certs.sh --force)"};
  }
  if (config.was_given("service-name") && config.was_given("namespace")) {
    const std::string host = serve.service_name + "." + serve.namespace_name + ".svc";
    if (!(*pair)->names_host(host)) {
      return Error{"--tls-cert " + serve.server.tls_cert_file + ": the certificate does not name " +
                   host + " (the name the API server calls for --service-name " +
                   serve.service_name + " --namespace " + serve.namespace_name +
                   "); issue it with that DNS name, or correct the flags"};
    }
  }
  return Ok{};
}

}  // namespace

Result<Preflight> preflight(const Config& config, int64_t now) {
  const ServeConfig& serve = config.serve;
  Preflight checked;
  if (auto ok = check_serving_certificate(config, now); !ok) return Error{ok.error()};
  if (!serve.service_accounts_file.empty()) {
    auto records = identity::load_service_accounts(serve.service_accounts_file,
                                                   config.mutation.annotation_prefix);
    if (!records) return Error{records.error()};
    checked.service_accounts = std::move(*records);
  } else {
    auto rest = rest_config(serve);
    if (!rest) return Error{rest.error()};
    if (auto ok = kube::check_credentials(*rest); !ok) return Error{ok.error()};
  }
  if (!serve.watch_container_credentials_config.empty()) {
    const std::string& path = serve.watch_container_credentials_config;
    auto text = files::read_file(path);
    if (!text) return Error{text.error()};
    auto parsed = identity::parse_container_credentials_config(*text);
    if (!parsed) return Error{path + ": " + parsed.error()};
  }
  return checked;
}

Result<std::unique_ptr<Sources>> start_sources(const Config& config, Preflight checked,
                                               identity::ServiceAccountRegistry& registry,
                                               identity::IdentityResolver& resolver) {
  const ServeConfig& serve = config.serve;
  auto sources = std::make_unique<StartedSources>();
  sources->deny_unknown = serve.unknown_service_account_deny;
  sources->grace = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(serve.service_account_lookup_grace_seconds));

  if (!serve.service_accounts_file.empty()) {
    if (!checked.service_accounts) {
      auto records = identity::load_service_accounts(serve.service_accounts_file,
                                                     config.mutation.annotation_prefix);
      if (!records) return Error{records.error()};
      checked.service_accounts = std::move(*records);
    }
    const std::size_t loaded = checked.service_accounts->size();
    registry.replace_all(*checked.service_accounts);
    log::info("service accounts loaded",
              {{"file", serve.service_accounts_file}, {"count", std::to_string(loaded)}});
  } else {
    auto rest = rest_config(serve);
    if (!rest) return Error{rest.error()};
    auto client = kube::ApiClient::create(std::move(*rest));
    if (!client) return Error{client.error()};
    sources->client = *client;
    log::info(
        "reading ServiceAccounts from the API server",
        {{"server", sources->client->describe()}, {"config", sources->client->config().origin}});

    kube::ServiceAccountSourceOptions source_options;
    source_options.annotation_prefix = config.mutation.annotation_prefix;
    sources->service_accounts =
        std::make_unique<kube::ServiceAccountSource>(sources->client, registry, source_options);
    sources->service_accounts->start();

    kube::ServiceAccountLookupOptions lookup_options;
    lookup_options.annotation_prefix = config.mutation.annotation_prefix;
    sources->lookup =
        std::make_unique<kube::ServiceAccountLookup>(sources->client, registry, lookup_options);
    sources->lookup->start();

    if (serve.watch_config_map) {
      kube::ConfigMapSourceOptions map_options;
      map_options.namespace_name = serve.namespace_name;
      sources->config_map = std::make_unique<kube::ConfigMapSource>(
          sources->client, map_options,
          [&resolver](std::shared_ptr<const identity::RoleMapping> mapping) {
            resolver.set_role_mapping(std::move(mapping));
          });
      sources->config_map->start();
    }
  }

  if (!serve.watch_container_credentials_config.empty()) {
    files::FileWatcherOptions options;
    options.description = "container-credentials config";
    sources->container_credentials = std::make_unique<files::FileWatcher>(
        serve.watch_container_credentials_config,
        [&resolver,
         path = serve.watch_container_credentials_config](const std::string& text) -> Status {
          auto parsed = identity::parse_container_credentials_config(text);
          if (!parsed) return Error{path + ": " + parsed.error()};
          log::info("container credentials config loaded",
                    {{"file", path}, {"identities", std::to_string(parsed->size())}});
          resolver.set_container_credentials(
              std::make_shared<const identity::ContainerCredentialsConfig>(std::move(*parsed)));
          return Ok{};
        },
        options);
    if (auto started = sources->container_credentials->start(); !started) {
      return Error{started.error()};
    }
  }
  return std::unique_ptr<Sources>(std::move(sources));
}

}  // namespace irsa::cli
