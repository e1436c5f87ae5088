// Following a config file: in-place edits, rename, the Kubernetes volume
// symlink swap, rejected content keeping the last good one.
#include "files/watcher.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/eventually.h"
#include "support/temp_dir.h"

namespace irsa::files {
namespace {

namespace fs = std::filesystem;

using test_support::eventually;
using test_support::TempDir;

class FileWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }
  void TearDown() override { watcher_.reset(); }
  void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }
  std::string current() {
    std::lock_guard lock(mutex_);
    return current_;
  }
  Status start(const fs::path& path,
               std::chrono::milliseconds poll = std::chrono::milliseconds(5000)) {
    FileWatcherOptions options;
    options.poll_interval = poll;
    options.description = "test config";
    watcher_ = std::make_unique<FileWatcher>(
        path.string(),
        [this](const std::string& text) -> Status {
          if (text.rfind("good:", 0) != 0) return Error{"not good"};
          std::lock_guard lock(mutex_);
          current_ = text;
          return Ok{};
        },
        options);
    return watcher_->start();
  }

  TempDir temp_;
  fs::path dir_ = temp_.path();
  std::mutex mutex_;
  std::string current_;
  std::unique_ptr<FileWatcher> watcher_;
};

TEST_F(FileWatcherTest, AppliesTheFileAtStartAndFailsOnABadOne) {
  write(dir_ / "config", "bad");
  EXPECT_FALSE(start(dir_ / "config"));
  write(dir_ / "config", "good:1");
  ASSERT_TRUE(start(dir_ / "config"));
  EXPECT_EQ(current(), "good:1");
  EXPECT_FALSE(FileWatcher((dir_ / "absent").string(), [](const std::string&) -> Status {
                 return Ok{};
               }).start());
}

TEST_F(FileWatcherTest, ReloadsAnEditAndARename) {
  write(dir_ / "config", "good:1");
  ASSERT_TRUE(start(dir_ / "config"));
  write(dir_ / "config", "good:2");
  ASSERT_TRUE(eventually([&] { return current() == "good:2"; }, std::chrono::milliseconds(3000)));
  write(dir_ / "config.new", "good:3");
  fs::rename(dir_ / "config.new", dir_ / "config");
  ASSERT_TRUE(eventually([&] { return current() == "good:3"; }, std::chrono::milliseconds(3000)));
}

TEST_F(FileWatcherTest, FollowsTheKubernetesVolumeSymlinkSwap) {
  // config -> ..data/config, ..data -> ..2024_01 (what the kubelet lays out).
  fs::create_directories(dir_ / "..2024_01");
  write(dir_ / "..2024_01" / "config", "good:v1");
  fs::create_directory_symlink("..2024_01", dir_ / "..data");
  fs::create_symlink("..data/config", dir_ / "config");
  ASSERT_TRUE(start(dir_ / "config"));
  EXPECT_EQ(current(), "good:v1");

  fs::create_directories(dir_ / "..2024_02");
  write(dir_ / "..2024_02" / "config", "good:v2");
  fs::create_directory_symlink("..2024_02", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  fs::remove_all(dir_ / "..2024_01");
  ASSERT_TRUE(eventually([&] { return current() == "good:v2"; }, std::chrono::milliseconds(3000)));
}

TEST_F(FileWatcherTest, ABadNewFileKeepsTheLastGoodOne) {
  write(dir_ / "config", "good:1");
  ASSERT_TRUE(start(dir_ / "config"));
  write(dir_ / "config", "broken");
  ASSERT_TRUE(
      eventually([&] { return watcher_->rejected() == 1; }, std::chrono::milliseconds(3000)));
  EXPECT_EQ(current(), "good:1");
  fs::remove(dir_ / "config");
  // Nothing to wait for: what is checked is that nothing happens meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(current(), "good:1");
  write(dir_ / "config", "good:2");
  ASSERT_TRUE(eventually([&] { return current() == "good:2"; }, std::chrono::milliseconds(3000)));
}

TEST_F(FileWatcherTest, PollingAloneNoticesChanges) {
  write(dir_ / "config", "good:1");
  ASSERT_TRUE(start(dir_ / "config", std::chrono::milliseconds(50)));
  write(dir_ / "config", "good:2");
  ASSERT_TRUE(eventually([&] { return current() == "good:2"; }, std::chrono::milliseconds(3000)));
}

TEST_F(FileWatcherTest, StopsPromptly) {
  write(dir_ / "config", "good:1");
  ASSERT_TRUE(start(dir_ / "config", std::chrono::milliseconds(60000)));
  const auto started = std::chrono::steady_clock::now();
  watcher_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1000));
}

TEST_F(FileWatcherTest, FollowsSeveralFilesAsOneUnit) {
  // As the certificate and its key: a change to either hands over both.
  write(dir_ / "tls.crt", "cert:1");
  write(dir_ / "tls.key", "key:1");
  std::mutex mutex;
  std::vector<std::string> seen;
  FileWatcherOptions options;
  options.poll_interval = std::chrono::milliseconds(5000);
  FileWatcher watcher(
      {(dir_ / "tls.crt").string(), (dir_ / "tls.key").string()},
      [&](const std::vector<std::string>& contents) -> Status {
        std::lock_guard lock(mutex);
        seen.push_back(contents.at(0) + "+" + contents.at(1));
        return Ok{};
      },
      options);
  ASSERT_TRUE(watcher.start());
  write(dir_ / "tls.key.new", "key:2");
  fs::rename(dir_ / "tls.key.new", dir_ / "tls.key");
  ASSERT_TRUE(eventually(
      [&] {
        std::lock_guard lock(mutex);
        return !seen.empty() && seen.back() == "cert:1+key:2";
      },
      std::chrono::milliseconds(3000)));
  watcher.stop();
  EXPECT_EQ(seen.front(), "cert:1+key:1");
}

TEST_F(FileWatcherTest, CheckOnTheCallersThreadAppliesOnlyNewContent) {
  // The API token's way: no thread, a check before each use.
  write(dir_ / "token", "good:1");
  int calls = 0;
  std::string last;
  FileWatcher watcher((dir_ / "token").string(), [&](const std::string& text) -> Status {
    ++calls;
    last = text;
    return Ok{};
  });
  ASSERT_TRUE(watcher.load());
  EXPECT_EQ(last, "good:1");
  watcher.check();
  EXPECT_EQ(calls, 1);  // nothing changed
  write(dir_ / "token.new", "good:2");
  fs::rename(dir_ / "token.new", dir_ / "token");
  watcher.check();
  EXPECT_EQ(last, "good:2");
  EXPECT_EQ(calls, 2);
  write(dir_ / "token.new", "good:2");  // another inode, the same content
  fs::rename(dir_ / "token.new", dir_ / "token");
  watcher.check();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(watcher.applied(), 2);
}

}  // namespace
}  // namespace irsa::files
