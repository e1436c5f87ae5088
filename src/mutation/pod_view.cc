// Reads the Pod fields the webhook acts on out of a simdjson DOM, checking
// each JSON type on the way so a malformed Pod is refused, not guessed at.
#include "mutation/pod_view.h"

#include <array>
#include <optional>
#include <string>

#include "common/quote.h"

namespace irsa::mutation {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// Where a value is in the Pod, for error messages: "spec.containers[2]"
// or "spec.containers[0] (app).env[3]". The text is built only when an error
// needs it, so reading a well-formed Pod allocates none of it. A location may
// extend a parent, which must outlive it.
class Location {
 public:
  Location(const char* text) : base_(text) {}         // NOLINT: a plain location
  Location(const std::string& text) : base_(text) {}  // NOLINT: a plain location
  Location(std::string_view base, std::string_view member, std::size_t index)
      : base_(base), member_(member), index_(index), indexed_(true) {}
  // `*parent` followed by `member` and "[index]".
  Location(const Location* parent, std::string_view member, std::size_t index)
      : parent_(parent), member_(member), index_(index), indexed_(true) {}
  // `inner` followed by " (name)": a container named by its name.
  static Location named(const Location& inner, std::string_view name) {
    Location out("");
    out.parent_ = &inner;
    out.name_ = name;
    out.named_ = true;
    return out;
  }

  std::string str() const {
    std::string out = parent_ ? parent_->str() : std::string();
    out += base_;
    if (indexed_) {
      out += member_;
      out += '[';
      out += std::to_string(index_);
      out += ']';
    }
    if (named_) {
      out += " (";
      out += name_or_quote(name_);
      out += ')';
    }
    return out;
  }
  std::string operator+(std::string_view more) const { return str() + std::string(more); }

 private:
  const Location* parent_ = nullptr;
  std::string_view base_;
  std::string_view member_;
  std::size_t index_ = 0;
  bool indexed_ = false;
  std::string_view name_;
  bool named_ = false;
};

// The values of `keys` in `obj`, read in one pass over its members rather
// than one at_key scan per key. As with at_key, the first of duplicate keys
// counts; a null value is absent, as in the optional_* readers below.
template <std::size_t N>
std::array<std::optional<element>, N> members(object obj,
                                              const std::array<std::string_view, N>& keys) {
  std::array<std::optional<element>, N> values;
  std::array<bool, N> seen{};
  for (auto field : obj) {
    for (std::size_t i = 0; i < N; ++i) {
      if (seen[i] || field.key != keys[i]) continue;
      seen[i] = true;
      if (!field.value.is_null()) values[i] = field.value;
      break;
    }
  }
  return values;
}

// A member found by members() as a string or an array: nullopt
// when absent, an error when it has another type.
Result<std::optional<std::string_view>> string_member(const std::optional<element>& value,
                                                      std::string_view key, const Location& where) {
  if (!value) return std::optional<std::string_view>{};
  std::string_view text;
  if (value->get(text) != simdjson::SUCCESS) {
    return Error{where.str() + "." + std::string(key) + " must be a string"};
  }
  return std::optional<std::string_view>{text};
}

Result<std::optional<array>> array_member(const std::optional<element>& value, std::string_view key,
                                          const Location& where) {
  if (!value) return std::optional<array>{};
  array result;
  if (value->get(result) != simdjson::SUCCESS) {
    return Error{where.str() + "." + std::string(key) + " must be an array"};
  }
  return std::optional<array>{result};
}

// Reads `obj[key]` as a string: nullopt when absent or null, an error when it
// has another type.
Result<std::optional<std::string_view>> optional_string(object obj, std::string_view key,
                                                        const Location& where) {
  element value;
  if (obj.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
    return std::optional<std::string_view>{};
  }
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS) {
    return Error{where.str() + "." + std::string(key) + " must be a string"};
  }
  return std::optional<std::string_view>{text};
}

// Reads `obj[key]` as an object; an empty object when absent or null.
Result<std::optional<object>> optional_object(object obj, std::string_view key,
                                              const Location& where) {
  element value;
  if (obj.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
    return std::optional<object>{};
  }
  object result;
  if (value.get(result) != simdjson::SUCCESS) {
    return Error{where.str() + "." + std::string(key) + " must be an object"};
  }
  return std::optional<object>{result};
}

