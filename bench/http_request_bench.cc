// CPU of reading one request off the wire (server::HttpRequestParser): the
// head the API server sends and a 4.4 KB review body, whole, in TLS-record
// sized reads, and chunked. The request path's budget is 10 µs per review
// (review_bench); this is what framing adds to it.
//
//   build/bench/http_request_bench
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "server/http_request.h"

namespace {

using irsa::server::HttpRequestParser;

std::string body_of(std::size_t size) {
  std::string body =
      "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"x\":\"";
  body.append(size - body.size() - 2, 'a');
  body += "\"}";
  return body;
}

// What kube-apiserver's client sends (Go net/http, HTTP/1.1).
std::string head_for(std::size_t length) {
  return "POST /mutate?timeout=10s HTTP/1.1\r\nHost: irsa-webhook.irsa-system.svc:443\r\n"
         "User-Agent: kube-apiserver-admission\r\nContent-Length: " +
         std::to_string(length) +
         "\r\nAccept: application/json, */*\r\nContent-Type: application/json\r\n"
         "Accept-Encoding: gzip\r\n\r\n";
}

void read_all(HttpRequestParser& parser, std::string_view wire, std::size_t piece) {
  std::size_t at = 0;
  for (;;) {
    std::size_t used = 0;
    auto state = parser.feed(wire.substr(at, piece), used);
    at += used;
    if (state == HttpRequestParser::State::kComplete ||
        state == HttpRequestParser::State::kFailed) {
      return;
    }
  }
}

void ContentLength(benchmark::State& state) {
  const std::string body = body_of(4400);
  const std::string wire = head_for(body.size()) + body;
  HttpRequestParser parser;
  const auto piece = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    parser.reset();
    read_all(parser, wire, piece);
    benchmark::DoNotOptimize(parser.request().body.data());
  }
}
BENCHMARK(ContentLength)->Arg(16384)->Arg(1400);

void Chunked(benchmark::State& state) {
  const std::string body = body_of(4400);
  std::string wire =
      "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < body.size(); at += 1024) {
    const std::string piece = body.substr(at, 1024);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    wire += size + piece + "\r\n";
  }
  wire += "0\r\n\r\n";
  HttpRequestParser parser;
  for (auto _ : state) {
    parser.reset();
    read_all(parser, wire, 16384);
    benchmark::DoNotOptimize(parser.request().body.data());
  }
}
BENCHMARK(Chunked);

}  // namespace

BENCHMARK_MAIN();
