// HttpRequestParser: requests read whole whatever the byte boundaries, and
// every framing that two parsers could read two ways refused.
#include "server/http_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace irsa::server {
namespace {

using State = HttpRequestParser::State;

struct Parsed {
  State state = State::kNeedMore;
  HttpRequest request;
  HttpError error;
  std::string rest;  // bytes after the request
};

// Feeds `wire` in pieces of `step` bytes (0: at once), as the loop does:
// continuing after the head, stopping at a complete or failed request.
Parsed parse(const std::string& wire, std::size_t step = 0, HttpLimits limits = {}) {
  HttpRequestParser parser(limits);
  Parsed out;
  std::size_t at = 0;
  for (int guard = 0; guard < 1000000; ++guard) {
    const std::size_t size = step == 0 ? wire.size() - at : std::min(step, wire.size() - at);
    std::size_t used = 0;
    State state = parser.feed(std::string_view(wire).substr(at, size), used);
    at += used;
    if (state == State::kComplete || state == State::kFailed) {
      out.state = state;
      break;
    }
    if (state == State::kNeedMore && at >= wire.size()) {
      out.state = state;
      break;
    }
  }
  out.request = parser.request();
  out.error = parser.error();
  out.rest = wire.substr(at);
  return out;
}

const std::string kHead = "POST /mutate?timeout=10s HTTP/1.1\r\nHost: x\r\n";

TEST(HttpRequestParser, ReadsARequestWithAContentLengthBodyInAnyPieces) {
  const std::string wire =
      kHead + "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
  for (std::size_t step : {0, 1, 2, 3, 7, 64}) {
    Parsed p = parse(wire, step);
    ASSERT_EQ(p.state, State::kComplete) << step;
    EXPECT_EQ(p.request.method, "POST");
    EXPECT_EQ(p.request.path, "/mutate");
    EXPECT_EQ(p.request.target, "/mutate?timeout=10s");
    EXPECT_EQ(p.request.body, "{\"a\":1}");
    EXPECT_EQ(p.request.header("content-type").value_or(""), "application/json");
    EXPECT_TRUE(p.request.keep_alive);
    EXPECT_EQ(p.rest, "");
  }
}

TEST(HttpRequestParser, ReadsAChunkedBodyWithExtensionsAndTrailers) {
  const std::string wire = kHead +
                           "Transfer-Encoding: chunked\r\n\r\n"
                           "3;name=value\r\n{\"a\r\n4\r\n\":1}\r\n0\r\nX-Trailer: y\r\n\r\n";
  for (std::size_t step : {0, 1, 5}) {
    Parsed p = parse(wire, step);
    ASSERT_EQ(p.state, State::kComplete) << step << " " << p.error.reason;
    EXPECT_TRUE(p.request.chunked);
    EXPECT_EQ(p.request.body, "{\"a\":1}");
  }
}

TEST(HttpRequestParser, LeavesAPipelinedRequestUnread) {
  const std::string second = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  Parsed p = parse("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n" + second);
  ASSERT_EQ(p.state, State::kComplete);
  EXPECT_EQ(p.request.path, "/readyz");
  EXPECT_EQ(p.rest, second);
}

TEST(HttpRequestParser, StopsAfterTheHeadSoTheCallerCanScreenIt) {
  HttpRequestParser parser;
  const std::string wire = kHead + "Content-Length: 2\r\n\r\n{}";
  std::size_t used = 0;
  EXPECT_EQ(parser.feed(wire, used), State::kHeadersDone);
  EXPECT_EQ(wire.substr(used), "{}");
  EXPECT_EQ(parser.body_bytes_left(), 2u);
  std::size_t more = 0;
  EXPECT_EQ(parser.feed(std::string_view(wire).substr(used), more), State::kComplete);
  EXPECT_EQ(parser.request().body, "{}");
}

TEST(HttpRequestParser, ConnectionCloseAndHttp10KeepAlive) {
  EXPECT_FALSE(
      parse("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse("GET /healthz HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_TRUE(parse("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").request.keep_alive);
}

TEST(HttpRequestParser, RecognisesExpectContinue) {
  Parsed p = parse(kHead + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_EQ(p.state, State::kComplete);
  EXPECT_TRUE(p.request.expect_continue);
  EXPECT_EQ(parse(kHead + "Expect: something-else\r\n\r\n").error.status, 417);
}

struct Refused {
  const char* what;
  std::string wire;
  int status;
  const char* reason_has;
};

class HttpRequestParserRefuses : public ::testing::TestWithParam<Refused> {};

TEST_P(HttpRequestParserRefuses, WithTheStatusAndAReason) {
  const Refused& c = GetParam();
  for (std::size_t step : {0, 1}) {
    Parsed p = parse(c.wire, step);
    EXPECT_EQ(p.state, State::kFailed) << c.what << " step " << step;
    EXPECT_EQ(p.error.status, c.status) << c.what << ": " << p.error.reason;
    EXPECT_NE(p.error.reason.find(c.reason_has), std::string::npos) << p.error.reason;
    EXPECT_EQ(p.error.reason.find_first_of("\r\n"), std::string::npos) << p.error.reason;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AmbiguousFraming, HttpRequestParserRefuses,
    ::testing::Values(
        Refused{"CL and TE",
                kHead + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                "ambiguous"},
        Refused{"TE and CL", kHead + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400,
                "ambiguous"},
        Refused{"differing CL", kHead + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
                "differ"},
        Refused{"CL list", kHead + "Content-Length: 5, 6\r\n\r\n", 400, "differ"},
        Refused{"CL sign", kHead + "Content-Length: +5\r\n\r\n", 400, "Content-Length"},
        Refused{"CL empty", kHead + "Content-Length: \r\n\r\n", 400, "Content-Length"},
        Refused{"TE chunked, identity", kHead + "Transfer-Encoding: chunked, identity\r\n\r\n", 501,
                "identity"},
        Refused{"TE gzip, chunked", kHead + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501,
                "gzip"},
        Refused{"TE identity", kHead + "Transfer-Encoding: identity\r\n\r\n", 501, "identity"},
        Refused{"TE chunked twice",
                kHead + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                "more than once"},
        Refused{"TE in HTTP/1.0", "POST /mutate HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                400, "HTTP/1.0"},
        Refused{"space before colon", kHead + "Content-Length : 5\r\n\r\nhello", 400, "name"},
        Refused{"folded line", kHead + "X-A: b\r\n c\r\n\r\n", 400, "folded"},
        Refused{"bare LF", "GET /healthz HTTP/1.1\nHost: x\n\n", 400, "LF"},
        Refused{"bare CR", kHead + "X-A: b\rc\r\n\r\n", 400, "CR"},
        Refused{"NUL in a value", kHead + std::string("X-A: b\0c\r\n\r\n", 12), 400, "control"},
        Refused{"two Host", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Host"},
        Refused{"no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "Host"},
        Refused{"HTTP/2", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "version"},
        Refused{"HTTP/0.9 style", "GET /healthz\r\n\r\n", 400, "request line"},
        Refused{"absolute form", "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "target"},
        Refused{"bad chunk size", kHead + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "chunk"},
        Refused{"chunk without CRLF",
                kHead + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", 400, "CRLF"},
        Refused{"huge chunk", kHead + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                413, "chunk"},
        Refused{"body over the limit", kHead + "Content-Length: 99999999\r\n\r\n", 413,
                "99999999"}));

TEST(HttpRequestParser, LimitsTheNumberOfHeaderFields) {
  std::string wire = kHead;
  for (int i = 0; i < 64; ++i) wire += "X-" + std::to_string(i) + ": v\r\n";
  Parsed p = parse(wire + "\r\n");
  EXPECT_EQ(p.state, State::kFailed);
  EXPECT_EQ(p.error.status, 431);
  std::string fewer = kHead;
  for (int i = 0; i < 62; ++i) fewer += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(parse(fewer + "\r\n").state, State::kComplete);
}

TEST(HttpRequestParser, LimitsTheHeadBytesBeforeKeepingThem) {
  HttpLimits limits;
  limits.max_header_bytes = 1024;
  // One endless header line: refused once past the limit, not buffered.
  HttpRequestParser parser(limits);
  std::size_t used = 0;
  EXPECT_EQ(parser.feed(kHead + "X-Long: ", used), State::kNeedMore);
  State state = State::kNeedMore;
  for (int i = 0; i < 100 && state == State::kNeedMore; ++i) {
    state = parser.feed(std::string(100, 'a'), used);
  }
  EXPECT_EQ(state, State::kFailed);
  EXPECT_EQ(parser.error().status, 431);
  // A request line alone over the limit: 414.
  EXPECT_EQ(parse("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n\r\n", 0, limits).error.status,
            414);
}

TEST(HttpRequestParser, LimitsAChunkedBodyAsItArrives) {
  HttpLimits limits;
  limits.max_body_bytes = 10;
  std::string wire = kHead + "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 6; ++i) wire += "2\r\nab\r\n";
  Parsed p = parse(wire + "0\r\n\r\n", 0, limits);
  EXPECT_EQ(p.state, State::kFailed);
  EXPECT_EQ(p.error.status, 413);
}

TEST(HttpRequestParser, ResetReadsTheNextRequest) {
  HttpRequestParser parser;
  const std::string wire = kHead + "Content-Length: 2\r\n\r\n{}";
  std::size_t used = 0;
  parser.feed(wire, used);
  parser.feed(std::string_view(wire).substr(used), used);
  ASSERT_EQ(parser.state(), State::kComplete);
  parser.reset();
  EXPECT_FALSE(parser.started());
  EXPECT_EQ(parser.feed("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", used), State::kHeadersDone);
  EXPECT_EQ(parser.feed("", used), State::kComplete);
  EXPECT_EQ(parser.request().path, "/healthz");
  EXPECT_EQ(parser.request().body, "");
}

}  // namespace
}  // namespace irsa::server