// Reads `obj[key]` as an array; nullopt when absent or null.
Result<std::optional<array>> optional_array(object obj, std::string_view key,
                                            const Location& where) {
  element value;
  if (obj.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
    return std::optional<array>{};
  }
  array result;
  if (value.get(result) != simdjson::SUCCESS) {
    return Error{where.str() + "." + std::string(key) + " must be an array"};
  }
  return std::optional<array>{result};
}

// An object whose values are all strings (labels, annotations, nodeSelector).
Status check_string_map(object map, std::string_view where) {
  for (auto field : map) {
    if (!field.value.is_string()) {
      return Error{std::string(where) + "[" + quote(field.key) + "] must be a string"};
    }
  }
  return Ok{};
}

Result<ContainerView> read_container(element item, const Location& where) {
  object container;
  if (item.get(container) != simdjson::SUCCESS) {
    return Error{where + " must be an object"};
  }
  ContainerView view;
  view.raw = item;
  static constexpr std::array<std::string_view, 4> kContainerKeys = {"name", "env", "envFrom",
                                                                     "volumeMounts"};
  auto fields = members(container, kContainerKeys);
  auto name = string_member(fields[0], "name", where);
  if (!name) return Error{name.error()};
  if (!name->has_value() || name->value().empty()) {
    return Error{where + " has no name"};
  }
  view.name = **name;

  const Location here = Location::named(where, view.name);
  auto env = array_member(fields[1], "env", here);
  if (!env) return Error{env.error()};
  if (env->has_value()) {
    view.has_env = true;
    view.env.reserve((*env)->size());
    std::size_t index = 0;
    for (element entry : **env) {
      Location entry_where(&here, ".env", index++);
      object env_var;
      if (entry.get(env_var) != simdjson::SUCCESS) {
        return Error{entry_where + " must be an object"};
      }
      static constexpr std::array<std::string_view, 3> kEnvKeys = {"name", "value", "valueFrom"};
      auto env_fields = members(env_var, kEnvKeys);
      auto env_name = string_member(env_fields[0], "name", entry_where);
      if (!env_name) return Error{env_name.error()};
      if (!env_name->has_value()) return Error{entry_where + " has no name"};
      auto env_value = string_member(env_fields[1], "value", entry_where);
      if (!env_value) return Error{env_value.error()};
      view.env.push_back({**env_name, env_value->value_or(""), env_fields[2].has_value()});
    }
  }

  auto env_from = array_member(fields[2], "envFrom", here);
  if (!env_from) return Error{env_from.error()};
  if (env_from->has_value()) {
    std::size_t index = 0;
    for (element entry : **env_from) {
      Location entry_where(&here, ".envFrom", index++);
      object source;
      if (entry.get(source) != simdjson::SUCCESS) return Error{entry_where + " must be an object"};
      EnvFromView from;
      for (auto [key, target] : {std::pair{"secretRef", &from.secret_name},
                                 std::pair{"configMapRef", &from.config_map_name}}) {
        auto ref = optional_object(source, key, entry_where);
        if (!ref) return Error{ref.error()};
        if (!ref->has_value()) continue;
        auto ref_name = optional_string(**ref, "name", entry_where + "." + key);
        if (!ref_name) return Error{ref_name.error()};
        *target = ref_name->value_or("");
      }
      view.env_from.push_back(from);
    }
  }

  auto mounts = array_member(fields[3], "volumeMounts", here);
  if (!mounts) return Error{mounts.error()};
  if (mounts->has_value()) {
    view.has_volume_mounts = true;
    view.volume_mounts.reserve((*mounts)->size());
    std::size_t index = 0;
    for (element entry : **mounts) {
      Location entry_where(&here, ".volumeMounts", index++);
      object mount;
      if (entry.get(mount) != simdjson::SUCCESS) {
        return Error{entry_where + " must be an object"};
      }
      static constexpr std::array<std::string_view, 3> kMountKeys = {"name", "mountPath",
                                                                     "subPath"};
      auto mount_fields = members(mount, kMountKeys);
      auto mount_name = string_member(mount_fields[0], "name", entry_where);
      if (!mount_name) return Error{mount_name.error()};
      auto mount_path = string_member(mount_fields[1], "mountPath", entry_where);
      if (!mount_path) return Error{mount_path.error()};
      auto sub_path = string_member(mount_fields[2], "subPath", entry_where);
      if (!sub_path) return Error{sub_path.error()};
      view.volume_mounts.push_back(
          {mount_name->value_or(""), mount_path->value_or(""), sub_path->value_or("")});
    }
  }
  return view;
}

