// The fake API server: an httplib server over a small in-memory store with an
// event history, rendering objects and events as kube-apiserver does.
#include "fake_apiserver.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

namespace irsa::fakes {
namespace {

enum class Kind { kServiceAccount, kConfigMap };

struct Object {
  Kind kind = Kind::kServiceAccount;
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::uint64_t resource_version = 0;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> data;
};

struct Event {
  std::string type;  // ADDED, MODIFIED, DELETED
  Object object;
};

// An object held as given: Pods, workloads, Secrets.
struct RawObject {
  std::string namespace_name;
  std::string name;
  std::map<std::string, std::string> labels;
  std::string item_json;      // as a list item: without kind and apiVersion
  std::string metadata_json;  // its metadata, for PartialObjectMetadata
};
using RawItems = std::vector<std::shared_ptr<const RawObject>>;

struct ResourceInfo {
  const char* resource;
  const char* kind;
  const char* group;  // "" for the core group
};
constexpr ResourceInfo kRawResources[] = {
    {"pods", "Pod", ""},
    {"secrets", "Secret", ""},
    {"deployments", "Deployment", "apps"},
    {"statefulsets", "StatefulSet", "apps"},
    {"daemonsets", "DaemonSet", "apps"},
    {"replicasets", "ReplicaSet", "apps"},
    {"jobs", "Job", "batch"},
    {"cronjobs", "CronJob", "batch"},
};

const ResourceInfo* resource_of_kind(const std::string& kind) {
  for (const auto& info : kRawResources) {
    if (kind == info.kind) return &info;
  }
  return nullptr;
}

const ResourceInfo* resource_named(const std::string& resource, const std::string& group) {
  for (const auto& info : kRawResources) {
    if (resource == info.resource && group == info.group) return &info;
  }
  return nullptr;
}

std::string api_version_of(const ResourceInfo& info) {
  return std::string(info.group).empty() ? "v1" : std::string(info.group) + "/v1";
}

// A label selector as kube-apiserver reads it: requirements joined by ','
// (not inside parentheses): key=value, key==value, key!=value,
// key in (a,b), key notin (a,b), key, !key.
struct Requirement {
  enum class Op { kEq, kNe, kIn, kNotIn, kExists, kNotExists };
  std::string key;
  Op op = Op::kExists;
  std::set<std::string> values;

