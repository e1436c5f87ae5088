// The ServiceAccount cache fed by list+watch from the fake API server:
// paging, metadata-only requests, events, bookmarks, relists on 410, ERROR
// events and broken streams, the server down at start and restarting,
// backoff without a busy loop, quiet watches.
#include "kube/service_account_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube_test_support.h"

namespace irsa::kube {
namespace {

using testing::eventually;
using testing::FakeApiServerTest;

constexpr const char* kPrefix = "eks.amazonaws.com";
constexpr const char* kRole = "arn:aws:iam::111122223333:role/app";
const std::map<std::string, std::string> kAnnotated = {{"eks.amazonaws.com/role-arn", kRole}};

class ServiceAccountSourceTest : public FakeApiServerTest {
 protected:
  std::unique_ptr<ServiceAccountSource> make_source(ReflectorOptions reflector) {
    ServiceAccountSourceOptions options;
    options.annotation_prefix = kPrefix;
    options.reflector = std::move(reflector);
    return std::make_unique<ServiceAccountSource>(client(), registry_, options);
  }
  std::unique_ptr<ServiceAccountSource> start_source(
      ReflectorOptions reflector = testing::fast_reflector_options()) {
    auto source = make_source(std::move(reflector));
    source->start();
    EXPECT_TRUE(source->wait_for_sync(std::chrono::milliseconds(5000)));
    return source;
  }
  bool has_role(const std::string& ns, const std::string& name) const {
    auto found = registry_.find(ns, name);
    return found && found->role_arn == kRole;
  }
  bool known(const std::string& ns, const std::string& name) const {
    return registry_.find(ns, name).has_value();
  }
  // Faults aimed at open watches need one to be open.
  void wait_for_watch() const {
    ASSERT_TRUE(eventually([&] { return server_->stats().active_watches == 1; }));
  }
  std::vector<fakes::RecordedRequest> watch_requests() const {
    std::vector<fakes::RecordedRequest> out;
    for (auto& request : server_->requests()) {
      if (request.params.count("watch")) out.push_back(request);
    }
    return out;
  }

