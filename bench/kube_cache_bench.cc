// kube_cache_bench: how much memory irsa-webhook needs to cache many
// ServiceAccounts from the API server, and how long it takes from start to
// ready. Starts the fake API server (fake-apiserver) with N ServiceAccounts,
// then the real irsa-webhook with --kubeconfig pointing at it, polls /readyz,
// and reads the webhook's RSS from /proc.
//
//   kube_cache_bench [--count 100000] [--annotated-every 10] [--namespaces 1000]
//                    [--webhook PATH] [--fake PATH] [--unpaginated 1]
//
// --unpaginated 1: the fake answers the first list (resourceVersion=0) in one
// response, ignoring limit, as kube-apiserver's watch cache did before 1.33.
//
// Both programs default to the folder this benchmark runs from (the build
// folder). Prints one line per measurement; exits non-zero on failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
  ~Child() { stop(); }
  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

bool spawn(Child& child, const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    FILE* out = std::freopen(log.c_str(), "w", stdout);
    if (out) ::dup2(::fileno(stdout), STDERR_FILENO);
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  child.pid = pid;
  return true;
}

int run(const std::vector<std::string>& args) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// VmRSS and VmHWM of a process, in KiB.
std::pair<long, long> memory_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  long rss = -1;
  long peak = -1;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) peak = std::atol(line.c_str() + 6);
  }
  return {rss, peak};
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int fail(const std::string& message) {
  std::fprintf(stderr, "kube_cache_bench: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  long count = 100000;
  long annotated_every = 10;
  long namespaces = 1000;
  bool unpaginated = false;
  fs::path here = fs::absolute(fs::path(argv[0])).parent_path();
  std::string webhook = (here.parent_path() / "irsa-webhook").string();
  if (!fs::exists(webhook)) webhook = (here / "irsa-webhook").string();
  std::string fake = (here.parent_path() / "fake-apiserver").string();
  if (!fs::exists(fake)) fake = (here / "fake-apiserver").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--count") {
      count = std::atol(value.c_str());
    } else if (flag == "--annotated-every") {
      annotated_every = std::atol(value.c_str());
    } else if (flag == "--namespaces") {
      namespaces = std::atol(value.c_str());
    } else if (flag == "--unpaginated") {
      unpaginated = value == "1" || value == "true";
    } else if (flag == "--webhook") {
      webhook = value;
    } else if (flag == "--fake") {
      fake = value;
    } else {
      return fail("unknown flag " + flag);
    }
  }
  signal(SIGPIPE, SIG_IGN);

  std::string pattern = (fs::temp_directory_path() / "irsa-bench-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) return fail("mkdtemp failed");
  const fs::path dir = pattern;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{dir};

  if (run({fake, "--write-pki", dir.string()}) != 0) return fail("cannot run " + fake);

  // The API server with `count` ServiceAccounts.
  Child api;
  const std::string ready_file = (dir / "fake.ready").string();
  const int api_port = free_port();
  std::vector<std::string> fake_args = {fake,
                                        "--tls-cert",
                                        (dir / "server.crt").string(),
                                        "--tls-key",
                                        (dir / "server.key").string(),
                                        "--token",
                                        "bench-token",
                                        "--port",
                                        std::to_string(api_port),
                                        "--ready-file",
                                        ready_file};
  if (unpaginated) fake_args.push_back("--unpaginated-cache-lists");
  if (!spawn(api, fake_args, (dir / "fake.log").string())) {
    return fail("cannot start " + fake);
  }
  for (int i = 0; i < 1000 && !fs::exists(ready_file); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string ready = read_all(ready_file);
  auto admin_at = ready.find("\"admin_port\":");
  if (admin_at == std::string::npos) return fail("fake-apiserver did not start");
  const int admin_port = std::atoi(ready.c_str() + admin_at + 13);
  httplib::Client admin("127.0.0.1", admin_port);
  admin.set_read_timeout(120, 0);
  std::string body = "{\"count\":" + std::to_string(count) +
                     ",\"namespaces\":" + std::to_string(namespaces) +
                     ",\"annotated_every\":" + std::to_string(annotated_every) + "}";
  auto generated = admin.Post("/generate", body, "application/json");
  if (!generated || generated->status != 200) return fail("cannot generate ServiceAccounts");

  std::ofstream(dir / "kubeconfig")
      << "apiVersion: v1\nkind: Config\ncurrent-context: bench\n"
      << "contexts: [{name: bench, context: {cluster: fake, user: bench}}]\n"
      << "clusters: [{name: fake, cluster: {server: 'https://127.0.0.1:" << api_port
      << "', certificate-authority: '" << (dir / "ca.crt").string() << "'}}]\n"
      << "users: [{name: bench, user: {token: bench-token}}]\n";

  // The webhook, from exec to ready.
  Child hook;
  const int port = free_port();
  const auto started = Clock::now();
  if (!spawn(hook,
             {webhook, "--port", std::to_string(port), "--bind-address", "127.0.0.1", "--tls-cert",
              (dir / "server.crt").string(), "--tls-key", (dir / "server.key").string(),
              "--kubeconfig", (dir / "kubeconfig").string(), "--in-cluster=false"},
             (dir / "webhook.log").string())) {
    return fail("cannot start " + webhook);
  }
  httplib::SSLClient probe("127.0.0.1", port);
  probe.enable_server_certificate_verification(false);
  probe.set_connection_timeout(1, 0);
  probe.set_read_timeout(2, 0);
  bool is_ready = false;
  for (int i = 0; i < 120000 && Clock::now() - started < std::chrono::seconds(120); ++i) {
    if (::waitpid(hook.pid, nullptr, WNOHANG) == hook.pid) {
      hook.pid = -1;
      break;
    }
    auto answer = probe.Get("/readyz");
    if (answer && answer->status == 200) {
      is_ready = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto ready_after = Clock::now() - started;
  if (!is_ready) {
    return fail("webhook not ready within 120 s; its log:\n" +
                read_all((dir / "webhook.log").string()));
  }
  auto [rss_at_ready, peak_at_ready] = memory_of(hook.pid);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the first watch settle
  auto [rss, peak] = memory_of(hook.pid);

  std::printf("service accounts      %ld in %ld namespaces, 1 in %ld annotated\n", count,
              namespaces, annotated_every);
  std::printf("first list            %s\n",
              unpaginated ? "one response (limit ignored at resourceVersion=0)" : "pages of 500");
  std::printf("start to ready        %.0f ms\n",
              std::chrono::duration<double, std::milli>(ready_after).count());
  std::printf("RSS at ready          %.1f MiB\n", rss_at_ready / 1024.0);
  std::printf("RSS 2 s later         %.1f MiB\n", rss / 1024.0);
  std::printf("peak RSS (VmHWM)      %.1f MiB\n", std::max(peak, peak_at_ready) / 1024.0);
  std::printf("budget                40.0 MiB (DESIGN.md)\n");
  hook.stop();
  api.stop();
  return rss <= 40 * 1024 ? 0 : 3;
}
