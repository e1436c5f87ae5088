// The container-credentials config: parsing, errors, lookup, loading.
#include "identity/container_credentials.h"

#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace irsa::identity {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

ContainerCredentialsConfig parse_ok(std::string_view text) {
  auto config = parse_container_credentials_config(text);
  EXPECT_TRUE(config.ok()) << config.error();
  return config.ok() ? *config : ContainerCredentialsConfig{};
}

std::string parse_error(std::string_view text) {
  auto config = parse_container_credentials_config(text);
  EXPECT_FALSE(config.ok());
  return config.ok() ? std::string() : config.error();
}

TEST(ParseContainerCredentialsConfig, ReadsIdentities) {
  auto config = parse_ok(R"({"identities": [
      {"namespace": "default", "serviceAccount": "default"},
      {"namespace": "apps", "serviceAccount": "web"}]})");
  EXPECT_EQ(config.size(), 2u);
  EXPECT_TRUE(config.contains("default", "default"));
  EXPECT_TRUE(config.contains("apps", "web"));
  EXPECT_FALSE(config.contains("apps", "default"));
  EXPECT_FALSE(config.contains("default", "web"));
  EXPECT_FALSE(config.contains("app", "sweb"));
}

TEST(ParseContainerCredentialsConfig, MissingOrEmptyIdentitiesIsValidAndEmpty) {
  EXPECT_EQ(parse_ok("{}").size(), 0u);
  EXPECT_EQ(parse_ok(R"({"identities": []})").size(), 0u);
  EXPECT_EQ(parse_ok(R"({"identities": null})").size(), 0u);
  EXPECT_EQ(parse_ok("null").size(), 0u);
}

TEST(ParseContainerCredentialsConfig, IgnoresUnknownKeys) {
  auto config = parse_ok(R"({"version": 2, "identities": [
      {"namespace": "a", "serviceAccount": "b", "roleArn": "ignored"}]})");
  EXPECT_TRUE(config.contains("a", "b"));
}

TEST(ParseContainerCredentialsConfig, DuplicateEntriesCountOnce) {
  auto config = parse_ok(R"({"identities": [
      {"namespace": "a", "serviceAccount": "b"}, {"namespace": "a", "serviceAccount": "b"}]})");
  EXPECT_EQ(config.size(), 1u);
}

TEST(ParseContainerCredentialsConfig, EntryWithoutNamespaceNamesItsIndex) {
  EXPECT_EQ(parse_error(R"({"identities": [{"namespace": "a", "serviceAccount": "b"},
                                          {"serviceAccount": "c"}]})"),
            "container-credentials config: identities[1]: \"namespace\" must be a non-empty "
            "string");
}

TEST(ParseContainerCredentialsConfig, EntryWithoutServiceAccountNamesItsIndex) {
  EXPECT_THAT(parse_error(R"({"identities": [{"namespace": "a"}]})"),
              HasSubstr("identities[0]: \"serviceAccount\""));
}

TEST(ParseContainerCredentialsConfig, NonStringFieldsAreErrors) {
  EXPECT_THAT(parse_error(R"({"identities": [{"namespace": 1, "serviceAccount": "b"}]})"),
              HasSubstr("identities[0]: \"namespace\""));
  EXPECT_THAT(parse_error(R"({"identities": [{"namespace": "a", "serviceAccount": ["b"]}]})"),
              HasSubstr("identities[0]: \"serviceAccount\""));
  EXPECT_THAT(parse_error(R"({"identities": ["a/b"]})"), HasSubstr("identities[0] must be"));
}

TEST(ParseContainerCredentialsConfig, WrongShapesAreErrors) {
  EXPECT_THAT(parse_error(R"({"identities": {"namespace": "a"}})"),
              HasSubstr("\"identities\" must be a list"));
  EXPECT_THAT(parse_error(R"([{"namespace": "a", "serviceAccount": "b"}])"),
              HasSubstr("JSON object"));
}

TEST(ParseContainerCredentialsConfig, NotJsonGivesThePosition) {
  EXPECT_THAT(parse_error("{\"identities\": [\n  {namespace: a}]}"),
              StartsWith("container-credentials config: not valid JSON: line 2, column "));
  EXPECT_THAT(parse_error(""), HasSubstr("line 1, column 1"));
  EXPECT_THAT(parse_error("identities:\n- namespace: a\n"), HasSubstr("not valid JSON"));
}

TEST(LoadContainerCredentialsConfig, ReadsAFileAndNamesItInErrors) {
  std::random_device random;
  auto dir = std::filesystem::temp_directory_path() /
             ("irsa-cc-test-" + std::to_string(random()) + std::to_string(random()));
  std::filesystem::create_directories(dir);
  auto good = (dir / "good.json").string();
  auto bad = (dir / "bad.json").string();
  std::ofstream(good) << R"({"identities":[{"namespace":"default","serviceAccount":"default"}]})";
  std::ofstream(bad) << R"({"identities":[{"namespace":"default"}]})";

  auto config = load_container_credentials_config(good);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_TRUE(config->contains("default", "default"));

  auto error = load_container_credentials_config(bad);
  ASSERT_FALSE(error.ok());
  EXPECT_THAT(error.error(), StartsWith(bad + ": container-credentials config: identities[0]"));

  auto missing = load_container_credentials_config((dir / "absent.json").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error(), StartsWith("cannot read "));

  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace irsa::identity
