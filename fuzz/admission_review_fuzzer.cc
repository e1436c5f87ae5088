// The whole admission request path: HTTP body -> AdmissionReview decode
// (v1 and v1beta1) -> identity lookup in a fixed registry -> plan -> encode,
// through admission::ReviewHandler, under two webhook configurations.
//
// Properties, for every input:
// - the answer is HTTP 200 with an AdmissionReview, or HTTP 400 with a
//   one-line reason; never anything else. 400 exactly when the body is not an
//   AdmissionReview (checked here independently of the decoder);
// - a 200 carries the request's apiVersion, kind AdmissionReview and uid;
//   a denial has code 400 or 403 and a one-line message; warnings respect
//   the API server's limits;
// - a patch is valid RFC 6902 (add/remove only, valid JSON Pointers), applies
//   op by op to the Pod it came from, never overwrites a member that exists,
//   removes only static-credential entries and only in strip mode, leaves no
//   dangling volume mount and no duplicated injected variable;
// - a second review of the patched Pod yields no patch (idempotence);
// - a body with a key twice in any object is never admitted: HTTP 400 when
//   the key is in the envelope or is the request's uid, else a denial that
//   says "duplicate key" (the API server would read the last, the webhook the
//   first, so anything admitted could be another Pod).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "admission/review.h"
#include "admission/review_handler.h"
#include "fuzz_support.h"
#include "identity/container_credentials.h"
#include "identity/registry.h"

namespace {

using irsa::fuzz::excerpt;
using irsa::fuzz::one_line;
using nlohmann::json;

constexpr std::string_view kPrefix = "eks.amazonaws.com";

struct Setup {
  irsa::identity::ServiceAccountRegistry registry;
  std::unique_ptr<irsa::identity::IdentityResolver> resolver;
  std::vector<std::unique_ptr<irsa::admission::ReviewHandler>> handlers;
  std::vector<bool> strips;  // per handler: may the patch remove things?
};

irsa::identity::ServiceAccountSettings settings(std::map<std::string, std::string, std::less<>> a) {
  std::map<std::string, std::string, std::less<>> annotations;
  for (auto& [key, value] : a) annotations.emplace(std::string(kPrefix) + "/" + key, value);
  return irsa::identity::parse_service_account_annotations(annotations, kPrefix);
}

Setup& setup() {
  static Setup* instance = [] {
    auto* s = new Setup;
    const std::string arn = "arn:aws:iam::111122223333:role/";
    s->registry.upsert("default", "default", settings({{"role-arn", arn + "default"}}));
    s->registry.upsert("default", "s3-reader", settings({{"role-arn", arn + "s3-reader"}}));
    s->registry.upsert("team-a", "s3-reader",
                       settings({{"role-arn", arn + "team-a"}, {"audience", "custom.example"}}));
    s->registry.upsert("shop", "orders",
                       settings({{"role-arn", arn + "shop-orders"},
                                 {"sts-regional-endpoints", "true"},
                                 {"token-expiration", "3600"},
                                 {"role-session-name", "pod-name"}}));
    s->registry.upsert("default", "pod-identity-app", {});
    s->registry.upsert("default", "plain", {});
    s->resolver =
        std::make_unique<irsa::identity::IdentityResolver>(s->registry, irsa::identity::Defaults{});
    auto cc = std::make_shared<irsa::identity::ContainerCredentialsConfig>();
    cc->add("default", "pod-identity-app");
    cc->add("shop", "orders-pi");
    s->resolver->set_container_credentials(cc);

    // A: region, strip, unmanaged Pods warned about, a Secret glob.
    irsa::mutation::Options a;
    a.region = "us-east-1";
    irsa::credentials::Policy strip;
    strip.managed = irsa::credentials::ManagedMode::kStrip;
    strip.unmanaged = irsa::credentials::UnmanagedMode::kWarn;
    strip.detect.secret_name_patterns = {"aws-*", "static-?"};
    s->handlers.push_back(std::make_unique<irsa::admission::ReviewHandler>(*s->resolver, a, strip,
                                                                           [] { return 0.5; }));
    s->strips.push_back(true);
    // B: defaults, deny everywhere, opt-out honoured.
    irsa::credentials::Policy deny;
    deny.managed = irsa::credentials::ManagedMode::kDeny;
    deny.unmanaged = irsa::credentials::UnmanagedMode::kDeny;
    deny.allow_opt_out = true;
    s->handlers.push_back(std::make_unique<irsa::admission::ReviewHandler>(
        *s->resolver, irsa::mutation::Options{}, deny, [] { return 0.0; }));
    s->strips.push_back(false);
    return s;
  }();
  return *instance;
}

// What the body must be for an HTTP 200, read with its own parser.
struct Expected {
  bool review = false;
  bool duplicate_key = false;  // some object in the body has a key twice
  std::string api_version;
  std::string uid;
  json document;  // the body as the handler reads it (first of duplicate keys)
};

// Whether `object` has a key twice (a set, unlike the handler's check).
bool has_duplicate_key(simdjson::dom::object object) {
  std::set<std::string_view> keys;
  for (auto field : object) {
    if (!keys.insert(field.key).second) return true;
  }
  return false;
}

bool has_duplicate_key_anywhere(simdjson::dom::element value) {
  simdjson::dom::object object;
  simdjson::dom::array array;
  if (value.get(object) == simdjson::SUCCESS) {
    if (has_duplicate_key(object)) return true;
    for (auto field : object) {
      if (has_duplicate_key_anywhere(field.value)) return true;
    }
  } else if (value.get(array) == simdjson::SUCCESS) {
    for (auto child : array) {
      if (has_duplicate_key_anywhere(child)) return true;
    }
  }
  return false;
}

bool string_or_absent(simdjson::dom::object object, std::string_view key) {
  simdjson::dom::element value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS) return true;
  return value.is_null() || value.is_string();
}

