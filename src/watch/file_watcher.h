// Follows a configuration file and hands each new content to a callback:
// edits in place, replacement by rename, and the symlink swap Kubernetes uses
// to update ConfigMap and Secret volumes (..data -> ..<timestamp>). Content
// that the callback rejects leaves the last good one in force (the callback
// decides) and is logged with the reason.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/thread_annotations.h"

namespace irsa::watch {

struct FileWatcherOptions {
  // Checked at least this often, and also on inotify events of the file's
  // folder.
  std::chrono::milliseconds poll_interval{2000};
  // For logs: "container-credentials config".
  std::string description = "file";
};

class FileWatcher {
 public:
  // `apply` gets the whole new content; an error means "rejected".
  using Apply = std::function<Status(const std::string& content)>;

  FileWatcher(std::string path, Apply apply, FileWatcherOptions options = {});
  ~FileWatcher();  // stop()
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Reads and applies the file once (an error here is a start-up error), then
  // follows it on a thread this object owns.
  Status start();
  // Stops and joins. Idempotent.
  void stop();

  // How many contents were applied / rejected since start (tests, metrics).
  int applied() const;
  int rejected() const;

 private:
  void run();
  // Re-reads the file when it looks different; applies new content.
  void check();

  std::string path_;
  Apply apply_;
  FileWatcherOptions options_;
  std::string fingerprint_;  // of the file last read
  std::size_t content_hash_ = 0;
  bool missing_reported_ = false;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;

  mutable Mutex mutex_;
  int applied_ IRSA_GUARDED_BY(mutex_) = 0;
  int rejected_ IRSA_GUARDED_BY(mutex_) = 0;
  bool stopping_ IRSA_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace irsa::watch
