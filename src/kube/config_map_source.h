// --watch-config-map: the pod-identity-webhook ConfigMap in --namespace,
// watched through the API server; its `config` key (AWS's JSON format) becomes
// the resolver's role mapping. A bad new config keeps the last good one.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "identity/role_mapping.h"
#include "kube/api_client.h"
#include "kube/reflector.h"

namespace irsa::kube {

struct ConfigMapSourceOptions {
  std::string namespace_name = "eks";
  std::string name = "pod-identity-webhook";
  std::string key = "config";
  // Paging, timeouts and backoff; the rest is filled in by the source.
  ReflectorOptions reflector;
};

class ConfigMapSource : private ReflectorHandler {
 public:
  // Receives each new mapping (nullptr when the ConfigMap or its key is gone),
  // on the source's thread.
  using Sink = std::function<void(std::shared_ptr<const identity::RoleMapping>)>;

  ConfigMapSource(std::shared_ptr<const ApiClient> client, ConfigMapSourceOptions options,
                  Sink sink);
  ~ConfigMapSource() override;

  void start() { reflector_.start(); }
  void stop() { reflector_.stop(); }
  bool has_synced() const { return reflector_.has_synced(); }
  bool wait_for_sync(std::chrono::milliseconds timeout) const {
    return reflector_.wait_for_sync(timeout);
  }
  Reflector::Stats stats() const { return reflector_.stats(); }

 private:
  void list_begin() override;
  void list_item(const ObjectMeta& meta, std::string_view object_json) override;
  void list_end() override;
  void event(EventType type, const ObjectMeta& meta, std::string_view object_json) override;
  void apply(std::string_view object_json);
  void clear(const char* why);

  ConfigMapSourceOptions options_;
  Sink sink_;
  bool seen_in_list_ = false;
  bool have_mapping_ = false;
  Reflector reflector_;  // last: stopped before the members it uses go
};

}  // namespace irsa::kube