Expected expect(std::string_view body) {
  Expected out;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return out;
  simdjson::dom::object review;
  if (root.get(review) != simdjson::SUCCESS) return out;
  if (has_duplicate_key(review)) return out;
  std::string_view api_version, kind, uid;
  if (review["apiVersion"].get(api_version) != simdjson::SUCCESS) return out;
  if (api_version != irsa::admission::kApiVersionV1 &&
      api_version != irsa::admission::kApiVersionV1beta1) {
    return out;
  }
  if (review["kind"].get(kind) != simdjson::SUCCESS || kind != "AdmissionReview") return out;
  simdjson::dom::object request;
  if (review["request"].get(request) != simdjson::SUCCESS) return out;
  if (request["uid"].get(uid) != simdjson::SUCCESS || uid.empty()) return out;
  std::size_t uids = 0;
  for (auto field : request) uids += field.key == "uid" ? 1 : 0;
  if (uids > 1) return out;
  for (auto key : {"namespace", "operation", "subResource"}) {
    if (!string_or_absent(request, key)) return out;
  }
  simdjson::dom::element dry_run;
  if (request["dryRun"].get(dry_run) == simdjson::SUCCESS && !dry_run.is_null() &&
      !dry_run.is_bool()) {
    return out;
  }
  simdjson::dom::element gvk;
  if (request["kind"].get(gvk) == simdjson::SUCCESS && !gvk.is_null()) {
    simdjson::dom::object gvk_object;
    if (gvk.get(gvk_object) != simdjson::SUCCESS) return out;
    for (auto key : {"group", "version", "kind"}) {
      if (!string_or_absent(gvk_object, key)) return out;
    }
  }
  out.review = true;
  out.api_version = std::string(api_version);
  out.uid = std::string(uid);
  out.duplicate_key = has_duplicate_key_anywhere(root);
  out.document = irsa::fuzz::to_json(root);
  return out;
}

std::string base64_decode(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  FUZZ_CHECK(text.size() % 4 == 0, "patch is not padded base64");
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '=') {
      FUZZ_CHECK(i + 2 >= text.size(), "'=' inside base64");
      continue;
    }
    int value = value_of(text[i]);
    FUZZ_CHECK(value >= 0, "patch is not base64");
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

