// A Pod whose ServiceAccount is not in the cache yet: the handler asks the
// lookup (the grace-period wait and direct read) and, with deny, refuses
// with a message that makes the controller retry.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include <nlohmann/json.hpp>

#include "admission/review_handler.h"

namespace irsa::admission {
namespace {

using nlohmann::json;

std::string review_of(const std::string& service_account) {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "web"}, {"namespace", "team"}}},
              {"spec",
               {{"serviceAccountName", service_account},
                {"containers", {{{"name", "app"}, {"image", "nginx"}}}}}}};
  json review = {{"apiVersion", "admission.k8s.io/v1"},
                 {"kind", "AdmissionReview"},
                 {"request",
                  {{"uid", "u-1"},
                   {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                   {"namespace", "team"},
                   {"operation", "CREATE"},
                   {"object", pod}}}};
  return review.dump();
}

json response_of(const HandleResult& result) {
  EXPECT_EQ(result.http_status, 200) << result.body;
  return json::parse(result.body)["response"];
}

class UnknownServiceAccountTest : public ::testing::Test {
 protected:
  ReviewHandler handler(UnknownServiceAccounts unknown) {
    return ReviewHandler(
        resolver_, mutation::Options{}, credentials::Policy{}, [] { return 0.0; },
        std::move(unknown));
  }
  identity::ServiceAccountRegistry registry_;
  identity::IdentityResolver resolver_{registry_, identity::Defaults{}};
};

TEST_F(UnknownServiceAccountTest, AServiceAccountFoundByTheLookupIsMutated) {
  std::atomic<int> calls{0};
  UnknownServiceAccounts unknown;
  unknown.lookup = [&](std::string_view ns,
                       std::string_view name) -> std::optional<identity::ServiceAccountSettings> {
    ++calls;
    EXPECT_EQ(ns, "team");
    EXPECT_EQ(name, "fresh");
    identity::ServiceAccountSettings settings;
    settings.role_arn = "arn:aws:iam::111122223333:role/fresh";
    return settings;
  };
  auto result = handler(unknown).handle(review_of("fresh"));
  EXPECT_EQ(result.outcome, Outcome::kMutated);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(UnknownServiceAccountTest, AKnownServiceAccountNeverWaits) {
  registry_.upsert("team", "plain", identity::ServiceAccountSettings{});
  UnknownServiceAccounts unknown;
  unknown.deny = true;
  unknown.lookup = [](std::string_view,
                      std::string_view) -> std::optional<identity::ServiceAccountSettings> {
    ADD_FAILURE() << "lookup called for a known ServiceAccount";
    return std::nullopt;
  };
  auto result = handler(unknown).handle(review_of("plain"));
  EXPECT_EQ(result.outcome, Outcome::kUnchanged);
  EXPECT_TRUE(response_of(result)["allowed"].get<bool>());
}

TEST_F(UnknownServiceAccountTest, StillUnknownIsAdmittedUnchangedByDefault) {
  UnknownServiceAccounts unknown;
  unknown.lookup = [](std::string_view,
                      std::string_view) -> std::optional<identity::ServiceAccountSettings> {
    return std::nullopt;
  };
  auto result = handler(unknown).handle(review_of("ghost"));
  EXPECT_EQ(result.outcome, Outcome::kUnchanged);
  auto response = response_of(result);
  EXPECT_TRUE(response["allowed"].get<bool>());
  EXPECT_FALSE(response.contains("patch"));
}

TEST_F(UnknownServiceAccountTest, StillUnknownWithDenyIsRefusedSoTheControllerRetries) {
  UnknownServiceAccounts unknown;
  unknown.deny = true;
  unknown.lookup = [](std::string_view,
                      std::string_view) -> std::optional<identity::ServiceAccountSettings> {
    return std::nullopt;
  };
  auto result = handler(unknown).handle(review_of("ghost"));
  EXPECT_EQ(result.outcome, Outcome::kDenied);
  auto response = response_of(result);
  EXPECT_FALSE(response["allowed"].get<bool>());
  EXPECT_EQ(response["status"]["code"], 403);
  EXPECT_NE(response["status"]["message"].get<std::string>().find("team/ghost was not found yet"),
            std::string::npos);
}

TEST_F(UnknownServiceAccountTest, DenyWithoutALookupStillRefusesUnknownServiceAccounts) {
  UnknownServiceAccounts unknown;
  unknown.deny = true;
  auto result = handler(unknown).handle(review_of("ghost"));
  EXPECT_EQ(result.outcome, Outcome::kDenied);
}

}  // namespace
}  // namespace irsa::admission