  identity::ServiceAccountRegistry registry_;
};

TEST_F(ServiceAccountSourceTest, FirstListIsPaginatedFromTheCacheAndMetadataOnly) {
  for (int i = 0; i < 7; ++i) server_->put_service_account("team", "sa-" + std::to_string(i));
  server_->put_service_account("team", "app", kAnnotated);
  auto source = start_source();
  EXPECT_EQ(registry_.size(), 8u);
  EXPECT_TRUE(has_role("team", "app"));
  EXPECT_TRUE(registry_.find("team", "sa-3")->empty());

  std::vector<fakes::RecordedRequest> lists;
  for (auto& request : server_->requests()) {
    if (!request.params.count("watch")) lists.push_back(request);
  }
  ASSERT_EQ(lists.size(), 4u);  // 8 items, 2 per page
  EXPECT_EQ(lists[0].params.at("resourceVersion"), "0");
  EXPECT_EQ(lists[0].params.at("limit"), "2");
  EXPECT_EQ(lists[1].params.count("resourceVersion"), 0u);
  EXPECT_EQ(lists[1].params.count("continue"), 1u);
  for (auto& list : lists) EXPECT_EQ(list.accept, kAcceptPartialMetadataList);
  ASSERT_TRUE(eventually([&] { return !watch_requests().empty(); }));
  auto watch = watch_requests().front();
  EXPECT_EQ(watch.accept, kAcceptPartialMetadata);
  EXPECT_EQ(watch.params.at("allowWatchBookmarks"), "true");
  EXPECT_EQ(watch.params.at("resourceVersion"), std::to_string(server_->resource_version()));
  EXPECT_EQ(watch.path, "/api/v1/serviceaccounts");
}

TEST_F(ServiceAccountSourceTest, WatchEventsAddModifyAndDelete) {
  auto source = start_source();
  server_->put_service_account("team", "app", kAnnotated);
  ASSERT_TRUE(eventually([&] { return has_role("team", "app"); }));
  // The annotation removed: the ServiceAccount stays known, without a role.
  server_->put_service_account("team", "app", {});
  ASSERT_TRUE(eventually([&] { return known("team", "app") && !has_role("team", "app"); }));
  server_->delete_service_account("team", "app");
  ASSERT_TRUE(eventually([&] { return !known("team", "app"); }));
}

TEST_F(ServiceAccountSourceTest, KeepsOnlyAnnotationsUnderThePrefix) {
  server_->put_service_account("team", "mixed",
                               {{"eks.amazonaws.com/role-arn", kRole},
                                {"eks.amazonaws.com/token-expiration", "3600"},
                                {"other.io/role-arn", "arn:aws:iam::1:role/other"}});
  auto source = start_source();
  auto settings = registry_.find("team", "mixed");
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->role_arn, kRole);
  EXPECT_EQ(settings->token_expiration, 3600);
}

TEST_F(ServiceAccountSourceTest, BookmarksMoveTheResourceVersionForwardWithoutRelisting) {
  auto options = testing::fast_reflector_options();
  options.min_watch_timeout = std::chrono::seconds(1);  // the server ends each watch after 1-2 s
  auto source = start_source(options);
  // A change the source does not see (another resource) still moves the
  // server's resourceVersion; only a bookmark can carry it.
  server_->put_config_map("eks", "unrelated", {{"k", "v"}});
  const auto rv = std::to_string(server_->resource_version());
  ASSERT_TRUE(eventually([&] { return source->stats().bookmarks > 0; }));
  ASSERT_TRUE(
      eventually([&] { return watch_requests().size() >= 2; }, std::chrono::milliseconds(4000)));
  EXPECT_EQ(watch_requests()[1].params.at("resourceVersion"), rv);
  EXPECT_EQ(source->stats().lists, 1u);  // resumed, not relisted
}

TEST_F(ServiceAccountSourceTest, RelistsAfter410GoneAndEndsCorrect) {
  server_->put_service_account("team", "stays", kAnnotated);
  server_->put_service_account("team", "goes", kAnnotated);
  auto source = start_source();
  // While the watch is cut, history is compacted and the state changes: the
  // resumed watch gets 410 Gone; only a relist can see the deletion.
  server_->set_stall_watches(true);
  server_->delete_service_account("team", "goes");
  server_->put_service_account("team", "new", kAnnotated);
  server_->expire_history();
  server_->set_stall_watches(false);
  ASSERT_TRUE(eventually([&] { return !known("team", "goes") && has_role("team", "new"); }));
  EXPECT_TRUE(has_role("team", "stays"));
  EXPECT_GE(source->stats().relists_after_gone, 1u);
  // The relist from the last resourceVersion was too old as well: then from etcd ("").
  bool consistent_relist = false;
  for (auto& request : server_->requests()) {
    if (!request.params.count("watch") && request.params.count("resourceVersion") == 0 &&
        request.params.count("continue") == 0) {
      consistent_relist = true;
    }
  }
  EXPECT_TRUE(consistent_relist);
}

TEST_F(ServiceAccountSourceTest, RelistsAfterAnErrorEvent) {
  auto source = start_source();
  wait_for_watch();
  const auto lists_before = source->stats().lists;
  server_->send_error_event(500, "InternalError", "etcd is unhappy");
  ASSERT_TRUE(eventually([&] { return source->stats().lists > lists_before; }));
  server_->put_service_account("team", "after", kAnnotated);
  ASSERT_TRUE(eventually([&] { return has_role("team", "after"); }));
}

TEST_F(ServiceAccountSourceTest, RelistsAfterADroppedConnection) {
  server_->put_service_account("team", "old", kAnnotated);
  auto source = start_source();
  wait_for_watch();
  const auto lists_before = source->stats().lists;
  server_->set_stall_watches(true);
  server_->delete_service_account("team", "old");
  server_->drop_watches();
  ASSERT_TRUE(eventually([&] { return source->stats().lists > lists_before; }));
  server_->set_stall_watches(false);
  ASSERT_TRUE(eventually([&] { return !known("team", "old"); }));
}

TEST_F(ServiceAccountSourceTest, ContinueTokenExpiredMidListRestartsTheList) {
  for (int i = 0; i < 6; ++i) server_->put_service_account("team", "sa-" + std::to_string(i));
  // The second page waits; meanwhile the continue token expires.
  server_->set_response_delay(std::chrono::milliseconds(100));
  auto source = make_source(testing::fast_reflector_options());
  source->start();
  ASSERT_TRUE(eventually([&] { return server_->stats().lists >= 1; }));
  server_->expire_history();
  server_->set_response_delay(std::chrono::milliseconds(0));
  ASSERT_TRUE(source->wait_for_sync(std::chrono::milliseconds(5000)));
  EXPECT_EQ(registry_.size(), 6u);
}

TEST_F(ServiceAccountSourceTest, FallsBackToFullObjectsWhenMetadataIsRefused) {
  server_->set_refuse_metadata(true);
  server_->put_service_account("team", "app", kAnnotated);
  auto source = start_source();
  EXPECT_TRUE(has_role("team", "app"));
  server_->put_service_account("team", "later", kAnnotated);
  ASSERT_TRUE(eventually([&] { return has_role("team", "later"); }));
  auto watches = watch_requests();
  ASSERT_FALSE(watches.empty());
  EXPECT_EQ(watches.back().accept, kAcceptJson);
}

TEST_F(ServiceAccountSourceTest, ServerDownAtStartIsNotSyncedThenSyncsWhenItComesUp) {
  server_->put_service_account("team", "app", kAnnotated);
  server_->stop();
  auto source = make_source(testing::fast_reflector_options());
  source->start();
  EXPECT_FALSE(source->wait_for_sync(std::chrono::milliseconds(300)));
  EXPECT_FALSE(source->has_synced());
  EXPECT_GE(source->stats().failures, 2u);  // it keeps trying...
  ASSERT_TRUE(server_->start());
  ASSERT_TRUE(source->wait_for_sync(std::chrono::milliseconds(5000)));
  EXPECT_TRUE(has_role("team", "app"));
}

TEST_F(ServiceAccountSourceTest, BacksOffWithoutABusyLoopWhileTheServerFails) {
  server_->fail_next_requests(1000000, 503);
  auto options = testing::fast_reflector_options();
  options.backoff.initial = std::chrono::milliseconds(50);
  options.backoff.max = std::chrono::milliseconds(400);
  auto source = make_source(options);
  source->start();
  // A window to count attempts in, not a wait for a condition.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto attempts = server_->stats().failed_on_purpose;
  // Without backoff this would be thousands; with it: 50+100+200+400+400... ms.
  EXPECT_GE(attempts, 3);
  EXPECT_LE(attempts, 15);
  EXPECT_FALSE(source->has_synced());
  server_->fail_next_requests(0, 503);
  ASSERT_TRUE(source->wait_for_sync(std::chrono::milliseconds(5000)));
}

TEST_F(ServiceAccountSourceTest, RestartsAWatchThatGoesQuiet) {
  auto options = testing::fast_reflector_options();
  options.min_watch_timeout = std::chrono::seconds(1);
  options.watch_idle_slack = std::chrono::milliseconds(200);
  server_->set_stall_watches(true);
  auto source = start_source(options);
  // timeoutSeconds in [1, 2] plus 200 ms of slack: a second watch by 3 s.
  ASSERT_TRUE(
      eventually([&] { return source->stats().watches >= 2; }, std::chrono::milliseconds(4000)));
  server_->set_stall_watches(false);
  server_->put_service_account("team", "after", kAnnotated);
  ASSERT_TRUE(eventually([&] { return has_role("team", "after"); }));
}

TEST_F(ServiceAccountSourceTest, ServerRestartLeavesTheCacheCorrect) {
  server_->put_service_account("team", "kept", kAnnotated);
  server_->put_service_account("team", "removed", kAnnotated);
  auto source = start_source();
  server_->stop();
  server_->delete_service_account("team", "removed");
  server_->put_service_account("team", "kept", {});
  server_->put_service_account("team", "added", kAnnotated);
  ASSERT_TRUE(server_->start());
  ASSERT_TRUE(eventually([&] {
    return !known("team", "removed") && known("team", "kept") && !has_role("team", "kept") &&
           has_role("team", "added");
  }));
}

TEST_F(ServiceAccountSourceTest, StopIsPromptDuringAWatch) {
  auto source = start_source();
  ASSERT_TRUE(eventually([&] { return server_->stats().active_watches == 1; }));
  const auto started = std::chrono::steady_clock::now();
  source->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2000));
}

TEST_F(ServiceAccountSourceTest, StopIsPromptWhileBackingOff) {
  server_->stop();
  auto options = testing::fast_reflector_options();
  options.backoff.initial = std::chrono::milliseconds(10000);
  options.backoff.max = std::chrono::milliseconds(10000);
  options.backoff.jitter = 0;
  auto source = make_source(options);
  source->start();
  ASSERT_TRUE(eventually([&] { return source->stats().failures >= 1; }));
  const auto started = std::chrono::steady_clock::now();
  source->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1000));
}

}  // namespace
}  // namespace irsa::kube
