// kube::list_all against the fake API server: every page read with the
// continue token passed on, a restart from the beginning after 410 Gone
// (bounded), a refusal's status and message, a stop from the callback; and
// the labelSelector it sends, as the fake API server filters it.
#include "kube/list_pager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "kube_test_support.h"

namespace irsa::kube {
namespace {

using ::testing::ElementsAre;
using testing::FakeApiServerTest;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class ListPagerTest : public FakeApiServerTest {
 protected:
  void put_pod(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    nlohmann::json pod = {{"kind", "Pod"},
                          {"apiVersion", "v1"},
                          {"metadata", {{"name", name}, {"namespace", "team"}}},
                          {"spec", {{"serviceAccountName", "app"}}}};
    if (!labels.empty()) pod["metadata"]["labels"] = labels;
    auto put = server_->put_object(pod.dump());
    ASSERT_TRUE(put) << put.error();
  }
  void put_pods(int count) {
    for (int i = 0; i < count; ++i) put_pod("pod-" + std::to_string(i));
  }

  // Lists with `options`, keeping the names of the items of the list that
  // completed (a restart forgets what came before, as callers must).
  PagedListResult list(PagedListOptions options, int stop_after = -1) {
    if (options.collection_path.empty()) options.collection_path = "/api/v1/pods";
    auto connection = client()->connect();
    names_.clear();
    restarts_seen_ = 0;
    return list_all(
        *connection, options,
        [&](std::string_view item) {
          auto json = nlohmann::json::parse(item, nullptr, false);
          names_.push_back(json.is_object() ? json["metadata"].value("name", "?") : "?");
          return stop_after < 0 || static_cast<int>(names_.size()) < stop_after;
        },
        [&] {
          ++restarts_seen_;
          names_.clear();
        });
  }

  std::vector<std::string> list_params(const std::string& name) const {
    std::vector<std::string> values;
    for (const auto& request : server_->requests()) {
      if (request.path != "/api/v1/pods") continue;
      auto it = request.params.find(name);
      values.push_back(it == request.params.end() ? "" : it->second);
    }
    return values;
  }

  std::vector<std::string> names_;
  int restarts_seen_ = 0;
};

TEST_F(ListPagerTest, ReadsEveryPagePassingEachContinueTokenOn) {
  put_pods(7);
  PagedListOptions options;
  options.page_size = 3;
  auto result = list(options);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.items, 7u);
  EXPECT_EQ(result.pages, 3);
  EXPECT_EQ(result.restarts, 0);
  EXPECT_EQ(restarts_seen_, 0);
  EXPECT_THAT(names_, ElementsAre("pod-0", "pod-1", "pod-2", "pod-3", "pod-4", "pod-5", "pod-6"));
  EXPECT_THAT(list_params("limit"), ElementsAre("3", "3", "3"));
  auto continues = list_params("continue");
  ASSERT_EQ(continues.size(), 3u);
  EXPECT_EQ(continues[0], "");
  EXPECT_NE(continues[1], "");
  EXPECT_NE(continues[2], "");
  EXPECT_NE(continues[1], continues[2]);
}

TEST_F(ListPagerTest, AnExpiredContinueTokenStartsTheListAgainAndSaysSo) {
  put_pods(5);
  server_->expire_next_continues(1);
  PagedListOptions options;
  options.page_size = 2;
  auto result = list(options);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.restarts, 1);
  EXPECT_EQ(restarts_seen_, 1);
  EXPECT_EQ(result.items, 5u);  // the list that completed, not the abandoned page
  EXPECT_EQ(result.pages, 5);   // 1 page, the 410, then 3 pages
  EXPECT_THAT(names_, ElementsAre("pod-0", "pod-1", "pod-2", "pod-3", "pod-4"));
  auto continues = list_params("continue");
  ASSERT_EQ(continues.size(), 5u);
  EXPECT_EQ(continues[2], "");  // the restart lists from the beginning
}

TEST_F(ListPagerTest, RestartsAreBoundedByMaxRestarts) {
  put_pods(4);
  server_->expire_next_continues(1000);
  PagedListOptions options;
  options.page_size = 2;
  options.max_restarts = 2;
  auto result = list(options);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.restarts, 2);
  EXPECT_EQ(restarts_seen_, 2);
  EXPECT_EQ(result.pages, 6);  // three lists of a page and a 410
  EXPECT_THAT(result.error, HasSubstr("expired 3 times in a row (410 Gone)"));
  EXPECT_EQ(server_->stats().lists, 6);
}

