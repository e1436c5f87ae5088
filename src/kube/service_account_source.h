// ServiceAccounts from the API server into the identity registry: a
// metadata-only list+watch of every namespace's ServiceAccounts, keeping only
// each one's key and its parsed annotations under the prefix.
#pragma once

#include <memory>
#include <string>

#include "identity/registry.h"
#include "kube/api_client.h"
#include "kube/reflector.h"

namespace irsa::kube {

struct ServiceAccountSourceOptions {
  std::string annotation_prefix = "eks.amazonaws.com";
  // collection_path, description, metadata_only and annotation_prefix are
  // filled in by the source; the rest (paging, timeouts, backoff) is used as is.
  ReflectorOptions reflector;
};

class ServiceAccountSource : private ReflectorHandler {
 public:
  // `client` and `registry` must outlive the source.
  ServiceAccountSource(std::shared_ptr<const ApiClient> client,
                       identity::ServiceAccountRegistry& registry,
                       ServiceAccountSourceOptions options);
  ~ServiceAccountSource() override;

  void start() { reflector_.start(); }
  void stop() { reflector_.stop(); }
  // True after the first full list: the readiness of the webhook.
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
  void upsert(const ObjectMeta& meta);

  identity::ServiceAccountRegistry& registry_;
  std::string annotation_prefix_;
  identity::ServiceAccountRegistry::Generation generation_ = 0;
  Reflector reflector_;  // last: stopped before the members it uses go
};

}  // namespace irsa::kube
