// The kubelet's rule for the projected token file (Projected Volumes,
// "SecurityContext interactions"), and who can read the file it gives.
#include "mutation/token_access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace irsa::mutation {
namespace {

using nlohmann::json;

struct Parsed {
  std::string text;
  simdjson::dom::parser parser;
  PodView view;
  explicit Parsed(const json& pod) : text(pod.dump()) {
    auto read = read_pod(parser.parse(text).value());
    EXPECT_TRUE(read.ok()) << (read.ok() ? "" : read.error());
    view = *read;
  }
};

json pod_with_users(std::optional<int64_t> pod_user, std::vector<std::optional<int64_t>> users) {
  json pod = {{"spec", {{"containers", json::array()}}}};
  if (pod_user) pod["spec"]["securityContext"] = {{"runAsUser", *pod_user}};
  for (std::size_t i = 0; i < users.size(); ++i) {
    json container = {{"name", "c" + std::to_string(i)}};
    if (users[i]) container["securityContext"] = {{"runAsUser", *users[i]}};
    pod["spec"]["containers"].push_back(container);
  }
  return pod;
}

auto all = [](bool, std::size_t) { return true; };

TEST(TokenFile, OneCommonRunAsUserOwnsThe0600File) {
  Parsed pod(pod_with_users(1000, {std::nullopt, 1000}));
  TokenFile file = token_file(pod.view, std::nullopt, std::nullopt);
  EXPECT_EQ(file.owner, 1000);
  EXPECT_EQ(file.mode, 0600);
  EXPECT_FALSE(file.group);
  EXPECT_THAT(containers_unable_to_read(pod.view, file, all), ::testing::IsEmpty());
}

TEST(TokenFile, DifferentUsersWithoutFsGroupGetTheDefaultMode) {
  Parsed pod(pod_with_users(std::nullopt, {1000, 2000}));
  TokenFile file = token_file(pod.view, std::nullopt, std::nullopt);
  EXPECT_EQ(file.owner, 0);
  EXPECT_EQ(file.mode, 0644);
  EXPECT_THAT(containers_unable_to_read(pod.view, file, all), ::testing::IsEmpty());
  // A container without runAsUser also breaks the common user.
  Parsed unset(pod_with_users(std::nullopt, {1000, std::nullopt}));
  EXPECT_EQ(token_file(unset.view, std::nullopt, std::nullopt).mode, 0644);
}

TEST(TokenFile, FsGroupMakesItGroupReadable) {
  Parsed pod(pod_with_users(std::nullopt, {1000, 2000}));
  TokenFile file = token_file(pod.view, std::nullopt, 3000);
  EXPECT_EQ(file.owner, 0);
  EXPECT_EQ(file.mode, 0640);
  EXPECT_EQ(file.group, 3000);
  EXPECT_THAT(containers_unable_to_read(pod.view, file, all), ::testing::IsEmpty());
  Parsed common(pod_with_users(1000, {std::nullopt}));
  TokenFile owned = token_file(common.view, std::nullopt, 3000);
  EXPECT_EQ(owned.owner, 1000);
  EXPECT_EQ(owned.mode, 0640);
}

TEST(TokenFile, ARestrictiveDefaultModeLocksOutNonRootUsers) {
  Parsed pod(pod_with_users(std::nullopt, {1000, 0, std::nullopt}));
  TokenFile file = token_file(pod.view, 0600, std::nullopt);
  EXPECT_EQ(file.mode, 0600);
  EXPECT_EQ(file.owner, 0);
  // Root reads anything; a container of unknown user may be root.
  EXPECT_THAT(containers_unable_to_read(pod.view, file, all), ::testing::ElementsAre("c0"));
  // Only the containers that receive the token count.
  EXPECT_THAT(containers_unable_to_read(pod.view, file, [](bool, std::size_t i) { return i != 0; }),
              ::testing::IsEmpty());
}

TEST(CanRead, FollowsOwnerGroupAndOtherBits) {
  TokenFile file{1000, std::nullopt, 0600};
  EXPECT_TRUE(can_read(file, 1000, true));
  EXPECT_FALSE(can_read(file, 1001, true));
  EXPECT_TRUE(can_read(file, 0, false));
  EXPECT_FALSE(can_read(file, std::nullopt, true));  // runAsNonRoot, image user
  EXPECT_TRUE(can_read(file, std::nullopt, false));  // may be root
  EXPECT_TRUE(can_read(TokenFile{0, 3000, 0640}, 1001, true));
  EXPECT_TRUE(can_read(TokenFile{0, std::nullopt, 0644}, 1001, true));
}

}  // namespace
}  // namespace irsa::mutation