TEST_F(ListPagerTest, A410OnTheFirstPageIsARefusalNotARestart) {
  put_pods(2);
  server_->fail_next_requests(1, 410);
  auto result = list({});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.status, 410);
  EXPECT_EQ(result.restarts, 0);
  EXPECT_EQ(restarts_seen_, 0);
  EXPECT_THAT(result.error, HasSubstr("injected failure"));
}

TEST_F(ListPagerTest, ARefusalGivesItsStatusAndTheApiServersMessage) {
  put_pods(2);
  server_->set_denied_resources({"pods"});
  auto result = list({});
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.status, 403);
  EXPECT_THAT(result.error, HasSubstr("HTTP 403"));
  EXPECT_THAT(result.error,
              HasSubstr("cannot list resource \"pods\" in API group \"\" at the cluster scope"));
  EXPECT_TRUE(names_.empty());
}

TEST_F(ListPagerTest, OnItemReturningFalseStopsTheListThere) {
  put_pods(6);
  PagedListOptions options;
  options.page_size = 2;
  auto result = list(options, 3);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.error, "stopped");
  EXPECT_THAT(names_, ElementsAre("pod-0", "pod-1", "pod-2"));
  EXPECT_EQ(result.pages, 2);
  EXPECT_EQ(server_->stats().lists, 2);  // no page asked after the stop
}

// The selector reaches the API server URL-encoded, and the fake API server
// filters as kube-apiserver does: were its filter wrong, tests relying on it
// (audit --from-cluster's) would pass or fail for the wrong reason.
TEST_F(ListPagerTest, TheLabelSelectorIsSentAndEachOperatorSelects) {
  put_pod("web", {{"app", "web"}, {"tier", "front"}});
  put_pod("api", {{"app", "api"}, {"tier", "back"}});
  put_pod("db", {{"app", "db"}});
  put_pod("bare");
  struct Case {
    std::string selector;
    std::vector<std::string> names;
  };
  const std::vector<Case> cases = {
      {"app=web", {"web"}},
      {"app==api", {"api"}},
      {"app!=web", {"api", "db", "bare"}},
      {"app in (web, api)", {"web", "api"}},
      {"app notin (web,api)", {"db", "bare"}},
      {"tier", {"web", "api"}},
      {"!tier", {"db", "bare"}},
      {"app in (web,db),!tier", {"db"}},
      {"app=web,tier=back", {}},
      {"", {"web", "api", "db", "bare"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.selector);
    server_->clear_requests();
    PagedListOptions options;
    options.label_selector = c.selector;
    auto result = list(options);
    ASSERT_TRUE(result.ok) << result.error;
    std::vector<std::string> sorted_names = names_;
    std::vector<std::string> expected = c.names;
    std::sort(sorted_names.begin(), sorted_names.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(sorted_names, expected);
    if (!c.selector.empty()) {
      EXPECT_THAT(list_params("labelSelector"), ElementsAre(c.selector));
    }
  }
}

TEST_F(ListPagerTest, ASelectorTheApiServerCannotParseIsA400WithItsMessage) {
  put_pods(1);
  PagedListOptions options;
  options.label_selector = "app in web";
  auto result = list(options);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.status, 400);
  EXPECT_THAT(result.error, HasSubstr("unable to parse requirement"));
}

TEST_F(ListPagerTest, MetadataOnlyListsGivePartialObjectMetadataItems) {
  put_pod("web", {{"app", "web"}});
  PagedListOptions options;
  options.collection_path = "/api/v1/pods";
  options.accept = kAcceptPartialMetadata;
  auto connection = client()->connect();
  std::vector<std::string> kinds;
  auto result = list_all(
      *connection, options,
      [&](std::string_view item) {
        kinds.push_back(nlohmann::json::parse(item).value("kind", ""));
        return true;
      },
      [] {});
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(kinds, UnorderedElementsAre("PartialObjectMetadata"));
}

}  // namespace
}  // namespace irsa::kube
