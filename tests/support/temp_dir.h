// A fresh folder under the system's temporary folder for one test, removed
// with its content when the test ends; the one the unit tests share.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace irsa::test_support {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "irsa-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The folder; empty when it could not be made.
  const std::string& path() const { return path_; }
  // `name` inside it.
  std::string path(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` (bytes as given) to `name` inside it; returns its path.
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }

 private:
  std::string path_;
};

}  // namespace irsa::test_support
