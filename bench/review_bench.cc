// CPU per review on the request path, without the server: decode, resolve,
// plan and encode (admission::ReviewHandler::handle) and each step alone, for
// the design's 4.4 KB review (a Pod with 2 containers and 1 init container)
// and Pods of ~2 KB and ~10 KB as bench/server_bench.py sends them.
// The design's budget: at most 10 µs of CPU per review for the whole path.
//
//   build/bench/review_bench [--benchmark_filter=Handle]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "admission/review.h"
#include "admission/review_handler.h"
#include "decision/decision.h"
#include "identity/registry.h"
#include "metrics/metrics.h"
#include "mutation/pod_view.h"

namespace {

using nlohmann::json;

json container(const std::string& name, int env_count, int mounts) {
  json c = {{"name", name},
            {"image", "registry.example.com/team/" + name + ":1.2.3"},
            {"imagePullPolicy", "IfNotPresent"},
            {"ports", {{{"containerPort", 8080}, {"protocol", "TCP"}}}},
            {"resources",
             {{"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}},
              {"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}}},
            {"terminationMessagePath", "/dev/termination-log"},
            {"terminationMessagePolicy", "File"}};
  for (int i = 0; i < env_count; ++i) {
    c["env"].push_back({{"name", "SETTING_" + std::to_string(i)},
                        {"value", "value-of-setting-" + std::to_string(i)}});
  }
  c["volumeMounts"].push_back({{"name", "kube-api-access-abcde"},
                               {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"},
                               {"readOnly", true}});
  for (int i = 0; i < mounts; ++i) {
    c["volumeMounts"].push_back(
        {{"name", "data-" + std::to_string(i)}, {"mountPath", "/data/" + std::to_string(i)}});
  }
  return c;
}

std::string review(int containers, int init_containers, int env_count, int mounts) {
  json spec = {{"serviceAccountName", "app"},         {"restartPolicy", "Always"},
               {"dnsPolicy", "ClusterFirst"},         {"schedulerName", "default-scheduler"},
               {"terminationGracePeriodSeconds", 30}, {"securityContext", json::object()}};
  for (int i = 0; i < containers; ++i) {
    spec["containers"].push_back(
        container(i == 0 ? "app" : "sidecar-" + std::to_string(i), env_count, mounts));
  }
  for (int i = 0; i < init_containers; ++i) {
    spec["initContainers"].push_back(container("init-" + std::to_string(i), env_count, mounts));
  }
  spec["volumes"].push_back(
      {{"name", "kube-api-access-abcde"},
       {"projected",
        {{"defaultMode", 420},
         {"sources",
          {{{"serviceAccountToken", {{"expirationSeconds", 3607}, {"path", "token"}}}},
           {{"configMap",
             {{"name", "kube-root-ca.crt"}, {"items", {{{"key", "ca.crt"}, {"path", "ca.crt"}}}}}}},
           {{"downwardAPI",
             {{"items",
               {{{"path", "namespace"},
                 {"fieldRef",
                  {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}}}}}}}}}}});
  for (int i = 0; i < mounts; ++i) {
    spec["volumes"].push_back(
        {{"name", "data-" + std::to_string(i)}, {"emptyDir", json::object()}});
  }
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"generateName", "app-7d9f8c6b5-"},
                {"namespace", "default"},
                {"labels", {{"app", "app"}, {"pod-template-hash", "7d9f8c6b5"}}},
                {"ownerReferences",
                 {{{"apiVersion", "apps/v1"},
                   {"kind", "ReplicaSet"},
                   {"name", "app-7d9f8c6b5"},
                   {"uid", "5f1e2d3c-4b5a-6978-8877-665544332211"},
                   {"controller", true},
                   {"blockOwnerDeletion", true}}}}}},
              {"spec", spec}};
  json body = {{"apiVersion", "admission.k8s.io/v1"},
               {"kind", "AdmissionReview"},
               {"request",
                {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
                 {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                 {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
                 {"requestKind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                 {"requestResource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
                 {"namespace", "default"},
                 {"operation", "CREATE"},
                 {"userInfo",
                  {{"username", "system:serviceaccount:kube-system:replicaset-controller"},
                   {"uid", "a1b2c3d4-0000-1111-2222-333344445555"},
                   {"groups",
                    {"system:serviceaccounts", "system:serviceaccounts:kube-system",
                     "system:authenticated"}}}},
                 {"object", pod},
                 {"oldObject", nullptr},
                 {"dryRun", false},
                 {"options", {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "CreateOptions"}}}}}};
  return body.dump();
}

struct Fixture {
  irsa::identity::ServiceAccountRegistry registry;
  std::unique_ptr<irsa::identity::IdentityResolver> resolver;
  std::unique_ptr<irsa::admission::ReviewHandler> handler;
  irsa::decision::Config config;  // default options, static credentials stripped
  std::map<std::string, std::string> bodies;
};

Fixture& fixture() {
  static Fixture* f = [] {
    auto* s = new Fixture;
    std::map<std::string, std::string, std::less<>> annotations = {
        {"eks.amazonaws.com/role-arn", "arn:aws:iam::111122223333:role/app"}};
    s->registry.upsert(
        "default", "app",
        irsa::identity::parse_service_account_annotations(annotations, "eks.amazonaws.com"));
    s->resolver =
        std::make_unique<irsa::identity::IdentityResolver>(s->registry, irsa::identity::Defaults{});
    s->handler = std::make_unique<irsa::admission::ReviewHandler>(
        *s->resolver, s->config.mutation, s->config.static_credentials, [] { return 0.5; });
    s->bodies["2KB"] = review(1, 0, 4, 1);
    s->bodies["4.4KB"] = review(2, 1, 6, 2);
    s->bodies["10KB"] = review(3, 1, 10, 3);
    return s;
  }();
  return *f;
}

const std::string& body(const benchmark::State& state) {
  static const char* names[] = {"2KB", "4.4KB", "10KB"};
  return fixture().bodies.at(names[state.range(0)]);
}

void label(benchmark::State& state) {
  state.SetLabel(std::to_string(body(state).size()) + " bytes");
  state.SetItemsProcessed(state.iterations());
}

// The whole path, as the server calls it.
void Handle(benchmark::State& state) {
  const std::string& text = body(state);
  auto& handler = *fixture().handler;
  for (auto _ : state) {
    auto result = handler.handle(text);
    if (result.http_status != 200 || result.outcome != irsa::admission::Outcome::kMutated) {
      state.SkipWithError("the review was not mutated");
      break;
    }
    benchmark::DoNotOptimize(result.body.data());
  }
  label(state);
}

// What the server records per review on top of the path: Arg 0 our own
// metrics (review, mutation, HTTP response), Arg 1 those and AWS's webhook's
// names (pod_count, http_request_count/latencies/duration_microseconds).
void RecordMetrics(benchmark::State& state) {
  static irsa::metrics::Metrics metrics("bench", "bench");
  const bool aws_names = state.range(0) == 1;
  for (auto _ : state) {
    metrics.record_review(irsa::metrics::ReviewOutcome::kMutated, std::chrono::microseconds(8));
    metrics.record_mutation(irsa::metrics::MutationMode::kWebIdentity);
    metrics.record_http_response("mutate", 200);
    if (aws_names) {
      metrics.record_pod_identity(irsa::metrics::MutationMode::kWebIdentity);
      metrics.record_mutate_request("POST", 200, std::chrono::microseconds(40));
    }
  }
  state.SetLabel(aws_names ? "ours + AWS's names" : "ours");
  state.SetItemsProcessed(state.iterations());
}

void Decode(benchmark::State& state) {
  const std::string& text = body(state);
  simdjson::dom::parser parser;
  for (auto _ : state) {
    auto request = irsa::admission::decode_review(parser, text);
    benchmark::DoNotOptimize(request.ok());
  }
  label(state);
}

void ReadPod(benchmark::State& state) {
  const std::string& text = body(state);
  simdjson::dom::parser parser;
  auto request = irsa::admission::decode_review(parser, text);
  for (auto _ : state) {
    auto pod = irsa::mutation::read_pod(*request->object);
    benchmark::DoNotOptimize(pod.ok());
  }
  label(state);
}

void Resolve(benchmark::State& state) {
  auto& f = fixture();
  for (auto _ : state) {
    auto lookup = f.resolver->resolve("default", "app");
    benchmark::DoNotOptimize(lookup.identity.has_value());
  }
  label(state);
}

// The steps before decide, done once: the Pod read from the body.
struct Read {
  simdjson::dom::parser parser;
  irsa::Result<irsa::admission::ReviewRequest> request;
  irsa::Result<irsa::mutation::PodView> pod;
  irsa::identity::IdentityResolver::Lookup lookup;

  explicit Read(const benchmark::State& state)
      : request(irsa::admission::decode_review(parser, body(state))),
        pod(irsa::mutation::read_pod(*request->object)),
        lookup(fixture().resolver->resolve("default", "app")) {}
};

void Decide(benchmark::State& state) {
  auto& f = fixture();
  Read read(state);
  for (auto _ : state) {
    auto decision = irsa::decision::decide(*read.pod, read.lookup, f.config, 0.5);
    benchmark::DoNotOptimize(decision.patch.size());
  }
  label(state);
}

void Encode(benchmark::State& state) {
  auto& f = fixture();
  Read read(state);
  irsa::admission::ReviewResponse response;
  response.uid = std::string(read.request->uid);
  response.patch = irsa::decision::decide(*read.pod, read.lookup, f.config, 0.5).patch;
  for (auto _ : state) {
    auto encoded = irsa::admission::encode_review_response(response);
    benchmark::DoNotOptimize(encoded.data());
  }
  label(state);
}

BENCHMARK(Handle)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK(RecordMetrics)->DenseRange(0, 1)->Unit(benchmark::kNanosecond);
BENCHMARK(Decode)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK(ReadPod)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK(Resolve)->Arg(0)->Unit(benchmark::kMicrosecond);
BENCHMARK(Decide)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK(Encode)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
