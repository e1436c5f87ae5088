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

// Reads `obj[key]` as a 64-bit integer; nullopt when absent or null.
Result<std::optional<int64_t>> optional_int(object obj, std::string_view key,
                                            const Location& where) {
  element value;
  if (obj.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
    return std::optional<int64_t>{};
  }
  int64_t number = 0;
  if (value.get(number) != simdjson::SUCCESS) {
    return Error{where.str() + "." + std::string(key) + " must be an integer"};
  }
  return std::optional<int64_t>{number};
}

// Reads `obj[key]` as a boolean; nullopt when absent or null.
Result<std::optional<bool>> optional_bool(object obj, std::string_view key, const Location& where) {
  element value;
  if (obj.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
    return std::optional<bool>{};
  }
  bool flag = false;
  if (value.get(flag) != simdjson::SUCCESS) {
    return Error{where.str() + "." + std::string(key) + " must be true or false"};
  }
  return std::optional<bool>{flag};
}

// runAsUser and runAsNonRoot of a securityContext (Pod or container).
Status read_run_as(object context, const Location& where, std::optional<int64_t>& user,
                   std::optional<bool>& non_root) {
  auto run_as_user = optional_int(context, "runAsUser", where);
  if (!run_as_user) return Error{run_as_user.error()};
  user = *run_as_user;
  auto run_as_non_root = optional_bool(context, "runAsNonRoot", where);
  if (!run_as_non_root) return Error{run_as_non_root.error()};
  non_root = *run_as_non_root;
  return Ok{};
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
  static constexpr std::array<std::string_view, 5> kContainerKeys = {
      "name", "env", "envFrom", "volumeMounts", "securityContext"};
  auto fields = members(container, kContainerKeys);
  auto name = string_member(fields[0], "name", where);
  if (!name) return Error{name.error()};
  if (!name->has_value() || name->value().empty()) {
    return Error{where + " has no name"};
  }
  view.name = **name;

  const Location here = Location::named(where, view.name);
  if (fields[4]) {
    object context;
    if (fields[4]->get(context) != simdjson::SUCCESS) {
      return Error{here + ".securityContext must be an object"};
    }
    const std::string context_where = here + ".securityContext";
    if (auto ok = read_run_as(context, context_where, view.run_as_user, view.run_as_non_root);
        !ok) {
      return Error{ok.error()};
    }
  }
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
  // Read only to tell it apart (a hostPath at .aws shares the node's
  // credentials); a wrong type here is the API server's to refuse.
  if (object host_path; volume["hostPath"].get(host_path) == simdjson::SUCCESS) {
    view.source = VolumeSource::kHostPath;
    return view;
  }
  auto projected = optional_object(volume, "projected", where);
  if (!projected) return Error{projected.error()};
  if (!projected->has_value()) return view;
  view.source = VolumeSource::kProjected;
  auto default_mode = optional_int(**projected, "defaultMode", where + ".projected");
  if (!default_mode) return Error{default_mode.error()};
  view.default_mode = *default_mode;
  auto sources = optional_array(**projected, "sources", where + ".projected");
  if (!sources) return Error{sources.error()};
  if (!sources->has_value()) return view;
  for (element item : **sources) {
    object source;
    if (item.get(source) != simdjson::SUCCESS) {
      return Error{where + ".projected.sources[] must be objects"};
    }
    if (source["serviceAccountToken"].error() == simdjson::SUCCESS) {
      view.service_account_token = true;
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

// Whether the required node affinity pins the Pod to Windows nodes: every
// nodeSelectorTerm has a matchExpressions entry kubernetes.io/os (or the
// beta label) In with "windows" as its only value. A Pod that may also land
// on Linux nodes (a term without such an expression, "In [linux, windows]")
// keeps the Linux path, as preferred-only affinity does. Terms are ORed by
// the scheduler, expressions within a term ANDed.
Result<bool> read_windows_affinity(object spec) {
  auto affinity = optional_object(spec, "affinity", "spec");
  if (!affinity) return Error{affinity.error()};
  if (!affinity->has_value()) return false;
  auto node_affinity = optional_object(**affinity, "nodeAffinity", "spec.affinity");
  if (!node_affinity) return Error{node_affinity.error()};
  if (!node_affinity->has_value()) return false;
  const char* required_where = "spec.affinity.nodeAffinity";
  auto required = optional_object(**node_affinity, "requiredDuringSchedulingIgnoredDuringExecution",
                                  required_where);
  if (!required) return Error{required.error()};
  if (!required->has_value()) return false;
  auto terms = optional_array(**required, "nodeSelectorTerms",
                              "spec.affinity.nodeAffinity.requiredDuringScheduling"
                              "IgnoredDuringExecution");
  if (!terms) return Error{terms.error()};
  if (!terms->has_value() || (*terms)->size() == 0) return false;
  bool every_term = true;
  std::size_t index = 0;
  for (element item : **terms) {
    Location where("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
                   ".nodeSelectorTerms", index++);
    object term;
    if (item.get(term) != simdjson::SUCCESS) return Error{where + " must be an object"};
    auto expressions = optional_array(term, "matchExpressions", where);
    if (!expressions) return Error{expressions.error()};
    bool pinned = false;
    if (expressions->has_value()) {
      for (element entry : **expressions) {
        object expression;
        if (entry.get(expression) != simdjson::SUCCESS) {
          return Error{where + ".matchExpressions[] must be objects"};
        }
        auto key = optional_string(expression, "key", where + ".matchExpressions[]");
        if (!key) return Error{key.error()};
        auto op = optional_string(expression, "operator", where + ".matchExpressions[]");
        if (!op) return Error{op.error()};
        auto values = optional_array(expression, "values", where + ".matchExpressions[]");
        if (!values) return Error{values.error()};
        if (!key->has_value() ||
            (**key != "kubernetes.io/os" && **key != "beta.kubernetes.io/os") ||
            *op != std::optional<std::string_view>("In") || !values->has_value() ||
            (*values)->size() != 1) {
          continue;
        }
        std::string_view value;
        if ((*values)->at(0).get(value) == simdjson::SUCCESS && value == "windows") pinned = true;
      }
    }
    every_term = every_term && pinned;
  }
  return every_term;
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

  auto os = optional_object(spec, "os", "spec");
  if (!os) return Error{os.error()};
  if (os->has_value()) {
    auto os_name = optional_string(**os, "name", "spec.os");
    if (!os_name) return Error{os_name.error()};
    view.os_name = os_name->value_or("");
  }
  auto windows_affinity = read_windows_affinity(spec);
  if (!windows_affinity) return Error{windows_affinity.error()};
  view.node_affinity_requires_windows = *windows_affinity;
  auto security_context = optional_object(spec, "securityContext", "spec");
  if (!security_context) return Error{security_context.error()};
  if (security_context->has_value()) {
    view.has_security_context = true;
    auto fs_group = optional_int(**security_context, "fsGroup", "spec.securityContext");
    if (!fs_group) return Error{fs_group.error()};
    view.fs_group = *fs_group;
    if (auto ok = read_run_as(**security_context, "spec.securityContext", view.run_as_user,
                              view.run_as_non_root);
        !ok) {
      return Error{ok.error()};
    }
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
