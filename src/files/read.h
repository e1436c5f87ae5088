// Reading a whole file, bounded: the one reader every part uses for the
// files it is given (ServiceAccounts, kubeconfig, tokens, certificates, the
// container-credentials config, manifests).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace irsa::files {

inline constexpr std::size_t kMaxFileSize = std::size_t{64} << 20;  // 64 MiB

struct ReadLimits {
  // Larger files are refused (with the limit in the message).
  std::size_t max_bytes = kMaxFileSize;
  // Refuse anything but a regular file (a FIFO, a device), for files read
  // on a thread that must stay stoppable, such as the serving certificate.
  bool regular_only = false;
  // Names the file in messages: "cannot read <what> <path>: <reason>";
  // empty: "cannot read <path>: <reason>".
  std::string_view what;
};

// Reads a whole file; the error names the path and the reason. Never blocks
// on opening a FIFO without a writer (it reads as empty); reads until the
// end rather than trusting the size (pipes and /proc files report 0).
Result<std::string> read_file(const std::string& path, const ReadLimits& limits = {});

}  // namespace irsa::files
