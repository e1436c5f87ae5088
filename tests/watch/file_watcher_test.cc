// Following a config file: in-place edits, rename, the Kubernetes volume
// symlink swap, rejected content keeping the last good one.
#include "watch/file_watcher.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace irsa::watch {
namespace {

namespace fs = std::filesystem;

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 10000; ++i) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

class FileWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "irsa-watch-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    watcher_.reset();
    fs::remove_all(dir_);
  }
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

  fs::path dir_;
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

}  // namespace
}  // namespace irsa::watch
