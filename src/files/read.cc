// The bounded file reader: open non-blocking, fstat, read to the end.
#include "files/read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace irsa::files {

Result<std::string> read_file(const std::string& path, const ReadLimits& limits) {
  const std::string named = limits.what.empty() ? path : std::string(limits.what) + " " + path;
  auto failure = [&named](const std::string& reason) {
    return Error{"cannot read " + named + ": " + reason};
  };
  auto system_failure = [&failure](int error) {
    return failure(std::system_category().message(error));
  };
  auto too_large = [&failure, &limits] {
    const std::size_t mib = limits.max_bytes >> 20;
    return failure("larger than " + (mib > 0 ? std::to_string(mib) + " MiB"
                                             : std::to_string(limits.max_bytes) + " bytes"));
  };
  // Opened non-blocking so that a FIFO without a writer does not block the
  // open forever (it then reads as empty); reads block again, for pipes.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return system_failure(errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat info {};
  if (::fstat(fd, &info) != 0) return system_failure(errno);
  if (limits.regular_only && !S_ISREG(info.st_mode)) return failure("not a regular file");
  if (S_ISDIR(info.st_mode)) return system_failure(EISDIR);
  if (int flags = ::fcntl(fd, F_GETFL);
      flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
    return system_failure(errno);
  }
  if (S_ISREG(info.st_mode) && static_cast<uint64_t>(info.st_size) > limits.max_bytes) {
    return too_large();
  }
  std::string content;
  if (S_ISREG(info.st_mode)) content.reserve(static_cast<std::size_t>(info.st_size));
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return system_failure(errno);
    }
    if (n == 0) break;
    if (content.size() + static_cast<std::size_t>(n) > limits.max_bytes) return too_large();
    content.append(buffer, static_cast<std::size_t>(n));
  }
  return content;
}

}  // namespace irsa::files