Status read_containers(object spec, std::string_view key, bool required,
                       std::vector<ContainerView>& out) {
  auto list = optional_array(spec, key, "spec");
  if (!list) return Error{list.error()};
  if (!list->has_value()) {
    if (required) return Error{"spec." + std::string(key) + " is missing"};
    return Ok{};
  }
  out.reserve((*list)->size());
  std::size_t index = 0;
  for (element item : **list) {
    auto container = read_container(item, Location("spec.", key, index++));
    if (!container) return Error{container.error()};
    out.push_back(std::move(*container));
  }
  return Ok{};
}

// What a volume exposes, as far as static credentials are concerned.
Result<VolumeView> read_volume_source(object volume, const Location& where) {
  VolumeView view;
  auto secret = optional_object(volume, "secret", where);
  if (!secret) return Error{secret.error()};
  if (secret->has_value()) {
    view.source = VolumeSource::kSecret;
    auto secret_name = optional_string(**secret, "secretName", where + ".secret");
    if (!secret_name) return Error{secret_name.error()};
    view.secret_names.push_back(secret_name->value_or(""));
    return view;
  }
  auto projected = optional_object(volume, "projected", where);
  if (!projected) return Error{projected.error()};
  if (!projected->has_value()) return view;
  view.source = VolumeSource::kProjected;
  auto sources = optional_array(**projected, "sources", where + ".projected");
  if (!sources) return Error{sources.error()};
  if (!sources->has_value()) return view;
  for (element item : **sources) {
    object source;
    if (item.get(source) != simdjson::SUCCESS) {
      return Error{where + ".projected.sources[] must be objects"};
    }
    auto projected_secret = optional_object(source, "secret", where + ".projected.sources[]");
    if (!projected_secret) return Error{projected_secret.error()};
    if (!projected_secret->has_value()) continue;
    auto secret_name =
        optional_string(**projected_secret, "name", where + ".projected.sources[].secret");
    if (!secret_name) return Error{secret_name.error()};
    view.secret_names.push_back(secret_name->value_or(""));
  }
  return view;
}