  bool matches(const std::map<std::string, std::string>& labels) const {
    auto it = labels.find(key);
    switch (op) {
      case Op::kEq:
      case Op::kIn:
        return it != labels.end() && values.count(it->second) > 0;
      case Op::kNe:
      case Op::kNotIn:
        return it == labels.end() || values.count(it->second) == 0;
      case Op::kExists:
        return it != labels.end();
      case Op::kNotExists:
        return it == labels.end();
    }
    return false;
  }
};

std::string trimmed(const std::string& text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

bool parse_label_selector(const std::string& selector, std::vector<Requirement>& out,
                          std::string& error) {
  std::vector<std::string> terms;
  std::string current;
  int depth = 0;
  for (char c : selector) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      terms.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  terms.push_back(current);
  for (const auto& raw_term : terms) {
    std::string term = trimmed(raw_term);
    if (term.empty()) {
      if (selector.empty()) continue;
      error = "found '', expected: identifier";
      return false;
    }
    Requirement requirement;
    auto set_values = [&](std::size_t open) {
      auto close = term.rfind(')');
      if (open == std::string::npos || close == std::string::npos || close < open) return false;
      std::string inside = term.substr(open + 1, close - open - 1);
      std::size_t start = 0;
      while (start <= inside.size()) {
        auto end = inside.find(',', start);
        if (end == std::string::npos) end = inside.size();
        requirement.values.insert(trimmed(inside.substr(start, end - start)));
        start = end + 1;
      }
      return true;
    };
    std::size_t at;
    if (term[0] == '!') {
      requirement.op = Requirement::Op::kNotExists;
      requirement.key = trimmed(term.substr(1));
    } else if ((at = term.find(" notin ")) != std::string::npos) {
      requirement.op = Requirement::Op::kNotIn;
      requirement.key = trimmed(term.substr(0, at));
      if (!set_values(term.find('(', at))) {
        error = "unable to parse requirement: " + term;
        return false;
      }
    } else if ((at = term.find(" in ")) != std::string::npos) {
      requirement.op = Requirement::Op::kIn;
      requirement.key = trimmed(term.substr(0, at));
      if (!set_values(term.find('(', at))) {
        error = "unable to parse requirement: " + term;
        return false;
      }
    } else if ((at = term.find("!=")) != std::string::npos) {
      requirement.op = Requirement::Op::kNe;
      requirement.key = trimmed(term.substr(0, at));
      requirement.values.insert(trimmed(term.substr(at + 2)));
    } else if ((at = term.find("==")) != std::string::npos) {
      requirement.op = Requirement::Op::kEq;
      requirement.key = trimmed(term.substr(0, at));
      requirement.values.insert(trimmed(term.substr(at + 2)));
    } else if ((at = term.find('=')) != std::string::npos) {
      requirement.op = Requirement::Op::kEq;
      requirement.key = trimmed(term.substr(0, at));
      requirement.values.insert(trimmed(term.substr(at + 1)));
    } else {
      requirement.key = term;
    }
    if (requirement.key.empty() || requirement.key.find_first_of(" ()=!") != std::string::npos) {
      error = "unable to parse requirement: " + term;
      return false;
    }
    out.push_back(std::move(requirement));
  }
  return true;
}

// A list as it was when its first page was served; its continue token
// serves the rest of it.
struct Snapshot {
  std::string resource;  // "serviceaccounts", "pods", ...: a token serves only its own
  std::uint64_t resource_version = 0;
  std::size_t size = 0;
  // Appends item `index`: as a list item, or as PartialObjectMetadata.
  std::function<void(std::string& out, std::size_t index, bool metadata_only)> render;
  std::size_t offset = 0;  // the first item not served yet
};

// Which objects a request covers.
struct Selection {
  Kind kind = Kind::kServiceAccount;
  std::string namespace_name;   // "" for all namespaces
  std::string field_name;       // metadata.name=...
  std::string field_namespace;  // metadata.namespace=...

  bool matches(const Object& object) const {
    if (object.kind != kind) return false;
    if (!namespace_name.empty() && object.namespace_name != namespace_name) return false;
    if (!field_name.empty() && object.name != field_name) return false;
    if (!field_namespace.empty() && object.namespace_name != field_namespace) return false;
    return true;
  }
};

void append_escaped(std::string& out, const std::string& text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_map(std::string& out, const std::map<std::string, std::string>& values) {
  out += '{';
  bool first = true;
  for (const auto& [key, value] : values) {
    if (!first) out += ',';
    first = false;
    append_escaped(out, key);
    out += ':';
    append_escaped(out, value);
  }
  out += '}';
}

void append_object(std::string& out, const Object& object, bool metadata_only) {
  if (metadata_only) {
    out += R"({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":)";
  } else if (object.kind == Kind::kServiceAccount) {
    out += R"({"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":)";
  } else {
    out += R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":)";
  }
  append_escaped(out, object.name);
  out += R"(,"namespace":)";
  append_escaped(out, object.namespace_name);
  out += R"(,"uid":")" + object.uid + R"(","resourceVersion":")" +
         std::to_string(object.resource_version) +
         R"(","creationTimestamp":"2024-05-01T10:00:00Z")";
  if (!object.annotations.empty()) {
    out += R"(,"annotations":)";
    append_map(out, object.annotations);
  }
  out += '}';
  if (!metadata_only) {
    if (object.kind == Kind::kServiceAccount) {
      out += R"(,"secrets":[{"name":)";
      append_escaped(out, object.name + "-token-x7k2p");
      out += "}]";
    } else {
      out += R"(,"data":)";
      append_map(out, object.data);
    }
  }
  out += '}';
}

std::string status_json(int code, const std::string& reason, const std::string& message) {
  std::string out =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)";
  append_escaped(out, message);
  out += R"(,"reason":)";
  append_escaped(out, reason);
  out += R"(,"code":)" + std::to_string(code) + "}";
  return out;
}

std::string reason_for(int code) {
  switch (code) {
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 406:
      return "NotAcceptable";
    case 409:
      return "AlreadyExists";
    case 410:
      return "Expired";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}

std::string key_of(const std::string& namespace_name, const std::string& name) {
  return namespace_name + "/" + name;
}

std::uint64_t parse_rv(const std::string& text, bool& ok) {
  ok = !text.empty() && text.size() < 20 &&
       std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  return ok ? std::stoull(text) : 0;
}

}  // namespace

struct FakeApiServer::Impl {
  FakeApiServerOptions options;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, Object> service_accounts;
  std::map<std::string, Object> config_maps;
  std::uint64_t resource_version = 0;
  std::uint64_t compacted = 0;  // events at or below this are gone
  std::deque<Event> history;
  std::map<std::string, Snapshot> snapshots;
  std::uint64_t next_snapshot = 1;
  std::uint64_t uid_counter = 0;
  std::uint64_t drop_epoch = 0;
  std::uint64_t error_epoch = 0;
  std::string error_event;
  int fail_remaining = 0;
  int fail_status = 500;
  std::chrono::milliseconds delay{0};
  bool refuse_metadata = false;
  bool stall_watches = false;
  std::vector<std::string> tokens;
  std::map<std::string, std::map<std::string, std::shared_ptr<const RawObject>>> raw;
  std::set<std::string> denied;
  int expire_continues = 0;
  std::vector<std::string> posted_events;
  std::set<std::string> event_names;  // "namespace/name" of the Events posted
  FakeStats stats;
  std::deque<RecordedRequest> requests;
  bool stopping = false;

  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  int port = 0;

