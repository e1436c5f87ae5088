// What the server works out for an option left at 0, in one place: the
// server computes its limits with these, and `irsa-webhook --help` says the
// rule and this machine's value with the same functions, so neither can
// drift from the other.
#pragma once

#include <cstddef>

namespace irsa::server::defaults {

// The cores this process sees (a container sees its node's), at least 1.
std::size_t cores();

// RLIMIT_NOFILE's soft limit, and its hard limit (to which the serve command
// raises the soft one at start); 1 << 20 for unlimited.
std::size_t open_file_limit();
std::size_t hard_open_file_limit();

// Connections open at once (max_connections 0): the open-files limit less
// kFileReserve for everything else; half of a small limit, at least 16.
inline constexpr std::size_t kFileReserve = 256;
std::size_t max_connections(std::size_t open_files);

// Worker threads (worker_threads 0): max(kMinWorkerThreads,
// kWorkerThreadsPerCore x cores); more are added while all are busy, up to
// max(kMaxWorkerThreads, worker threads).
inline constexpr std::size_t kMinWorkerThreads = 8;
inline constexpr std::size_t kWorkerThreadsPerCore = 4;
inline constexpr std::size_t kMaxWorkerThreads = 256;
std::size_t worker_threads(std::size_t cores);
std::size_t max_worker_threads(std::size_t worker_threads);

// I/O threads (io_threads 0): one per core, at most kMaxDefaultIoThreads, so
// that memory does not scale with the node (docs/performance.md).
inline constexpr std::size_t kMaxDefaultIoThreads = 4;
std::size_t io_threads(std::size_t cores);

}  // namespace irsa::server::defaults
