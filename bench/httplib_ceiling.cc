// The framework ceiling of DESIGN's performance budget: cpp-httplib's
// SSLServer, tuned (TCP_NODELAY, a thread per connection, keep-alive without
// a request limit), answering POST /mutate with a fixed body and no work.
// bench/server_bench.py runs it beside irsa-webhook in the same run.
//
// Usage: httplib_ceiling PORT CERT KEY BODY_FILE THREADS
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <httplib.h>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PORT CERT KEY BODY_FILE THREADS\n", argv[0]);
    return 2;
  }
  std::ifstream file(argv[4], std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  const std::string body = content.str();
  const int threads = std::atoi(argv[5]);

  httplib::SSLServer server(argv[2], argv[3]);
  if (!server.is_valid()) {
    std::fprintf(stderr, "cannot load %s / %s\n", argv[2], argv[3]);
    return 1;
  }
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1000000);
  server.set_keep_alive_timeout(120);
  server.Post("/mutate", [&body](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  std::signal(SIGPIPE, SIG_IGN);
  // Runs until killed (the benchmark sends SIGKILL when done).
  return server.listen("127.0.0.1", std::atoi(argv[1])) ? 0 : 1;
}
