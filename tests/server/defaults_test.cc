// The limits the server works out for an option left at 0 (and that
// --help states): connections from the open-files limit, threads from the
// cores.
#include "server/defaults.h"

#include <gtest/gtest.h>

namespace irsa::server::defaults {
namespace {

TEST(ServerDefaults, ConnectionsLeaveAReserveOfOpenFiles) {
  EXPECT_EQ(max_connections(1048576), 1048576u - 256);
  EXPECT_EQ(max_connections(1024), 768u);
  EXPECT_EQ(max_connections(513), 257u);
  // A small limit: half of it, at least 16.
  EXPECT_EQ(max_connections(512), 256u);
  EXPECT_EQ(max_connections(100), 50u);
  EXPECT_EQ(max_connections(10), 16u);
  EXPECT_GE(open_file_limit(), 1u);
  EXPECT_GE(hard_open_file_limit(), open_file_limit());
}

TEST(ServerDefaults, ThreadsFollowTheCores) {
  EXPECT_EQ(worker_threads(1), 8u);
  EXPECT_EQ(worker_threads(2), 8u);
  EXPECT_EQ(worker_threads(16), 64u);
  EXPECT_EQ(max_worker_threads(8), 256u);
  EXPECT_EQ(max_worker_threads(300), 300u);
  EXPECT_EQ(io_threads(1), 1u);
  EXPECT_EQ(io_threads(3), 3u);
  EXPECT_EQ(io_threads(64), 4u);
  EXPECT_GE(cores(), 1u);
}

}  // namespace
}  // namespace irsa::server::defaults