  std::string next_uid() {
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "6f1c2d3e-0000-4000-8000-%012llu",
                  static_cast<unsigned long long>(++uid_counter));
    return buffer;
  }

  // Under mutex.
  void record(const std::string& type, const Object& object) {
    history.push_back(Event{type, object});
    while (history.size() > options.history_limit) {
      compacted = history.front().object.resource_version;
      history.pop_front();
    }
    changed.notify_all();
  }

  std::uint64_t put(std::map<std::string, Object>& collection, Object object) {
    std::lock_guard lock(mutex);
    auto key = key_of(object.namespace_name, object.name);
    auto it = collection.find(key);
    object.resource_version = ++resource_version;
    std::string type = "ADDED";
    if (it != collection.end()) {
      object.uid = it->second.uid;
      type = "MODIFIED";
    } else {
      object.uid = next_uid();
    }
    collection[key] = object;
    record(type, object);
    return object.resource_version;
  }

  bool erase(std::map<std::string, Object>& collection, const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = collection.find(key);
    if (it == collection.end()) return false;
    Object object = it->second;
    collection.erase(it);
    object.resource_version = ++resource_version;
    record("DELETED", object);
    return true;
  }

  // Waits `delay` unless stopping; false when stopping.
  bool wait_delay() {
    std::unique_lock lock(mutex);
    if (delay.count() <= 0) return !stopping;
    auto until = std::chrono::steady_clock::now() + delay;
    changed.wait_until(lock, until, [this] { return stopping; });
    return !stopping;
  }

  void reply_status(httplib::Response& res, int code, const std::string& message) {
    res.status = code;
    res.set_content(status_json(code, reason_for(code), message), "application/json");
  }

  httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res) {
    if (req.path.rfind("/api/", 0) != 0 && req.path.rfind("/apis/", 0) != 0) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    std::unique_lock lock(mutex);
    RecordedRequest record;
    record.path = req.path;
    for (const auto& [key, value] : req.params) record.params[key] = value;
    record.accept = req.get_header_value("Accept");
    requests.push_back(std::move(record));
    while (requests.size() > 20000) requests.pop_front();
    if (!tokens.empty()) {
      std::string authorization = req.get_header_value("Authorization");
      bool ok = false;
      for (const auto& token : tokens) ok = ok || authorization == "Bearer " + token;
      if (!ok) {
        ++stats.unauthorized;
        lock.unlock();
        reply_status(res, 401, "Unauthorized");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (fail_remaining > 0) {
      --fail_remaining;
      ++stats.failed_on_purpose;
      int code = fail_status;
      lock.unlock();
      reply_status(res, code, "injected failure");
      return httplib::Server::HandlerResponse::Handled;
    }
    lock.unlock();
    if (!wait_delay()) {
      reply_status(res, 503, "shutting down");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    // /api/v1[/namespaces/NS]/(serviceaccounts|configmaps)[/NAME]
    Selection selection;
    const std::string namespace_name = req.matches[1];
    selection.kind = req.matches[2] == "configmaps" ? Kind::kConfigMap : Kind::kServiceAccount;
    selection.namespace_name = namespace_name;
    const std::string name = req.matches[3];
    if (refuse_denied(req.matches[2], "", name.empty() ? "list" : "get", namespace_name, res))
      return;
    const std::string accept = req.get_header_value("Accept");
    const bool metadata_only = accept.find("as=PartialObjectMetadata") != std::string::npos;
    {
      std::lock_guard lock(mutex);
      if (metadata_only && refuse_metadata) {
        res.status = 406;
        res.set_content(status_json(406, "NotAcceptable",
                                    "only the following media types are "
                                    "accepted: application/json"),
                        "application/json");
        return;
      }
    }
    if (req.has_param("fieldSelector")) {
      std::string selector = req.get_param_value("fieldSelector");
      std::size_t start = 0;
      while (start <= selector.size()) {
        auto end = selector.find(',', start);
        if (end == std::string::npos) end = selector.size();
        std::string term = selector.substr(start, end - start);
        if (term.rfind("metadata.name=", 0) == 0) {
          selection.field_name = term.substr(14);
        } else if (term.rfind("metadata.namespace=", 0) == 0) {
          selection.field_namespace = term.substr(19);
        } else if (!term.empty()) {
          reply_status(res, 400, "field label not supported: " + term);
          return;
        }
        start = end + 1;
      }
    }
    if (!name.empty()) return get_one(selection, name, metadata_only, res);
    std::string watch = req.has_param("watch") ? req.get_param_value("watch") : "";
    if (watch == "1" || watch == "true") return serve_watch(req, selection, metadata_only, res);
    serve_list(req, selection, metadata_only, res);
  }

  void get_one(const Selection& selection, const std::string& name, bool metadata_only,
               httplib::Response& res) {
    std::unique_lock lock(mutex);
    ++stats.gets;
    auto& collection = selection.kind == Kind::kConfigMap ? config_maps : service_accounts;
    auto it = collection.find(key_of(selection.namespace_name, name));
    if (it == collection.end()) {
      lock.unlock();
      reply_status(
          res, 404,
          std::string(selection.kind == Kind::kConfigMap ? "configmaps" : "serviceaccounts") +
              " \"" + name + "\" not found");
      return;
    }
    std::string body;
    append_object(body, it->second, metadata_only);
    lock.unlock();
    res.set_content(body, "application/json");
  }

  // GET /api/v1[/namespaces/NS]/(serviceaccounts|configmaps): a page of
  // the list.
  void serve_list(const httplib::Request& req, const Selection& selection, bool metadata_only,
                  httplib::Response& res) {
    const bool config_maps_wanted = selection.kind == Kind::kConfigMap;
    const std::string resource = config_maps_wanted ? "configmaps" : "serviceaccounts";
    const std::string list_kind = config_maps_wanted ? "ConfigMapList" : "ServiceAccountList";
    serve_page(req, resource, list_kind, "v1", metadata_only, res, [&] {
      auto items = std::make_shared<std::vector<Object>>();
      for (const auto& [key, object] : config_maps_wanted ? config_maps : service_accounts) {
        if (selection.matches(object)) items->push_back(object);
      }
      Snapshot snapshot;
      snapshot.size = items->size();
      snapshot.render = [items](std::string& out, std::size_t index, bool metadata) {
        append_object(out, (*items)[index], metadata);
      };
      return snapshot;
    });
  }

  // One page of any list: the paging every list shares. limit; continue
  // tokens (expired, forgotten or another resource's: 410 Gone); a
  // resourceVersion (not with continue: 400; compacted: 410; "0" ignores
  // limit unless paginate_cached_lists). `take` runs under the mutex on a
  // new list and holds the items the request selects.
  void serve_page(const httplib::Request& req, const std::string& resource,
                  const std::string& list_kind, const std::string& api_version, bool metadata_only,
                  httplib::Response& res, const std::function<Snapshot()>& take) {
    std::unique_lock lock(mutex);
    ++stats.lists;
    auto refuse = [&](int code, const std::string& message) {
      lock.unlock();
      reply_status(res, code, message);
    };
    std::size_t limit = 0;
    if (req.has_param("limit")) {
      bool ok = false;
      limit = parse_rv(req.get_param_value("limit"), ok);
      if (!ok) return refuse(400, "bad limit");
    }
    const std::string continue_token =
        req.has_param("continue") ? req.get_param_value("continue") : "";
    const std::string rv_param =
        req.has_param("resourceVersion") ? req.get_param_value("resourceVersion") : "";
    Snapshot snapshot;
    if (!continue_token.empty()) {
      if (!rv_param.empty()) {
        return refuse(400, "specifying resource version is not allowed when using continue");
      }
      auto it = snapshots.find(continue_token.substr(0, continue_token.find(':')));
      if (expire_continues > 0 || it == snapshots.end() || it->second.resource != resource) {
        if (expire_continues > 0) --expire_continues;
        if (it != snapshots.end()) snapshots.erase(it);
        return refuse(410,
                      "The provided continue parameter is too old to display a consistent list "
                      "result. You can start a new list without the continue parameter.");
      }
      snapshot = std::move(it->second);
      snapshots.erase(it);
    } else {
      if (!rv_param.empty() && rv_param != "0") {
        bool ok = false;
        std::uint64_t rv = parse_rv(rv_param, ok);
        if (!ok) return refuse(400, "bad resourceVersion");
        if (rv < compacted) {
          return refuse(410, "too old resource version: " + rv_param + " (" +
                                 std::to_string(compacted) + ")");
        }
      }
      // As kube-apiserver's watch cache before pagination from the cache:
      // a list at resourceVersion=0 ignores limit and returns everything.
      if (rv_param == "0" && !options.paginate_cached_lists) limit = 0;
      snapshot = take();
      snapshot.resource = resource;
      snapshot.resource_version = resource_version;
    }
    const std::size_t first = snapshot.offset;
    std::size_t count = snapshot.size - first;
    if (limit > 0) count = std::min(count, limit);
    const std::size_t remaining = snapshot.size - first - count;
    std::string next;
    if (remaining > 0) {
      Snapshot rest = snapshot;
      rest.offset = first + count;
      std::string id = "c" + std::to_string(next_snapshot++);
      next = id + ":" + std::to_string(rest.offset) + "/+=";
      snapshots.emplace(id, std::move(rest));
    }
    lock.unlock();

    std::string body;
    body.reserve(count * 320 + 256);
    if (metadata_only) {
      body += R"({"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{)";
    } else {
      body +=
          R"({"kind":")" + list_kind + R"(","apiVersion":")" + api_version + R"(","metadata":{)";
    }
    body += R"("resourceVersion":")" + std::to_string(snapshot.resource_version) + '"';
    if (!next.empty()) {
      body += R"(,"continue":)";
      append_escaped(body, next);
      body += R"(,"remainingItemCount":)" + std::to_string(remaining);
    }
    body += R"(},"items":[)";
    for (std::size_t i = 0; i < count; ++i) {
      if (i > 0) body += ',';
      snapshot.render(body, first + i, metadata_only);
    }
    body += "]}\n";
    res.set_content(body, "application/json");
  }

  // 403 as RBAC answers it, when `resource` is denied.
  bool refuse_denied(const std::string& resource, const std::string& group, const std::string& verb,
                     const std::string& namespace_name, httplib::Response& res) {
    {
      std::lock_guard lock(mutex);
      if (denied.count(resource) == 0) return false;
    }
    std::string scope = namespace_name.empty() ? "at the cluster scope"
                                               : "in the namespace \"" + namespace_name + "\"";
    std::string message = resource +
                          " is forbidden: User \"system:serviceaccount:irsa:audit\" "
                          "cannot " +
                          verb + " resource \"" + resource + "\" in API group \"" + group + "\" " +
                          scope;
    std::string body =
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)";
    append_escaped(body, message);
    body += R"(,"reason":"Forbidden","details":{"kind":)";
    append_escaped(body, resource);
    body += R"(},"code":403})";
    res.status = 403;
    res.set_content(body, "application/json");
    return true;
  }

  // GET /api/v1[/namespaces/NS]/(pods|secrets) and
  // /apis/(apps|batch)/v1[/namespaces/NS]/RESOURCE: lists only.
  void handle_raw(const httplib::Request& req, const std::string& group,
                  const std::string& namespace_name, const std::string& resource,
                  httplib::Response& res) {
    const ResourceInfo* info = resource_named(resource, group);
    if (!info) {
      reply_status(res, 404, "the server could not find the requested resource");
      return;
    }
    if (refuse_denied(resource, group, "list", namespace_name, res)) return;
    const bool metadata_only =
        req.get_header_value("Accept").find("as=PartialObjectMetadata") != std::string::npos;
    std::vector<Requirement> requirements;
    if (req.has_param("labelSelector")) {
      std::string error;
      if (!parse_label_selector(req.get_param_value("labelSelector"), requirements, error)) {
        reply_status(res, 400, "unable to parse requirement: " + error);
        return;
      }
    }
    serve_page(req, resource, std::string(info->kind) + "List", api_version_of(*info),
               metadata_only, res, [&] {
                 auto items = std::make_shared<RawItems>();
                 for (const auto& [key, object] : raw[resource]) {
                   if (!namespace_name.empty() && object->namespace_name != namespace_name) {
                     continue;
                   }
                   bool selected =
                       std::all_of(requirements.begin(), requirements.end(),
                                   [&](const Requirement& r) { return r.matches(object->labels); });
                   if (selected) items->push_back(object);
                 }
                 Snapshot snapshot;
                 snapshot.size = items->size();
                 snapshot.render = [items](std::string& out, std::size_t index, bool metadata) {
                   const RawObject& object = *(*items)[index];
                   if (metadata) {
                     out += R"({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",)";
                     out += R"("metadata":)" + object.metadata_json + '}';
                   } else {
                     out += object.item_json;
                   }
                 };
                 return snapshot;
               });
  }

  // POST /api/v1/namespaces/NS/events: recorded, answered 201 with the Event.
  void post_event(const httplib::Request& req, const std::string& namespace_name,
                  httplib::Response& res) {
    if (refuse_denied("events", "", "create", namespace_name, res)) return;
    auto event = nlohmann::json::parse(req.body, nullptr, false);
    if (!event.is_object()) {
      reply_status(res, 400, "the body is not a JSON object");
      return;
    }
    {
      std::lock_guard lock(mutex);
      // A name already taken is 409 AlreadyExists, as kube-apiserver answers.
      const auto metadata = event.find("metadata");
      if (metadata != event.end() && metadata->is_object() && metadata->contains("name") &&
          (*metadata)["name"].is_string() &&
          !event_names.insert(namespace_name + "/" + (*metadata)["name"].get<std::string>())
               .second) {
        reply_status(res, 409,
                     "events \"" + (*metadata)["name"].get<std::string>() + "\" already exists");
        return;
      }
      posted_events.push_back(req.body);
      while (posted_events.size() > 100000) posted_events.erase(posted_events.begin());
      event["metadata"]["resourceVersion"] = std::to_string(++resource_version);
      event["metadata"]["uid"] = next_uid();
    }
    res.status = 201;
    res.set_content(event.dump(), "application/json");
  }

  struct WatchState {
    Selection selection;
    bool metadata_only = false;
    bool bookmarks = false;
    std::uint64_t cursor = 0;
    std::chrono::steady_clock::time_point end;
    std::chrono::steady_clock::time_point next_bookmark;
    std::uint64_t drop_epoch = 0;
    std::uint64_t error_epoch = 0;
    std::vector<std::string> initial;  // synthetic ADDED events (resourceVersion 0)
    bool gone = false;
  };

  std::string event_json(const std::string& type, const Object& object, bool metadata_only) {
    std::string out = R"({"type":")" + type + R"(","object":)";
    append_object(out, object, metadata_only);
    out += "}\n";
    return out;
  }

  void serve_watch(const httplib::Request& req, const Selection& selection, bool metadata_only,
                   httplib::Response& res) {
    auto state = std::make_shared<WatchState>();
    state->selection = selection;
    state->metadata_only = metadata_only;
    std::string bookmarks =
        req.has_param("allowWatchBookmarks") ? req.get_param_value("allowWatchBookmarks") : "";
    state->bookmarks = bookmarks == "true" || bookmarks == "1";
    long timeout_seconds = 1800;
    if (req.has_param("timeoutSeconds")) {
      bool ok = false;
      timeout_seconds = static_cast<long>(parse_rv(req.get_param_value("timeoutSeconds"), ok));
      if (!ok) timeout_seconds = 1800;
    }
    const auto now = std::chrono::steady_clock::now();
    state->end = now + std::chrono::seconds(timeout_seconds);
    std::string rv_param =
        req.has_param("resourceVersion") ? req.get_param_value("resourceVersion") : "";
    {
      std::lock_guard lock(mutex);
      ++stats.watches;
      ++stats.active_watches;
      state->next_bookmark = now + options.bookmark_interval;
      state->drop_epoch = drop_epoch;
      state->error_epoch = error_epoch;
      if (rv_param.empty() || rv_param == "0") {
        state->cursor = resource_version;
        const auto& collection =
            selection.kind == Kind::kConfigMap ? config_maps : service_accounts;
        for (const auto& [key, object] : collection) {
          if (selection.matches(object)) {
            state->initial.push_back(event_json("ADDED", object, metadata_only));
          }
        }
      } else {
        bool ok = false;
        state->cursor = parse_rv(rv_param, ok);
        if (!ok || state->cursor < compacted) state->gone = true;
      }
    }
    res.status = 200;
    res.set_chunked_content_provider(
        "application/json",
        [this, state, rv_param](std::size_t, httplib::DataSink& sink) {
          return watch_step(*state, rv_param, sink);
        },
        [this](bool) {
          std::lock_guard lock(mutex);
          --stats.active_watches;
        });
  }

  // One step of a watch stream: writes what is due, waits a little when
  // nothing is. Returning false cuts the connection without ending the body.
  bool watch_step(WatchState& state, const std::string& rv_param, httplib::DataSink& sink) {
    std::string out;
    bool finish = false;
    {
      std::unique_lock lock(mutex);
      if (stopping || state.drop_epoch != drop_epoch) return false;
      if (state.gone) {
        out = R"({"type":"ERROR","object":)" +
              status_json(410, "Expired",
                          "too old resource version: " + rv_param + " (" +
                              std::to_string(compacted) + ")") +
              "}\n";
        finish = true;
      } else if (state.error_epoch != error_epoch) {
        out = error_event;
        finish = true;
      } else if (!state.initial.empty()) {
        for (const auto& line : state.initial) out += line;
        state.initial.clear();
      } else if (stall_watches) {
        // Nothing at all.
      } else if (state.cursor < compacted) {
        out = R"({"type":"ERROR","object":)" +
              status_json(410, "Expired", "too old resource version") + "}\n";
        finish = true;
      } else {
        for (const auto& event : history) {
          if (event.object.resource_version <= state.cursor) continue;
          state.cursor = event.object.resource_version;
          if (state.selection.matches(event.object)) {
            out += event_json(event.type, event.object, state.metadata_only);
          }
        }
        const auto now = std::chrono::steady_clock::now();
        if (out.empty() && state.bookmarks && now >= state.next_bookmark) {
          state.cursor = std::max(state.cursor, resource_version);
          out =
              R"({"type":"BOOKMARK","object":{"kind":")" +
              std::string(state.metadata_only                        ? "PartialObjectMetadata"
                          : state.selection.kind == Kind::kConfigMap ? "ConfigMap"
                                                                     : "ServiceAccount") +
              R"(","apiVersion":"v1","metadata":{"resourceVersion":")" +
              std::to_string(state.cursor) +
              R"(","creationTimestamp":null,"annotations":{"k8s.io/initial-events-end":"true"}}}})" +
              "\n";
          state.next_bookmark = now + options.bookmark_interval;
        }
      }
      if (out.empty()) {
        if (std::chrono::steady_clock::now() >= state.end) {
          finish = true;
        } else {
          auto until =
              std::min({state.end, state.next_bookmark,
                        std::chrono::steady_clock::now() + std::chrono::milliseconds(200)});
          changed.wait_until(lock, until);
          return !stopping && state.drop_epoch == drop_epoch;
        }
      }
    }
    if (!out.empty()) {
      if (!sink.is_writable() || !sink.write(out.data(), out.size())) return false;
    }
    if (finish) sink.done();
    return true;
  }
};