const std::set<std::string, std::less<>> kInjectedEnv = {"AWS_ROLE_ARN",
                                                         "AWS_WEB_IDENTITY_TOKEN_FILE",
                                                         "AWS_REGION",
                                                         "AWS_DEFAULT_REGION",
                                                         "AWS_STS_REGIONAL_ENDPOINTS",
                                                         "AWS_ROLE_SESSION_NAME",
                                                         "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                                         "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"};

// Env variables a strip may remove: the keys themselves, and the profile and
// files that go with removed credential files.
const std::set<std::string, std::less<>> kRemovableEnv = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",       "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",    "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE",       "AWS_CONFIG_FILE"};

// Every container and init container of a Pod JSON.
std::vector<const json*> containers_of(const json& pod) {
  std::vector<const json*> out;
  auto spec = pod.find("spec");
  if (spec == pod.end() || !spec->is_object()) return out;
  for (const char* key : {"initContainers", "containers"}) {
    auto list = spec->find(key);
    if (list == spec->end() || !list->is_array()) continue;
    for (const auto& container : *list) out.push_back(&container);
  }
  return out;
}

std::map<std::string, int> injected_env_counts(const json& container) {
  std::map<std::string, int> counts;
  auto env = container.find("env");
  if (env == container.end() || !env->is_array()) return counts;
  for (const auto& entry : *env) {
    auto name = entry.find("name");
    if (name != entry.end() && name->is_string() && kInjectedEnv.count(name->get<std::string>())) {
      ++counts[name->get<std::string>()];
    }
  }
  return counts;
}

// Volume mount names (over all containers) that name no volume of the Pod.
std::set<std::string> dangling_mounts(const json& pod) {
  std::set<std::string> volumes;
  if (auto spec = pod.find("spec"); spec != pod.end() && spec->is_object()) {
    if (auto list = spec->find("volumes"); list != spec->end() && list->is_array()) {
      for (const auto& volume : *list) {
        if (volume.is_object() && volume.contains("name") && volume["name"].is_string()) {
          volumes.insert(volume["name"].get<std::string>());
        }
      }
    }
  }
  std::set<std::string> dangling;
  for (const json* container : containers_of(pod)) {
    auto mounts = container->find("volumeMounts");
    if (mounts == container->end() || !mounts->is_array()) continue;
    for (const auto& mount : *mounts) {
      if (!mount.is_object() || !mount.contains("name") || !mount["name"].is_string()) continue;
      const auto& name = mount["name"].get_ref<const std::string&>();
      if (!volumes.count(name)) dangling.insert(name);
    }
  }
  return dangling;
}

// Applies `patch` op by op, checking each operation; returns the result.
json apply_checked(const json& pod, const json& patch, bool may_remove) {
  FUZZ_CHECK(patch.is_array() && !patch.empty(), patch.dump());
  json doc = pod;
  for (const auto& op : patch) {
    FUZZ_CHECK(op.is_object() && op.contains("op") && op["op"].is_string() && op.contains("path") &&
                   op["path"].is_string(),
               op.dump());
    const std::string& name = op["op"].get_ref<const std::string&>();
    const std::string& path = op["path"].get_ref<const std::string&>();
    json::json_pointer pointer;
    try {
      pointer = json::json_pointer(path);
    } catch (const json::exception& e) {
      irsa::fuzz::fail(__FILE__, __LINE__, "valid JSON Pointer", path + ": " + e.what());
    }
    FUZZ_CHECK(!pointer.empty(), "an operation on the whole Pod: " + op.dump());
    json::json_pointer parent = pointer.parent_pointer();
    const std::string last = pointer.back();
    FUZZ_CHECK(doc.contains(parent), "parent of " + path + " does not exist");
    const json& container = doc.at(parent);
    if (name == "add") {
      FUZZ_CHECK(op.contains("value") && op.size() == 3, op.dump());
      if (container.is_object()) {
        FUZZ_CHECK(!container.contains(last) || container.at(last).is_null(),
                   "add overwrites an existing member at " + path);
      } else {
        FUZZ_CHECK(container.is_array(), "add into a scalar at " + path);
        FUZZ_CHECK(last == "-", "add inserts by index at " + path);
      }
    } else if (name == "remove") {
      FUZZ_CHECK(may_remove, "remove outside strip mode: " + op.dump());
      FUZZ_CHECK(op.size() == 2, op.dump());
      FUZZ_CHECK(container.is_array() && doc.contains(pointer), "remove of " + path);
      const json& removed = doc.at(pointer);
      const std::string array = parent.back();
      if (array == "env") {
        FUZZ_CHECK(removed.is_object() && removed.contains("name") && removed["name"].is_string() &&
                       kRemovableEnv.count(removed["name"].get<std::string>()),
                   "removes env that is not a static credential: " + removed.dump());
      } else if (array == "envFrom") {
        FUZZ_CHECK(removed.is_object() && removed.contains("secretRef"),
                   "removes envFrom that is not a Secret: " + removed.dump());
      } else if (array == "volumes") {
        FUZZ_CHECK(
            removed.is_object() && (removed.contains("secret") || removed.contains("projected")),
            "removes a volume that holds no Secret: " + removed.dump());
      } else {
        FUZZ_CHECK(array == "volumeMounts", "remove from " + path);
      }
    } else {
      irsa::fuzz::fail(__FILE__, __LINE__, "op is add or remove", op.dump());
    }
    try {
      doc = doc.patch(json::array({op}));
    } catch (const json::exception& e) {
      irsa::fuzz::fail(__FILE__, __LINE__, "patch applies",
                       op.dump() + ": " + e.what() + "\npod: " + excerpt(pod.dump(), 2000));
    }
  }
  return doc;
}

struct Answer {
  json response;
  bool has_patch = false;
  json patch;
};

// Runs one review through `handler` and checks the envelope.
Answer review(const irsa::admission::ReviewHandler& handler, std::string_view body) {
  Expected expected = expect(body);
  irsa::admission::HandleResult result = handler.handle(body);
  Answer answer;
  if (!expected.review) {
    FUZZ_CHECK(result.http_status == 400,
               "HTTP " + std::to_string(result.http_status) + " for a body that is not a review");
    FUZZ_CHECK(!result.body.empty() && result.body.back() == '\n' &&
                   one_line(std::string_view(result.body).substr(0, result.body.size() - 1)),
               "400 reason is not one line: " + excerpt(result.body));
    return answer;
  }
  FUZZ_CHECK(result.http_status == 200, "HTTP " + std::to_string(result.http_status) +
                                            " for a review: " + excerpt(result.body));
  json reply;
  try {
    reply = json::parse(result.body);
  } catch (const json::exception& e) {
    irsa::fuzz::fail(__FILE__, __LINE__, "reply is JSON", e.what());
  }
  FUZZ_CHECK(reply.value("apiVersion", "") == expected.api_version, result.body);
  FUZZ_CHECK(reply.value("kind", "") == "AdmissionReview", result.body);
  FUZZ_CHECK(reply.contains("response") && reply["response"].is_object(), result.body);
  json& response = reply["response"];
  FUZZ_CHECK(response.value("uid", "") == expected.uid, "uid not echoed: " + result.body);
  FUZZ_CHECK(response.contains("allowed") && response["allowed"].is_boolean(), result.body);
  if (!response["allowed"].get<bool>()) {
    FUZZ_CHECK(response.contains("status") && response["status"].is_object(), result.body);
    int code = response["status"].value("code", 0);
    FUZZ_CHECK(code == 400 || code == 403 || code == 413, result.body);
    std::string message = response["status"].value("message", "");
    FUZZ_CHECK(!message.empty(), result.body);
    FUZZ_CHECK(!response.contains("patch"), "a denial with a patch: " + result.body);
  }
  FUZZ_CHECK(
      !expected.duplicate_key ||
          (!response["allowed"].get<bool>() &&
           response["status"].value("message", "").find("duplicate key") != std::string::npos),
      "a body with a key twice was not refused as such: " + excerpt(result.body));
  if (response.contains("warnings")) {
    std::size_t total = 0;
    for (const auto& warning : response["warnings"]) {
      FUZZ_CHECK(warning.is_string() && warning.get<std::string>().size() < 120, warning.dump());
      total += warning.get<std::string>().size();
    }
    FUZZ_CHECK(total < 4096, "warnings over 4 KiB");
  }
  if (response.contains("patch")) {
    FUZZ_CHECK(response.value("patchType", "") == "JSONPatch", result.body);
    FUZZ_CHECK(response["patch"].is_string(), result.body);
    std::string decoded = base64_decode(response["patch"].get<std::string>());
    try {
      answer.patch = json::parse(decoded);
    } catch (const json::exception& e) {
      irsa::fuzz::fail(__FILE__, __LINE__, "patch is JSON", e.what());
    }
    FUZZ_CHECK(answer.patch.is_array() && !answer.patch.empty(), decoded);
    answer.has_patch = true;
  }
  answer.response = std::move(response);
  return answer;
}

void check_handler(std::size_t index, std::string_view body) {
  const Setup& s = setup();
  const auto& handler = *s.handlers[index];
  Answer first = review(handler, body);
  if (!first.has_patch) return;

  // The patch came from a review, so the body is one with a Pod object.
  Expected expected = expect(body);
  json& request = expected.document["request"];
  const json pod = request["object"];
  json mutated = apply_checked(pod, first.patch, s.strips[index]);

  std::set<std::string> before = dangling_mounts(pod);
  for (const auto& name : dangling_mounts(mutated)) {
    FUZZ_CHECK(before.count(name), "the patch leaves volume mount " + name + " without volume");
  }
  // Injected variables are never duplicated (what the user set is kept).
  auto old_containers = containers_of(pod);
  auto new_containers = containers_of(mutated);
  FUZZ_CHECK(old_containers.size() == new_containers.size(), "containers added or removed");
  for (std::size_t i = 0; i < new_containers.size(); ++i) {
    auto old_counts = injected_env_counts(*old_containers[i]);
    for (const auto& [name, count] : injected_env_counts(*new_containers[i])) {
      FUZZ_CHECK(count <= std::max(old_counts[name], 1), "duplicated " + name);
    }
  }

  // Idempotence: the mutated Pod needs nothing more.
  request["object"] = mutated;
  std::string second_body = expected.document.dump();
  Answer second = review(handler, second_body);
  FUZZ_CHECK(!second.has_patch, "second review patches again: " + second.patch.dump() +
                                    "\nfirst: " + first.patch.dump() +
                                    "\npod: " + excerpt(pod.dump(), 4000));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body = irsa::fuzz::as_text(data, size);
  for (std::size_t i = 0; i < setup().handlers.size(); ++i) check_handler(i, body);
  return 0;
}
