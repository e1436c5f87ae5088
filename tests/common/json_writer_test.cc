// JSON text written as nlohmann-json writes it.
#include "common/json_writer.h"

#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace irsa {
namespace {

using nlohmann::json;

std::string written(std::string_view text, InvalidUtf8 invalid = InvalidUtf8::kThrow) {
  std::string out;
  append_json_string(out, text, invalid);
  return out;
}

TEST(JsonWriter, WritesStringsAsNlohmannDumpDoes) {
  std::string every_control;
  for (int c = 0; c < 0x20; ++c) every_control += static_cast<char>(c);
  for (std::string text :
       {std::string(), std::string("plain"), std::string("quote \" backslash \\ slash /"),
        every_control, std::string("\x7f"),
        std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"), std::string("\xef\xbf\xbd"),
        std::string("run of plain text, then \n, then more")}) {
    EXPECT_EQ(written(text), json(text).dump());
  }
}

TEST(JsonWriter, InvalidUtf8ThrowsOrIsReplaced) {
  for (std::string bad :
       {"\x80", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff"}) {
    EXPECT_THROW(written(bad), std::invalid_argument)
        << json(bad).dump(-1, ' ', true, json::error_handler_t::replace);
    std::string replaced = written(bad, InvalidUtf8::kReplace);
    EXPECT_TRUE(json::accept(replaced)) << replaced;
    EXPECT_THAT(replaced, testing::HasSubstr("\xef\xbf\xbd"));
  }
  EXPECT_EQ(written("ok\xff!", InvalidUtf8::kReplace), "\"ok\xef\xbf\xbd!\"");
}

}  // namespace
}  // namespace irsa