FakeApiServer::FakeApiServer(FakeApiServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->resource_version = impl_->options.initial_resource_version;
  impl_->compacted = impl_->options.initial_resource_version;
  impl_->tokens = impl_->options.tokens;
  impl_->port = impl_->options.port;
}

FakeApiServer::~FakeApiServer() { stop(); }

Status FakeApiServer::start() {
  auto& impl = *impl_;
  if (impl.server) return Error{"already running"};
  std::unique_ptr<httplib::Server> server;
  if (impl.options.tls) {
    auto ssl = std::make_unique<httplib::SSLServer>(
        impl.options.cert_file.c_str(), impl.options.key_file.c_str(),
        impl.options.client_ca_file.empty() ? nullptr : impl.options.client_ca_file.c_str());
    if (!ssl->is_valid()) return Error{"fake apiserver: cannot load the TLS certificate or key"};
    server = std::move(ssl);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  const int threads = impl.options.threads;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_keep_alive_timeout(2);
  server->set_read_timeout(5, 0);
  server->set_write_timeout(5, 0);
  server->set_tcp_nodelay(true);
  server->set_pre_routing_handler([&impl](const httplib::Request& req, httplib::Response& res) {
    return impl.pre_route(req, res);
  });
  server->Get(
      R"(/api/v1(?:/namespaces/([^/]+))?/(serviceaccounts|configmaps)(?:/([^/]+))?)",
      [&impl](const httplib::Request& req, httplib::Response& res) { impl.handle(req, res); });
  server->Get(R"(/api/v1(?:/namespaces/([^/]+))?/(pods|secrets))",
              [&impl](const httplib::Request& req, httplib::Response& res) {
                impl.handle_raw(req, "", req.matches[1], req.matches[2], res);
              });
  server->Get(R"(/apis/(apps|batch)/v1(?:/namespaces/([^/]+))?/([a-z]+))",
              [&impl](const httplib::Request& req, httplib::Response& res) {
                impl.handle_raw(req, req.matches[1], req.matches[2], req.matches[3], res);
              });
  server->Post(R"(/api/v1/namespaces/([^/]+)/events)",
               [&impl](const httplib::Request& req, httplib::Response& res) {
                 impl.post_event(req, req.matches[1], res);
               });
  {
    std::lock_guard lock(impl.mutex);
    impl.stopping = false;
  }
  if (impl.port == 0) {
    impl.port = server->bind_to_any_port(impl.options.bind_address);
    if (impl.port <= 0) return Error{"fake apiserver: cannot bind"};
  } else {
    bool bound = false;
    // A restart may find the old socket in TIME_WAIT for a moment.
    for (int attempt = 0; attempt < 50 && !bound; ++attempt) {
      bound = server->bind_to_port(impl.options.bind_address, impl.port);
      if (!bound) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!bound) return Error{"fake apiserver: cannot bind port " + std::to_string(impl.port)};
  }
  impl.server = std::move(server);
  httplib::Server* raw = impl.server.get();
  impl.thread = std::thread([raw] { raw->listen_after_bind(); });
  // httplib's stop() does nothing before the listener runs: wait for it.
  for (int i = 0; i < 5000 && !raw->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Ok{};
}

void FakeApiServer::stop() {
  auto& impl = *impl_;
  {
    std::lock_guard lock(impl.mutex);
    impl.stopping = true;
  }
  impl.changed.notify_all();
  if (impl.server) impl.server->stop();
  if (impl.thread.joinable()) impl.thread.join();
  impl.server.reset();
}

bool FakeApiServer::running() const { return impl_->server != nullptr; }
int FakeApiServer::port() const { return impl_->port; }

std::string FakeApiServer::url() const {
  return std::string(impl_->options.tls ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(impl_->port);
}

std::uint64_t FakeApiServer::put_service_account(
    const std::string& namespace_name, const std::string& name,
    const std::map<std::string, std::string>& annotations) {
  Object object;
  object.kind = Kind::kServiceAccount;
  object.namespace_name = namespace_name;
  object.name = name;
  object.annotations = annotations;
  return impl_->put(impl_->service_accounts, std::move(object));
}

bool FakeApiServer::delete_service_account(const std::string& namespace_name,
                                           const std::string& name) {
  return impl_->erase(impl_->service_accounts, key_of(namespace_name, name));
}

std::uint64_t FakeApiServer::put_config_map(const std::string& namespace_name,
                                            const std::string& name,
                                            const std::map<std::string, std::string>& data) {
  Object object;
  object.kind = Kind::kConfigMap;
  object.namespace_name = namespace_name;
  object.name = name;
  object.data = data;
  return impl_->put(impl_->config_maps, std::move(object));
}

bool FakeApiServer::delete_config_map(const std::string& namespace_name, const std::string& name) {
  return impl_->erase(impl_->config_maps, key_of(namespace_name, name));
}

void FakeApiServer::generate_service_accounts(std::size_t count, std::size_t namespaces,
                                              std::size_t annotated_every,
                                              const std::string& prefix) {
  std::lock_guard lock(impl_->mutex);
  namespaces = std::max<std::size_t>(namespaces, 1);
  for (std::size_t i = 0; i < count; ++i) {
    Object object;
    object.kind = Kind::kServiceAccount;
    // Names of realistic length (keys of ~40 characters).
    object.namespace_name = "team-namespace-" + std::to_string(i % namespaces);
    object.name = "workload-service-account-" + std::to_string(i);
    object.uid = impl_->next_uid();
    object.resource_version = ++impl_->resource_version;
    object.annotations["kubectl.kubernetes.io/last-applied-configuration"] =
        R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":")" + object.name + "\"}}";
    if (annotated_every > 0 && i % annotated_every == 0) {
      object.annotations[prefix + "/role-arn"] =
          "arn:aws:iam::111122223333:role/" + object.namespace_name + "-" + object.name;
    }
    impl_->service_accounts[key_of(object.namespace_name, object.name)] = std::move(object);
  }
  // No events for these: watches start after.
  impl_->compacted = impl_->resource_version;
  impl_->history.clear();
}

std::uint64_t FakeApiServer::resource_version() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->resource_version;
}

std::size_t FakeApiServer::service_account_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->service_accounts.size();
}

