// The file watcher: inotify on the files' folders (which sees the ..data
// rename of a Kubernetes volume update) plus a periodic stat, so that nothing
// is missed when inotify is unavailable or the event was for another file.
#include "files/watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <set>
#include <utility>

#include "log/log.h"

namespace irsa::files {

std::string stamp_of(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return "missing:" + std::to_string(errno);
  return std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino) + ":" +
         std::to_string(info.st_size) + ":" + std::to_string(info.st_mtim.tv_sec) + "." +
         std::to_string(info.st_mtim.tv_nsec);
}

namespace {

std::size_t hash_of(const std::vector<std::string>& contents) {
  std::size_t hash = contents.size();
  for (const auto& content : contents) {
    hash = hash * 1000003u ^ std::hash<std::string>{}(content);
  }
  return hash;
}

}  // namespace

FileWatcher::FileWatcher(std::vector<std::string> paths, Apply apply, FileWatcherOptions options)
    : paths_(std::move(paths)), apply_(std::move(apply)), options_(std::move(options)) {}

FileWatcher::FileWatcher(std::string path, std::function<Status(const std::string&)> apply,
                         FileWatcherOptions options)
    : FileWatcher(
          std::vector<std::string>{std::move(path)},
          [apply = std::move(apply)](const std::vector<std::string>& contents) {
            return apply(contents.front());
          },
          std::move(options)) {}

FileWatcher::~FileWatcher() { stop(); }

int FileWatcher::applied() const {
  MutexLock lock(mutex_);
  return applied_;
}

int FileWatcher::rejected() const {
  MutexLock lock(mutex_);
  return rejected_;
}

std::vector<std::string> FileWatcher::stamps() const {
  std::vector<std::string> stamps;
  stamps.reserve(paths_.size());
  for (const auto& path : paths_) stamps.push_back(stamp_of(path));
  return stamps;
}

Result<std::vector<std::string>> FileWatcher::read_all() const {
  std::vector<std::string> contents;
  contents.reserve(paths_.size());
  for (const auto& path : paths_) {
    auto text = read_file(path, options_.limits);
    if (!text) return Error{text.error()};
    contents.push_back(std::move(*text));
  }
  return contents;
}

Status FileWatcher::load() {
  MutexLock check(check_mutex_);
  stamps_ = stamps();
  auto contents = read_all();
  if (!contents) return Error{contents.error()};
  if (auto applied = apply_(*contents); !applied) return applied;
  content_hash_ = hash_of(*contents);
  MutexLock lock(mutex_);
  ++applied_;
  return Ok{};
}

Status FileWatcher::start() {
  if (auto loaded = load(); !loaded) return loaded;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Error{"file watcher: eventfd failed"};
  inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd_ >= 0) {
    std::set<std::filesystem::path> folders;
    for (const auto& path : paths_) {
      const std::filesystem::path parent = std::filesystem::path(path).parent_path();
      folders.insert(parent.empty() ? std::filesystem::path(".") : parent);
    }
    constexpr uint32_t kMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE |
                               IN_MODIFY | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
    for (const auto& folder : folders) {
      // A folder that cannot be watched is still polled.
      [[maybe_unused]] int watch = ::inotify_add_watch(inotify_fd_, folder.c_str(), kMask);
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
  MutexLock check(check_mutex_);
  std::vector<std::string> now = stamps();
  if (now == stamps_) return;
  stamps_ = std::move(now);
  auto contents = read_all();
  if (!contents) {
    report(Error{contents.error()});
    return;
  }
  std::size_t hash = hash_of(*contents);
  if (hash == content_hash_) return;  // touched or re-linked, not changed
  auto applied = apply_(*contents);
  if (applied) content_hash_ = hash;
  report(applied);
}

void FileWatcher::report(const Status& outcome) {
  {
    MutexLock lock(mutex_);
    ++(outcome ? applied_ : rejected_);
  }
  if (options_.on_outcome) {
    options_.on_outcome(outcome);
    return;
  }
  const std::string files = paths_.size() == 1 ? paths_.front() : [this] {
    std::string joined;
    for (const auto& path : paths_) joined += (joined.empty() ? "" : ", ") + path;
    return joined;
  }();
  if (outcome) {
    log::info("file reloaded", {{"what", options_.description}, {"file", files}});
  } else {
    log::warning("new file content rejected; keeping the last good one",
                 {{"what", options_.description}, {"file", files}, {"error", outcome.error()}});
  }
}

}  // namespace irsa::files
