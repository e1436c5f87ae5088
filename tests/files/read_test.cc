// The one file reader: whole content, the path and the reason in errors,
// the size limit, and regular_only for files read on a stoppable thread.
#include "files/read.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace irsa::files {
namespace {

using namespace std::string_literals;
using ::testing::HasSubstr;

using test_support::TempDir;

TEST(ReadFile, ReadsTheWholeFile) {
  TempDir dir;
  std::string content = "line 1\nline 2\0binary"s;
  auto path = dir.write("f.txt", content);
  auto result = read_file(path);
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(*result, content);
}

TEST(ReadFile, MissingFileNamesThePathAndReason) {
  TempDir dir;
  auto result = read_file(dir.path("absent.yaml"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(),
            "cannot read " + dir.path("absent.yaml") + ": No such file or directory");
}

TEST(ReadFile, DirectoryIsAnError) {
  TempDir dir;
  auto result = read_file(dir.path(""));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error(), HasSubstr("Is a directory"));
}

TEST(ReadFile, RefusesFilesLargerThanTheLimit) {
  TempDir dir;
  auto path = dir.path("big.yaml");
  {
    std::ofstream out(path, std::ios::binary);
    out.seekp(static_cast<std::streamoff>(kMaxFileSize));  // sparse: kMaxFileSize + 1 bytes
    out.put('x');
  }
  auto result = read_file(path);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error(), HasSubstr("larger than 64 MiB"));
}

TEST(ReadFile, ALimitBelowTheDefaultIsNamedInTheMessage) {
  TempDir dir;
  auto path = dir.write("cert.pem", std::string(2 * 1024 * 1024, 'x'));
  ReadLimits limits;
  limits.max_bytes = 1024 * 1024;
  limits.what = "the TLS certificate";
  auto result = read_file(path, limits);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), "cannot read the TLS certificate " + path + ": larger than 1 MiB");
  limits.max_bytes = 3 * 1024 * 1024;
  EXPECT_TRUE(read_file(path, limits).ok());
}

TEST(ReadFile, RegularOnlyRefusesAFifoAndADeviceAtOnce) {
  TempDir dir;
  auto fifo = dir.path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ReadLimits limits;
  limits.regular_only = true;
  auto from_fifo = read_file(fifo, limits);
  ASSERT_FALSE(from_fifo.ok());
  EXPECT_EQ(from_fifo.error(), "cannot read " + fifo + ": not a regular file");
  auto from_device = read_file("/dev/zero", limits);
  ASSERT_FALSE(from_device.ok());
  EXPECT_THAT(from_device.error(), HasSubstr("not a regular file"));
  // Without regular_only the FIFO reads as empty (no writer), as before.
  auto lenient = read_file(fifo);
  ASSERT_TRUE(lenient.ok()) << lenient.error();
  EXPECT_EQ(*lenient, "");
}

}  // namespace
}  // namespace irsa::files
