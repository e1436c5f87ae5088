// The file watcher: inotify on the file's folder (which sees the ..data
// rename of a Kubernetes volume update) plus a periodic stat, so that nothing
// is missed when inotify is unavailable or the event was for another file.
#include "watch/file_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <functional>

#include "log/log.h"
#include "manifest/documents.h"

namespace irsa::watch {
namespace {

// stat() follows symlinks: a swapped ..data link shows up as a new inode.
std::string fingerprint_of(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  return std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino) + ":" +
         std::to_string(info.st_size) + ":" + std::to_string(info.st_mtim.tv_sec) + "." +
         std::to_string(info.st_mtim.tv_nsec);
}

}  // namespace

FileWatcher::FileWatcher(std::string path, Apply apply, FileWatcherOptions options)
    : path_(std::move(path)), apply_(std::move(apply)), options_(std::move(options)) {}

FileWatcher::~FileWatcher() { stop(); }

int FileWatcher::applied() const {
  MutexLock lock(mutex_);
  return applied_;
}

int FileWatcher::rejected() const {
  MutexLock lock(mutex_);
  return rejected_;
}

Status FileWatcher::start() {
  fingerprint_ = fingerprint_of(path_);
  auto text = manifest::read_file(path_);
  if (!text) return Error{text.error()};
  if (auto applied = apply_(*text); !applied) return applied;
  content_hash_ = std::hash<std::string>{}(*text);
  {
    MutexLock lock(mutex_);
    ++applied_;
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Error{"file watcher: eventfd failed"};
  inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd_ >= 0) {
    const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    const std::filesystem::path folder = parent.empty() ? std::filesystem::path(".") : parent;
    constexpr uint32_t kMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE |
                               IN_MODIFY | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
    if (::inotify_add_watch(inotify_fd_, folder.c_str(), kMask) < 0) {
      ::close(inotify_fd_);
      inotify_fd_ = -1;
    }
  }
  thread_ = std::thread([this] { run(); });
  return Ok{};
}

void FileWatcher::stop() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  inotify_fd_ = -1;
  wake_fd_ = -1;
}

void FileWatcher::run() {
  std::array<char, 4096> events{};
  for (;;) {
    {
      MutexLock lock(mutex_);
      if (stopping_) return;
    }
    std::array<pollfd, 2> fds{};
    fds[0] = {wake_fd_, POLLIN, 0};
    fds[1] = {inotify_fd_, POLLIN, 0};
    int count = inotify_fd_ >= 0 ? 2 : 1;
    int ready = ::poll(fds.data(), count, static_cast<int>(options_.poll_interval.count()));
    if (ready > 0 && (fds[0].revents & POLLIN)) return;
    if (ready > 0 && count == 2 && (fds[1].revents & POLLIN)) {
      // Drain; which file changed does not matter, check() compares.
      for (int i = 0; i < 64 && ::read(inotify_fd_, events.data(), events.size()) > 0; ++i) {
      }
      // A volume update is a burst of events; let it settle a moment.
      pollfd wake{wake_fd_, POLLIN, 0};
      if (::poll(&wake, 1, 50) > 0) return;
    }
    check();
  }
}

void FileWatcher::check() {
  std::string fingerprint = fingerprint_of(path_);
  if (fingerprint.empty()) {
    if (!missing_reported_) {
      log::warning("file is missing; keeping the last good content",
                   {{"what", options_.description}, {"file", path_}});
      missing_reported_ = true;
    }
    return;
  }
  missing_reported_ = false;
  if (fingerprint == fingerprint_) return;
  auto text = manifest::read_file(path_);
  if (!text) {
    log::warning("cannot read file; keeping the last good content",
                 {{"what", options_.description}, {"error", text.error()}});
    return;
  }
  fingerprint_ = std::move(fingerprint);
  std::size_t hash = std::hash<std::string>{}(*text);
  if (hash == content_hash_) return;
  content_hash_ = hash;
  auto applied = apply_(*text);
  MutexLock lock(mutex_);
  if (applied) {
    ++applied_;
    log::info("file reloaded", {{"what", options_.description}, {"file", path_}});
  } else {
    ++rejected_;
    log::warning("new file content rejected; keeping the last good one",
                 {{"what", options_.description}, {"file", path_}, {"error", applied.error()}});
  }
}

}  // namespace irsa::watch