std::optional<std::string_view> string_in(object map, std::string_view key) {
  std::string_view value;
  if (map.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

}  // namespace

bool ContainerView::has_env_named(std::string_view env_name) const {
  for (const auto& entry : env) {
    if (entry.name == env_name) return true;
  }
  return false;
}

bool ContainerView::has_mount_named(std::string_view mount_name) const {
  for (const auto& mount : volume_mounts) {
    if (mount.name == mount_name) return true;
  }
  return false;
}

std::optional<std::string_view> PodView::annotation(std::string_view key) const {
  return string_in(annotations, key);
}

std::optional<std::string_view> PodView::label(std::string_view key) const {
  if (!has_labels) return std::nullopt;
  return string_in(labels, key);
}

std::optional<std::string_view> PodView::node_selector_value(std::string_view key) const {
  return string_in(node_selector, key);
}

const EnvVarView* ContainerView::env_named(std::string_view env_name) const {
  for (const auto& entry : env) {
    if (entry.name == env_name) return &entry;
  }
  return nullptr;
}

bool PodView::has_volume_named(std::string_view volume_name) const {
  return volume_named(volume_name) != nullptr;
}

const VolumeView* PodView::volume_named(std::string_view volume_name) const {
  // A mount or volume without a name (the API server refuses both, but only
  // after admission) refers to nothing, not to every other unnamed one.
  if (volume_name.empty()) return nullptr;
  for (const auto& volume : volumes) {
    if (volume.name == volume_name) return &volume;
  }
  return nullptr;
}

Result<PodView> read_pod(simdjson::dom::element pod) {
  object root;
  if (pod.get(root) != simdjson::SUCCESS) return Error{"the object is not a JSON object"};
  PodView view;

  auto kind = optional_string(root, "kind", "object");
  if (!kind) return Error{kind.error()};
  if (kind->has_value() && **kind != "Pod") {
    return Error{"the object is a " + name_or_quote(**kind) + ", not a Pod"};
  }

  // An empty object stands in for a missing map, so lookups need no checks.
  static const simdjson::dom::element kEmptyObject = [] {
    static simdjson::dom::parser parser;
    return parser.parse(std::string_view("{}")).value();
  }();
  object empty = kEmptyObject.get_object().value();
  view.annotations = empty;
  view.node_selector = empty;
  view.labels = empty;

  auto metadata = optional_object(root, "metadata", "object");
  if (!metadata) return Error{metadata.error()};
  if (metadata->has_value()) {
    object meta = **metadata;
    view.has_metadata = true;
    for (auto [key, target] :
         {std::pair{"name", &view.name}, std::pair{"generateName", &view.generate_name},
          std::pair{"namespace", &view.namespace_name}}) {
      auto value = optional_string(meta, key, "metadata");
      if (!value) return Error{value.error()};
      *target = value->value_or("");
    }
    auto labels = optional_object(meta, "labels", "metadata");
    if (!labels) return Error{labels.error()};
    if (labels->has_value()) {
      if (auto ok = check_string_map(**labels, "metadata.labels"); !ok) return Error{ok.error()};
      view.has_labels = true;
      view.labels = **labels;
    }
    auto annotations = optional_object(meta, "annotations", "metadata");
    if (!annotations) return Error{annotations.error()};
    if (annotations->has_value()) {
      if (auto ok = check_string_map(**annotations, "metadata.annotations"); !ok) {
        return Error{ok.error()};
      }
      view.annotations = **annotations;
    }
  }

  auto spec_field = optional_object(root, "spec", "object");
  if (!spec_field) return Error{spec_field.error()};
  if (!spec_field->has_value()) return Error{"the Pod has no spec"};
  object spec = **spec_field;

  auto service_account = optional_string(spec, "serviceAccountName", "spec");
  if (!service_account) return Error{service_account.error()};
  view.service_account_name = service_account->value_or("");
  if (view.service_account_name.empty()) {
    // The deprecated alias, then the API server's default.
    auto alias = optional_string(spec, "serviceAccount", "spec");
    if (!alias) return Error{alias.error()};
    view.service_account_name = alias->value_or("");
  }
  if (view.service_account_name.empty()) view.service_account_name = "default";

  auto node_selector = optional_object(spec, "nodeSelector", "spec");
  if (!node_selector) return Error{node_selector.error()};
  if (node_selector->has_value()) {
    if (auto ok = check_string_map(**node_selector, "spec.nodeSelector"); !ok) {
      return Error{ok.error()};
    }
    view.node_selector = **node_selector;
  }

  if (auto ok = read_containers(spec, "containers", true, view.containers); !ok) {
    return Error{ok.error()};
  }
  if (auto ok = read_containers(spec, "initContainers", false, view.init_containers); !ok) {
    return Error{ok.error()};
  }

  auto volumes = optional_array(spec, "volumes", "spec");
  if (!volumes) return Error{volumes.error()};
  if (volumes->has_value()) {
    view.has_volumes = true;
    std::size_t index = 0;
    for (element item : **volumes) {
      Location where("spec.volumes", "", index++);
      object volume;
      if (item.get(volume) != simdjson::SUCCESS) return Error{where + " must be an object"};
      auto name = optional_string(volume, "name", where);
      if (!name) return Error{name.error()};
      auto read = read_volume_source(volume, where);
      if (!read) return Error{read.error()};
      VolumeView entry = std::move(*read);
      entry.name = name->value_or("");
      entry.raw = item;
      view.volumes.push_back(std::move(entry));
    }
  }
  return view;
}

}  // namespace irsa::mutation
