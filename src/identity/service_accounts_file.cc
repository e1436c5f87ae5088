// ServiceAccount manifests → registry records.
#include "identity/service_accounts_file.h"

#include <map>
#include <unordered_map>
#include <utility>

#include "common/quote.h"
#include "log/log.h"
#include "manifest/documents.h"

namespace irsa::identity {
namespace {

using nlohmann::json;

// "FILE: document 2 (kind Pod): message". Documents count from 1, after Lists
// are flattened.
Error document_error(std::string_view origin, std::size_t index, const json& document,
                     std::string_view message) {
  std::string out(origin);
  out += ": document ";
  out += std::to_string(index + 1);
  if (document.is_object()) {
    auto kind = document.find("kind");
    if (kind != document.end() && kind->is_string()) {
      out += " (kind ";
      out += name_or_quote(kind->get_ref<const std::string&>());
      out += ")";
    }
  }
  out += ": ";
  out += message;
  return Error{std::move(out)};
}

// A string member of `object`; nullptr when absent or null. `ok` turns false
// when present but not a string.
const std::string* string_member(const json& object, const char* name, bool& ok) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  if (!it->is_string()) {
    ok = false;
    return nullptr;
  }
  return &it->get_ref<const std::string&>();
}

}  // namespace

Result<std::vector<ServiceAccountRecord>> service_accounts_from_documents(
    const std::vector<json>& docs, std::string_view annotation_prefix, std::string_view origin) {
  std::vector<ServiceAccountRecord> records;
  records.reserve(docs.size());
  std::unordered_map<std::string, std::size_t> position;  // "ns/name" → index in records
  position.reserve(docs.size());

  for (std::size_t index = 0; index < docs.size(); ++index) {
    const json& document = docs[index];
    if (!document.is_object()) {
      return document_error(
          origin, index, document,
          std::string("expected a ServiceAccount object, found a ") + document.type_name());
    }
    auto kind = document.find("kind");
    if (kind == document.end() || !kind->is_string()) {
      return document_error(origin, index, document, "no kind; expected kind ServiceAccount");
    }
    if (*kind != "ServiceAccount") {
      return document_error(origin, index, document, "expected kind ServiceAccount");
    }
    auto metadata = document.find("metadata");
    if (metadata == document.end() || !metadata->is_object()) {
      return document_error(origin, index, document, "no metadata");
    }
    bool ok = true;
    const std::string* name = string_member(*metadata, "name", ok);
    if (!ok || !name || name->empty()) {
      return document_error(origin, index, document, "metadata.name must be a non-empty string");
    }
    const std::string* namespace_name = string_member(*metadata, "namespace", ok);
    if (!ok) return document_error(origin, index, document, "metadata.namespace must be a string");

    std::map<std::string, std::string, std::less<>> annotations;
    auto annotations_json = metadata->find("annotations");
    if (annotations_json != metadata->end() && !annotations_json->is_null()) {
      if (!annotations_json->is_object()) {
        return document_error(origin, index, document, "metadata.annotations must be a map");
      }
      for (const auto& [key, value] : annotations_json->items()) {
        if (!value.is_string()) {
          return document_error(origin, index, document,
                                "annotation " + name_or_quote(key, 253) +
                                    " must be a string, found a " + value.type_name() +
                                    " (quote it)");
        }
        annotations.emplace(key, value.get<std::string>());
      }
    }

    ServiceAccountRecord record;
    record.namespace_name =
        namespace_name && !namespace_name->empty() ? *namespace_name : "default";
    record.name = *name;
    record.settings = parse_service_account_annotations(annotations, annotation_prefix);

    std::string key = record.namespace_name + "/" + record.name;
    auto [it, inserted] = position.try_emplace(key, records.size());
    if (inserted) {
      records.push_back(std::move(record));
    } else {
      log::warning("ServiceAccount appears twice; the later one wins",
                   {{"origin", origin}, {"serviceAccount", key}});
      records[it->second] = std::move(record);
    }
  }
  return records;
}

Result<std::vector<ServiceAccountRecord>> load_service_accounts(
    const std::string& path, std::string_view annotation_prefix) {
  auto docs = manifest::read_documents(path);
  if (!docs) return Error{docs.error()};
  return service_accounts_from_documents(*docs, annotation_prefix, path);
}

}  // namespace irsa::identity
