// The server's computed defaults.
#include "server/defaults.h"

#include <sys/resource.h>

#include <algorithm>
#include <thread>

namespace irsa::server::defaults {
namespace {

constexpr std::size_t kUnlimitedFiles = std::size_t{1} << 20;

std::size_t files(rlim_t limit) {
  return limit == RLIM_INFINITY ? kUnlimitedFiles : static_cast<std::size_t>(limit);
}

}  // namespace

std::size_t cores() { return std::max(1u, std::thread::hardware_concurrency()); }

std::size_t open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return kUnlimitedFiles;
  return files(limit.rlim_cur);
}

std::size_t hard_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return kUnlimitedFiles;
  return files(limit.rlim_max);
}

std::size_t max_connections(std::size_t open_files) {
  return open_files > 2 * kFileReserve ? open_files - kFileReserve
                                       : std::max<std::size_t>(open_files / 2, 16);
}

std::size_t worker_threads(std::size_t cores) {
  return std::max(kMinWorkerThreads, kWorkerThreadsPerCore * cores);
}

std::size_t max_worker_threads(std::size_t worker_threads) {
  return std::max(kMaxWorkerThreads, worker_threads);
}

std::size_t io_threads(std::size_t cores) { return std::min(cores, kMaxDefaultIoThreads); }

}  // namespace irsa::server::defaults