Status FakeApiServer::put_object(const std::string& json_text) {
  auto object = nlohmann::json::parse(json_text, nullptr, false);
  if (!object.is_object()) return Error{"not a JSON object"};
  const ResourceInfo* info = resource_of_kind(object.value("kind", ""));
  if (!info) return Error{"unsupported kind " + object.value("kind", std::string("(none)"))};
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object() || !metadata->contains("name") ||
      !(*metadata)["name"].is_string()) {
    return Error{"metadata.name is required"};
  }
  auto raw = std::make_shared<RawObject>();
  raw->name = (*metadata)["name"].get<std::string>();
  raw->namespace_name = metadata->value("namespace", std::string("default"));
  (*metadata)["namespace"] = raw->namespace_name;
  if (auto labels = metadata->find("labels"); labels != metadata->end() && labels->is_object()) {
    for (const auto& [key, value] : labels->items()) {
      if (value.is_string()) raw->labels[key] = value.get<std::string>();
    }
  }
  std::lock_guard lock(impl_->mutex);
  if (!metadata->contains("uid")) (*metadata)["uid"] = impl_->next_uid();
  (*metadata)["resourceVersion"] = std::to_string(++impl_->resource_version);
  if (!metadata->contains("creationTimestamp")) {
    (*metadata)["creationTimestamp"] = "2024-05-01T10:00:00Z";
  }
  raw->metadata_json = metadata->dump();
  object.erase("kind");
  object.erase("apiVersion");
  raw->item_json = object.dump();
  impl_->raw[info->resource][key_of(raw->namespace_name, raw->name)] = std::move(raw);
  return Ok{};
}

