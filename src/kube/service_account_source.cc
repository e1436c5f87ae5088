// ServiceAccount list+watch → registry upserts, removals and list sweeps.
#include "kube/service_account_source.h"

#include "log/log.h"

namespace irsa::kube {

ServiceAccountSource::ServiceAccountSource(std::shared_ptr<const ApiClient> client,
                                           identity::ServiceAccountRegistry& registry,
                                           ServiceAccountSourceOptions options)
    : registry_(registry),
      annotation_prefix_(options.annotation_prefix),
      reflector_(
          std::move(client),
          [&options] {
            ReflectorOptions reflector = options.reflector;
            reflector.description = "serviceaccounts";
            reflector.collection_path = "/api/v1/serviceaccounts";
            reflector.metadata_only = true;
            reflector.annotation_prefix = options.annotation_prefix;
            return reflector;
          }(),
          *this) {}

ServiceAccountSource::~ServiceAccountSource() { reflector_.stop(); }

void ServiceAccountSource::list_begin() { generation_ = registry_.begin_full_list(); }

void ServiceAccountSource::list_item(const ObjectMeta& meta, std::string_view) { upsert(meta); }

void ServiceAccountSource::list_end() {
  std::size_t removed = registry_.end_full_list(generation_);
  log::info("service accounts listed",
            {{"count", std::to_string(registry_.size())}, {"removed", std::to_string(removed)}});
}

void ServiceAccountSource::event(EventType type, const ObjectMeta& meta, std::string_view) {
  if (meta.name.empty()) return;
  if (type == EventType::kDeleted) {
    registry_.remove(meta.namespace_name, meta.name);
    log::debug(4, "service account deleted",
               {{"serviceAccount", meta.namespace_name + "/" + meta.name}});
    return;
  }
  upsert(meta);
  log::debug(4, "service account updated",
             {{"serviceAccount", meta.namespace_name + "/" + meta.name}});
}

void ServiceAccountSource::upsert(const ObjectMeta& meta) {
  if (meta.name.empty()) return;
  auto settings = identity::parse_service_account_annotations(meta.annotations, annotation_prefix_);
  for (const auto& problem : settings.problems) {
    log::warning("service account annotation ignored",
                 {{"serviceAccount", meta.namespace_name + "/" + meta.name}, {"problem", problem}});
  }
  registry_.upsert(meta.namespace_name, meta.name, settings);
}

}  // namespace irsa::kube
