// Bugs found while documenting docs/bad-input.md, reproduced at the unit.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "files/read.h"

namespace irsa::files {
namespace {

namespace fs = std::filesystem;

// read_file (every --service-accounts-file, --kubeconfig, token file,
// container-credentials file and `mutate`/`audit` input) waited forever to
// open a FIFO that nobody writes. Before the fix this test never ends.
TEST(BadInputRegression, FifoWithoutWriterReadsAsEmptyInsteadOfBlocking) {
  fs::path fifo = fs::temp_directory_path() / ("irsa-bad-input-" + std::to_string(::getpid()));
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto text = read_file(fifo);
  fs::remove(fifo);
  ASSERT_TRUE(text.ok()) << text.error();
  EXPECT_EQ(*text, "");
}

// A pipe with a writer is still read to its end (`mutate --pod <(...)`).
TEST(BadInputRegression, PipeWithWriterIsReadWhole) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string content = "kind: Pod\n";
  ASSERT_EQ(::write(fds[1], content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fds[1]);
  auto text = read_file("/proc/self/fd/" + std::to_string(fds[0]));
  ::close(fds[0]);
  ASSERT_TRUE(text.ok()) << text.error();
  EXPECT_EQ(*text, content);
}

}  // namespace
}  // namespace irsa::files
