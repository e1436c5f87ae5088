// Bugs found while documenting docs/bad-input.md, reproduced at the unit.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "server/test_support.h"
#include "server/tls_context.h"

namespace irsa::server {
namespace {

namespace fs = std::filesystem;
using testing::TestCertificates;

// A FIFO as --tls-cert (or swapped in for the reloader) made the open wait
// for a writer forever: the webhook hung at start, ignoring SIGTERM, or the
// reloader thread could not be stopped. Before the fix this test never ends.
TEST(BadInputRegression, CertificateThatIsAFifoIsRefusedAtOnce) {
  const auto& certs = TestCertificates::get();
  fs::path fifo = certs.dir / "bad-input-fifo.crt";
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto pair = CertifiedKey::load(fifo, certs.dir / "tls.key");
  ASSERT_FALSE(pair.ok());
  EXPECT_NE(pair.error().find("not a regular file"), std::string::npos) << pair.error();
  auto device = CertifiedKey::load("/dev/zero", certs.dir / "tls.key");
  ASSERT_FALSE(device.ok());
  EXPECT_NE(device.error().find("not a regular file"), std::string::npos) << device.error();
  fs::remove(fifo);
}

}  // namespace
}  // namespace irsa::server
