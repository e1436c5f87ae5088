// Following files that are replaced while the program runs: edits in place,
// replacement by rename, and the symlink swap Kubernetes uses to update
// Secret and ConfigMap volumes (..data -> ..<timestamp>). The one change
// detector: the serving certificate, the container-credentials config and
// the API server's token file all go through it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/thread_annotations.h"
#include "files/read.h"

namespace irsa::files {

// What identifies a file's content without reading it: device, inode, size
// and modification time. stat() follows symlinks, so a swapped ..data link
// shows up as another inode. A file that cannot be stat'ed has a stamp too
// ("missing:<errno>"), so that its disappearance is a change.
std::string stamp_of(const std::string& path);

struct FileWatcherOptions {
  // Checked at least this often, and also on inotify events of the files'
  // folders (when started on a thread).
  std::chrono::milliseconds poll_interval{2000};
  // For logs: "container-credentials config".
  std::string description = "file";
  // How each file is read.
  ReadLimits limits;
  // Called (on the checking thread) after each attempt at new content: Ok
  // when it was applied, else why not (a file missing or unreadable, or
  // `apply` refused it). Unset: the watcher logs it, naming `description`.
  std::function<void(const Status& outcome)> on_outcome;
};

// Reads its files when one of them changes and hands their contents to
// `apply`. Content that `apply` rejects leaves the last good one in force
// (`apply` decides what is in force) and is retried when the files change
// again. Content identical to the last applied is not applied again.
class FileWatcher {
 public:
  // `contents` are the files' contents in the order of `paths`; an error
  // means "rejected".
  using Apply = std::function<Status(const std::vector<std::string>& contents)>;

  FileWatcher(std::vector<std::string> paths, Apply apply, FileWatcherOptions options = {});
  // One file.
  FileWatcher(std::string path, std::function<Status(const std::string& content)> apply,
              FileWatcherOptions options = {});
  ~FileWatcher();  // stop()
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Reads and applies the files once; the error (unreadable, rejected) is
  // a start-up error. No thread: later changes are seen by check().
  Status load() IRSA_EXCLUDES(check_mutex_, mutex_);
  // load(), then follows the files on a thread this object owns.
  Status start() IRSA_EXCLUDES(check_mutex_, mutex_);
  // Stops and joins. Idempotent.
  void stop() IRSA_EXCLUDES(mutex_);

  // On the caller's thread: re-reads and applies the files when a stamp
  // changed since the last check. Owners without a thread (a token read on
  // demand) call this before each use; it costs a stat per file.
  void check() IRSA_EXCLUDES(check_mutex_, mutex_);

  // How many contents were applied / rejected since load (tests, metrics).
  int applied() const IRSA_EXCLUDES(mutex_);
  int rejected() const IRSA_EXCLUDES(mutex_);

 private:
  void run() IRSA_EXCLUDES(check_mutex_, mutex_);
  std::vector<std::string> stamps() const;
  Result<std::vector<std::string>> read_all() const;
  void report(const Status& outcome) IRSA_EXCLUDES(mutex_);

  const std::vector<std::string> paths_;
  const Apply apply_;
  const FileWatcherOptions options_;

  // Held while checking and applying: one check at a time.
  Mutex check_mutex_ IRSA_ACQUIRED_BEFORE(mutex_);
  std::vector<std::string> stamps_ IRSA_GUARDED_BY(check_mutex_);  // last read or tried
  std::size_t content_hash_ IRSA_GUARDED_BY(check_mutex_) = 0;     // last applied

  mutable Mutex mutex_;
  int applied_ IRSA_GUARDED_BY(mutex_) = 0;
  int rejected_ IRSA_GUARDED_BY(mutex_) = 0;
  bool stopping_ IRSA_GUARDED_BY(mutex_) = false;
  int inotify_fd_ = -1;  // set before the thread starts, closed after it joined
  int wake_fd_ = -1;
  std::thread thread_;
};

}  // namespace irsa::files
