// The ConfigMap's `config` → identity::RoleMapping.
#include "kube/config_map_source.h"

#include <nlohmann/json.hpp>

#include "log/log.h"

namespace irsa::kube {

ConfigMapSource::ConfigMapSource(std::shared_ptr<const ApiClient> client,
                                 ConfigMapSourceOptions options, Sink sink)
    : options_(std::move(options)),
      sink_(std::move(sink)),
      reflector_(
          std::move(client),
          [this] {
            ReflectorOptions reflector = options_.reflector;
            reflector.description = "configmap " + options_.namespace_name + "/" + options_.name;
            reflector.collection_path =
                "/api/v1/namespaces/" + url_encode(options_.namespace_name) + "/configmaps";
            reflector.field_selector = "metadata.name=" + options_.name;
            reflector.metadata_only = false;  // the data is what matters
            reflector.annotation_prefix.clear();
            return reflector;
          }(),
          *this) {}

ConfigMapSource::~ConfigMapSource() { reflector_.stop(); }

void ConfigMapSource::list_begin() { seen_in_list_ = false; }

void ConfigMapSource::list_item(const ObjectMeta& meta, std::string_view object_json) {
  if (meta.name != options_.name) return;
  seen_in_list_ = true;
  apply(object_json);
}

void ConfigMapSource::list_end() {
  if (!seen_in_list_) clear("the ConfigMap does not exist");
}

void ConfigMapSource::event(EventType type, const ObjectMeta& meta, std::string_view object_json) {
  if (meta.name != options_.name) return;
  if (type == EventType::kDeleted) {
    clear("the ConfigMap was deleted");
    return;
  }
  apply(object_json);
}

void ConfigMapSource::clear(const char* why) {
  if (have_mapping_) log::info("role mapping cleared", {{"reason", why}});
  have_mapping_ = false;
  sink_(nullptr);
}

void ConfigMapSource::apply(std::string_view object_json) {
  const std::string where = options_.namespace_name + "/" + options_.name;
  std::string config_text;
  try {
    auto object = nlohmann::json::parse(object_json);
    auto data = object.find("data");
    if (data != object.end() && data->is_object()) {
      auto value = data->find(options_.key);
      if (value != data->end() && value->is_string()) config_text = value->get<std::string>();
    }
  } catch (const nlohmann::json::exception& e) {
    log::warning("ConfigMap unreadable; keeping the last good role mapping",
                 {{"configMap", where}, {"error", e.what()}});
    return;
  }
  auto parsed = identity::parse_role_mapping(config_text);
  if (!parsed) {
    log::warning("ConfigMap config rejected; keeping the last good role mapping",
                 {{"configMap", where}, {"error", parsed.error()}});
    return;
  }
  for (const auto& problem : parsed->problems) {
    log::warning("ConfigMap config entry ignored", {{"configMap", where}, {"problem", problem}});
  }
  log::info("role mapping loaded",
            {{"configMap", where}, {"entries", std::to_string(parsed->mapping.size())}});
  have_mapping_ = true;
  sink_(std::make_shared<const identity::RoleMapping>(std::move(parsed->mapping)));
}

}  // namespace irsa::kube
