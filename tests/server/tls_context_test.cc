// TLS settings, certificate loading and the certificate reloader.
#include "server/tls_context.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "server/test_support.h"

namespace irsa::server {
namespace {

namespace fs = std::filesystem;
using testing::TestCertificates;

TEST(TlsSettings, AcceptsIanaAndOpenSslNamesAndBothVersions) {
  EXPECT_TRUE(check_tls_settings({}).ok());
  EXPECT_TRUE(check_tls_settings({"1.3", ""}).ok());
  EXPECT_TRUE(check_tls_settings({"VersionTLS12", ""}).ok());
  EXPECT_TRUE(check_tls_settings({"1.2",
                                  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "
                                  "ECDHE-RSA-AES256-GCM-SHA384,TLS_AES_128_GCM_SHA256"})
                  .ok());
}

TEST(TlsSettings, NamesWhatIsWrong) {
  auto unknown = check_tls_settings({"1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,BOGUS"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().find("\"BOGUS\""), std::string::npos) << unknown.error();
  EXPECT_NE(unknown.error().find("TLS_AES_256_GCM_SHA384"), std::string::npos);
  auto old = check_tls_settings({"1.1", ""});
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.error().find("not supported"), std::string::npos);
  EXPECT_FALSE(check_tls_settings({"2", ""}).ok());
  auto only13 = check_tls_settings({"1.2", "TLS_AES_128_GCM_SHA256"});
  ASSERT_FALSE(only13.ok());
  EXPECT_NE(only13.error().find("TLS 1.2"), std::string::npos);
  EXPECT_TRUE(check_tls_settings({"1.3", "TLS_AES_128_GCM_SHA256"}).ok());
}

TEST(CertifiedKey, LoadsAPairAndDescribesIt) {
  const auto& certs = TestCertificates::get();
  auto pair = CertifiedKey::load(certs.dir / "tls.crt", certs.dir / "tls.key");
  ASSERT_TRUE(pair.ok()) << pair.error();
  EXPECT_EQ((*pair)->sha256().size(), 64u);
  EXPECT_FALSE((*pair)->serial().empty());
  EXPECT_NE((*pair)->subject().find("irsa-webhook"), std::string::npos);
  EXPECT_GT((*pair)->not_after(), static_cast<int64_t>(std::time(nullptr)));
  auto again = CertifiedKey::load(certs.dir / "tls.crt", certs.dir / "tls.key");
  EXPECT_TRUE((*pair)->same_as(**again));
  auto renewed = CertifiedKey::load(certs.renewed / "tls.crt", certs.renewed / "tls.key");
  ASSERT_TRUE(renewed.ok());
  EXPECT_FALSE((*pair)->same_as(**renewed));
}

TEST(CertifiedKey, NamesTheFileAndTheProblem) {
  const auto& certs = TestCertificates::get();
  auto missing = CertifiedKey::load("/nonexistent/tls.crt", certs.dir / "tls.key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("/nonexistent/tls.crt"), std::string::npos);
  auto mismatch = CertifiedKey::load(certs.dir / "tls.crt", certs.other / "tls.key");
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error().find("does not match"), std::string::npos);
  auto swapped = CertifiedKey::load(certs.dir / "tls.key", certs.dir / "tls.key");
  ASSERT_FALSE(swapped.ok());
  EXPECT_NE(swapped.error().find("no PEM certificate"), std::string::npos) << swapped.error();
  auto no_key = CertifiedKey::load(certs.dir / "tls.crt", certs.dir / "tls.crt");
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.error().find("private key"), std::string::npos) << no_key.error();
}

TEST(CertificateReloader, SwapsInANewPairAndKeepsTheOldOneOnABrokenPair) {
  const auto& certs = TestCertificates::get();
  fs::path dir = certs.dir / "reloader";
  fs::create_directories(dir);
  auto put = [&](const fs::path& cert, const fs::path& key) {
    // Replace by rename, so the reloader never sees a half-written file.
    fs::copy_file(cert, dir / "tls.crt.tmp", fs::copy_options::overwrite_existing);
    fs::copy_file(key, dir / "tls.key.tmp", fs::copy_options::overwrite_existing);
    fs::rename(dir / "tls.key.tmp", dir / "tls.key");
    fs::rename(dir / "tls.crt.tmp", dir / "tls.crt");
  };
  put(certs.dir / "tls.crt", certs.dir / "tls.key");
  auto initial = CertifiedKey::load(dir / "tls.crt", dir / "tls.key");
  ASSERT_TRUE(initial.ok());
  CertificateStore store(*initial);
  std::atomic<int> successes{0};
  std::atomic<int> failures{0};
  CertificateReloaderOptions options;
  options.cert_file = dir / "tls.crt";
  options.key_file = dir / "tls.key";
  options.poll_interval = std::chrono::milliseconds(20);
  options.on_reload = [&](bool success, const CertifiedKey*) {
    ++(success ? successes : failures);
  };
  CertificateReloader reloader(store, options);
  ASSERT_TRUE(reloader.start());

  auto renewed = CertifiedKey::load(certs.renewed / "tls.crt", certs.renewed / "tls.key");
  put(certs.renewed / "tls.crt", certs.renewed / "tls.key");
  for (int i = 0; i < 250 && successes.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(successes.load(), 1);
  EXPECT_TRUE(store.current()->same_as(**renewed));

  put(certs.dir / "tls.crt", certs.other / "tls.key");  // a key of another pair
  for (int i = 0; i < 250 && failures.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(failures.load(), 1);
  EXPECT_TRUE(store.current()->same_as(**renewed));
  reloader.stop();
  reloader.stop();
}

}  // namespace
}  // namespace irsa::server