std::size_t FakeApiServer::object_count(const std::string& resource) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->raw.find(resource);
  return it == impl_->raw.end() ? 0 : it->second.size();
}

void FakeApiServer::set_denied_resources(std::vector<std::string> resources) {
  std::lock_guard lock(impl_->mutex);
  impl_->denied = std::set<std::string>(resources.begin(), resources.end());
}

void FakeApiServer::expire_next_continues(int count) {
  std::lock_guard lock(impl_->mutex);
  impl_->expire_continues = count;
}

std::vector<std::string> FakeApiServer::events() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->posted_events;
}

void FakeApiServer::expire_history() {
  std::lock_guard lock(impl_->mutex);
  // Like an etcd compaction past everything a client has seen.
  impl_->compacted = ++impl_->resource_version;
  impl_->history.clear();
  impl_->snapshots.clear();
  impl_->changed.notify_all();
}

void FakeApiServer::drop_watches() {
  std::lock_guard lock(impl_->mutex);
  ++impl_->drop_epoch;
  impl_->changed.notify_all();
}

void FakeApiServer::send_error_event(int code, const std::string& reason,
                                     const std::string& message) {
  std::lock_guard lock(impl_->mutex);
  impl_->error_event = R"({"type":"ERROR","object":)" + status_json(code, reason, message) + "}\n";
  ++impl_->error_epoch;
  impl_->changed.notify_all();
}

void FakeApiServer::fail_next_requests(int count, int status) {
  std::lock_guard lock(impl_->mutex);
  impl_->fail_remaining = count;
  impl_->fail_status = status;
}

void FakeApiServer::set_response_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(impl_->mutex);
  impl_->delay = delay;
}

void FakeApiServer::set_refuse_metadata(bool refuse) {
  std::lock_guard lock(impl_->mutex);
  impl_->refuse_metadata = refuse;
}

void FakeApiServer::set_stall_watches(bool stall) {
  std::lock_guard lock(impl_->mutex);
  impl_->stall_watches = stall;
  impl_->changed.notify_all();
}

void FakeApiServer::set_tokens(std::vector<std::string> tokens) {
  std::lock_guard lock(impl_->mutex);
  impl_->tokens = std::move(tokens);
}

FakeStats FakeApiServer::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

std::vector<RecordedRequest> FakeApiServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return {impl_->requests.begin(), impl_->requests.end()};
}

void FakeApiServer::clear_requests() {
  std::lock_guard lock(impl_->mutex);
  impl_->requests.clear();
}

}  // namespace irsa::fakes
