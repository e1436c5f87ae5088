// Log lines carry text from requests (a ServiceAccount name, a Pod name):
// whatever bytes it holds, a line stays one line, no control byte reaches the
// terminal, and a JSON line stays valid JSON.
#include "log/log.h"

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

namespace irsa::log {
namespace {

std::string line_of(Format format, std::string_view message, std::initializer_list<Field> fields) {
  configure(format, 0);
  ::testing::internal::CaptureStderr();
  info(message, fields);
  std::string out = ::testing::internal::GetCapturedStderr();
  configure(Format::kText, 0);
  return out;
}

// Every byte that a terminal or a log shipper acts on.
bool has_raw_control_byte(std::string_view line) {
  line.remove_suffix(1);  // the line's own newline
  for (char c : line) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

constexpr std::string_view kHostile("sa\r\x1b[2J\0\x7f\n\t=\"x\\", 15);

TEST(Log, TextFormatEscapesEveryControlByteInAValue) {
  std::string line = line_of(Format::kText, "admission review", {{"serviceaccount", kHostile}});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_FALSE(has_raw_control_byte(line)) << line;
  EXPECT_NE(line.find(R"( serviceaccount="sa\u000d\u001b[2J\u0000\u007f\u000a\u0009=\"x\\")"),
            std::string::npos)
      << line;
}

TEST(Log, TextFormatQuotesAValueWithAnyControlByteEvenWithoutSpaces) {
  for (char byte : {'\0', '\x01', '\x1b', '\r', '\x7f'}) {
    std::string value = std::string("a") + byte + "b";
    std::string line = line_of(Format::kText, "m", {{"k", value}});
    EXPECT_FALSE(has_raw_control_byte(line)) << static_cast<int>(byte);
    EXPECT_NE(line.find(" k=\"a\\u00"), std::string::npos) << line;
  }
}

TEST(Log, TextFormatLeavesPlainValuesAndMessagesAsTheyAre) {
  std::string line = line_of(Format::kText, "admission review",
                             {{"pod", "web-1"}, {"reason", "nothing to change"}, {"n", "é"}});
  EXPECT_NE(line.find(" info admission review pod=web-1 reason=\"nothing to change\" n=é\n"),
            std::string::npos)
      << line;
}

TEST(Log, TextFormatEscapesTheMessageToo) {
  std::string line = line_of(Format::kText, "bad\r\x1b[1mmessage", {});
  EXPECT_FALSE(has_raw_control_byte(line)) << line;
  EXPECT_NE(line.find(R"( "bad\u000d\u001b[1mmessage")"), std::string::npos) << line;
}

TEST(Log, TextFormatEscapesInvalidUtf8) {
  std::string line = line_of(Format::kText, "m", {{"k", "a\xff\xc3"}});
  EXPECT_NE(line.find(R"( k="a\ufffd\ufffd")"), std::string::npos) << line;
}

TEST(Log, JsonFormatEscapesEveryControlByteIncludingDelete) {
  std::string line = line_of(Format::kJson, "admission\r review", {{"serviceaccount", kHostile}});
  EXPECT_FALSE(has_raw_control_byte(line)) << line;
  EXPECT_NE(line.find(R"("serviceaccount":"sa\u000d\u001b[2J\u0000\u007f\u000a\u0009=\"x\\")"),
            std::string::npos)
      << line;
  auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["serviceaccount"], std::string(kHostile));
  EXPECT_EQ(parsed["msg"], "admission\r review");
  EXPECT_EQ(parsed["level"], "info");
}

TEST(Log, JsonFormatStaysValidJsonWithInvalidUtf8) {
  std::string line =
      line_of(Format::kJson, "m\xfe", {{"k\x80", "a\xff\xed\xa0\x80 ok \xe2\x82\xac"}});
  nlohmann::json parsed;
  ASSERT_NO_THROW(parsed = nlohmann::json::parse(line)) << line;
  EXPECT_EQ(parsed["msg"], "m\xef\xbf\xbd");
  EXPECT_EQ(parsed["k\xef\xbf\xbd"],
            "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok \xe2\x82\xac");
}

}  // namespace
}  // namespace irsa::log
