// HTTP/1.1 request framing (server::HttpRequestParser): the input is the
// byte stream a client sends on one connection, read as the connection
// loop reads it (the next request from where the last one ended, until a
// request fails).
//
// Properties: never a crash or an exception; the requests and the error a
// stream yields do not depend on how its bytes are cut into reads (so that
// no two readers of the same bytes could see different requests); a
// request is only ever read where its framing is unambiguous (no
// Transfer-Encoding with Content-Length, every Content-Length equal, only
// "chunked" as a transfer coding); the body of a Content-Length request is
// exactly that long; limits hold; an error's reason is one line.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "server/http_request.h"

namespace {

using irsa::server::HttpLimits;
using irsa::server::HttpRequest;
using irsa::server::HttpRequestParser;
using State = HttpRequestParser::State;

constexpr std::size_t kMaxRequests = 64;

struct Outcome {
  std::vector<HttpRequest> requests;
  int error_status = 0;
  std::string error_reason;
  bool operator==(const Outcome& other) const {
    if (requests.size() != other.requests.size() || error_status != other.error_status ||
        error_reason != other.error_reason) {
      return false;
    }
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const HttpRequest& a = requests[i];
      const HttpRequest& b = other.requests[i];
      if (a.method != b.method || a.target != b.target || a.headers != b.headers ||
          a.body != b.body || a.keep_alive != b.keep_alive || a.chunked != b.chunked) {
        return false;
      }
    }
    return true;
  }
};

// Reads `pieces` as the loop does: each piece in turn, continuing after a
// head, the bytes after a complete request starting the next one.
Outcome read_stream(const std::vector<std::string_view>& pieces, const HttpLimits& limits) {
  Outcome out;
  HttpRequestParser parser(limits);
  std::string carry;  // bytes of the current piece not consumed yet
  for (std::string_view piece : pieces) {
    carry.append(piece);
    std::string_view data = carry;
    for (int guard = 0; guard < 100000; ++guard) {
      std::size_t used = 0;
      const State state = parser.feed(data, used);
      FUZZ_CHECK(used <= data.size(), "consumed more than given");
      data.remove_prefix(used);
      if (state == State::kFailed) {
        out.error_status = parser.error().status;
        out.error_reason = parser.error().reason;
        return out;
      }
      if (state == State::kComplete) {
        out.requests.push_back(parser.request());
        if (out.requests.size() >= kMaxRequests) return out;
        parser.reset();
        continue;
      }
      if (state == State::kNeedMore) {
        FUZZ_CHECK(data.empty(), "asked for more with bytes left");
        break;
      }
      // kHeadersDone: go on with the body.
    }
    carry = std::string(data);
  }
  return out;
}

void check_request(const HttpRequest& request, const HttpLimits& limits) {
  std::size_t content_lengths = 0;
  bool transfer_encoding = false;
  std::string first_length;
  for (const auto& [name, value] : request.headers) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    if (lower == "content-length") {
      ++content_lengths;
      if (first_length.empty()) first_length = value;
    }
    if (lower == "transfer-encoding") transfer_encoding = true;
    FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos, "a header value holds CR or LF");
  }
  FUZZ_CHECK(!(transfer_encoding && content_lengths > 0),
             "a request with both Transfer-Encoding and Content-Length was read");
  FUZZ_CHECK(transfer_encoding == request.chunked, "Transfer-Encoding read as not chunked");
  if (request.content_length) {
    FUZZ_CHECK(request.body.size() == *request.content_length,
               "body of " + std::to_string(request.body.size()) + " bytes, Content-Length " +
                   std::to_string(*request.content_length));
  }
  FUZZ_CHECK(request.body.size() <= limits.max_body_bytes, "body over the limit");
  FUZZ_CHECK(request.headers.size() <= limits.max_headers, "more header fields than the limit");
  FUZZ_CHECK(!request.path.empty() && request.path.front() == '/', "path " + request.path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view stream = irsa::fuzz::as_text(data, size);
  HttpLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_headers = 16;
  limits.max_body_bytes = 4096;

  const Outcome whole = read_stream({stream}, limits);
  const Outcome cut = read_stream(irsa::fuzz::chunks(stream), limits);
  std::vector<std::string_view> bytes;
  bytes.reserve(stream.size());
  for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(stream.substr(i, 1));
  const Outcome one_by_one = read_stream(bytes, limits);
  FUZZ_CHECK(whole == cut,
             "requests depend on how the stream is cut: " + irsa::fuzz::excerpt(stream));
  FUZZ_CHECK(whole == one_by_one,
             "requests depend on byte-at-a-time reads: " + irsa::fuzz::excerpt(stream));
  for (const HttpRequest& request : whole.requests) check_request(request, limits);
  if (whole.error_status != 0) {
    FUZZ_CHECK(whole.error_status >= 400 && whole.error_status < 600,
               std::to_string(whole.error_status));
    FUZZ_CHECK(!whole.error_reason.empty(), "empty reason");
    for (char c : whole.error_reason) {
      auto byte = static_cast<unsigned char>(c);
      FUZZ_CHECK(byte >= 0x20 && byte != 0x7F, "a control byte in a reason: " + whole.error_reason);
    }
  }
  return 0;
}
