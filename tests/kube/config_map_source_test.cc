// --watch-config-map: the pod-identity-webhook ConfigMap through the API
// server into role mappings; a bad update keeps the last good mapping.
#include "kube/config_map_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube_test_support.h"

namespace irsa::kube {
namespace {

using testing::eventually;
using testing::FakeApiServerTest;

class ConfigMapSourceTest : public FakeApiServerTest {
 protected:
  std::unique_ptr<ConfigMapSource> start_source() {
    ConfigMapSourceOptions options;
    options.namespace_name = "eks";
    options.reflector = testing::fast_reflector_options();
    auto source = std::make_unique<ConfigMapSource>(
        client(), options, [this](std::shared_ptr<const identity::RoleMapping> mapping) {
          std::lock_guard lock(mutex_);
          mapping_ = std::move(mapping);
          ++updates_;
        });
    source->start();
    EXPECT_TRUE(source->wait_for_sync(std::chrono::milliseconds(5000)));
    return source;
  }
  std::optional<std::string> role(const std::string& ns, const std::string& name) {
    std::lock_guard lock(mutex_);
    if (!mapping_) return std::nullopt;
    const auto* entry = mapping_->find(ns, name);
    if (!entry || !entry->role_arn) return std::nullopt;
    return *entry->role_arn;
  }
  int updates() {
    std::lock_guard lock(mutex_);
    return updates_;
  }

  std::mutex mutex_;
  std::shared_ptr<const identity::RoleMapping> mapping_;
  int updates_ = 0;
};

TEST_F(ConfigMapSourceTest, ReadsTheMappingIncludingTheWildcardNamespace) {
  server_->put_config_map("eks", "pod-identity-webhook",
                          {{"config", R"({"team/app": {"RoleARN": "arn:aws:iam::1:role/app"},
                                          "*/shared": {"RoleARN": "arn:aws:iam::1:role/shared"}})"}});
  server_->put_config_map("eks", "something-else", {{"config", "{}"}});
  auto source = start_source();
  EXPECT_EQ(role("team", "app"), "arn:aws:iam::1:role/app");
  EXPECT_EQ(role("anywhere", "shared"), "arn:aws:iam::1:role/shared");
  EXPECT_EQ(role("team", "other"), std::nullopt);
  // Only the one ConfigMap is read, by name.
  auto requests = server_->requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.front().path, "/api/v1/namespaces/eks/configmaps");
  EXPECT_EQ(requests.front().params.at("fieldSelector"), "metadata.name=pod-identity-webhook");
}

TEST_F(ConfigMapSourceTest, FollowsUpdatesKeepsTheLastGoodOnABadOneAndClearsOnDelete) {
  auto source = start_source();
  EXPECT_EQ(role("team", "app"), std::nullopt);
  server_->put_config_map("eks", "pod-identity-webhook",
                          {{"config", R"({"team/app": {"RoleARN": "arn:aws:iam::1:role/v1"}})"}});
  ASSERT_TRUE(eventually([&] { return role("team", "app") == "arn:aws:iam::1:role/v1"; }));
  const int good_updates = updates();
  server_->put_config_map("eks", "pod-identity-webhook", {{"config", "{not json"}});
  server_->put_config_map("eks", "pod-identity-webhook",
                          {{"config", R"({"team/app": {"TokenExpiration": "soon"}})"}});
  server_->put_config_map("eks", "pod-identity-webhook",
                          {{"config", R"({"team/app": {"RoleARN": "arn:aws:iam::1:role/v2"}})"}});
  ASSERT_TRUE(eventually([&] { return role("team", "app") == "arn:aws:iam::1:role/v2"; }));
  EXPECT_EQ(updates(), good_updates + 1);  // the bad ones changed nothing
  server_->delete_config_map("eks", "pod-identity-webhook");
  ASSERT_TRUE(eventually([&] { return role("team", "app") == std::nullopt; }));
}

}  // namespace
}  // namespace irsa::kube
