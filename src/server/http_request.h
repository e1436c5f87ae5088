// HTTP/1.1 requests read incrementally and strictly (RFC 9112): bytes in as
// they arrive, a request out once complete. Whatever two parsers could read
// two ways is refused rather than guessed: Content-Length with
// Transfer-Encoding, differing Content-Length values, a transfer coding
// other than chunked, bare CR or LF, whitespace before a header's colon,
// folded header lines. No I/O: the connection loop feeds it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace irsa::server {

struct HttpLimits {
  // The request line and every header line (and a chunked body's trailer
  // lines), CRLFs included: over it, 431 (414 for the request line alone).
  std::size_t max_header_bytes = 16 * 1024;
  // Header fields (trailer fields count too): over it, 431.
  std::size_t max_headers = 64;
  // The body, once decoded: over it, 413.
  std::size_t max_body_bytes = 4 * 1024 * 1024;
};

struct HttpRequest {
  std::string method;
  std::string target;                                        // as sent: path and query
  std::string path;                                          // the target up to '?'
  int minor_version = 1;                                     // HTTP/1.<minor_version>: 0 or 1
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::optional<uint64_t> content_length;                    // nullopt: none (or chunked)
  bool chunked = false;
  bool expect_continue = false;  // Expect: 100-continue
  // The client's wish, from the version and the Connection header.
  bool keep_alive = true;
  std::string body;
  // When the head was complete (set by the connection; the epoch when it
  // never was): where the time to answer counts from, as a handler sees it.
  std::chrono::steady_clock::time_point head_at{};

  // The first header named `name` (any case); nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const;
};

// Why a request is refused: the HTTP status and a one-line reason (request
// bytes in it are escaped). The connection cannot carry another request.
struct HttpError {
  int status = 400;
  std::string reason;
};

class HttpRequestParser {
 public:
  enum class State {
    kNeedMore,     // every byte given was consumed; feed more
    kHeadersDone,  // the head is complete: look at request() before the body
    kComplete,     // request() is complete; bytes past it were not consumed
    kFailed,       // error() says why
  };

  explicit HttpRequestParser(HttpLimits limits = {}) : limits_(limits) {}

  // Consumes bytes from `data` and sets `consumed` to how many. Stops after
  // the head (kHeadersDone, once per request: the next call reads the body)
  // and after the request (kComplete: `consumed` marks where a pipelined
  // next request begins). Call reset() before the next request.
  State feed(std::string_view data, std::size_t& consumed);

  const HttpRequest& request() const { return request_; }
  HttpRequest& request() { return request_; }
  const HttpError& error() const { return error_; }
  State state() const { return state_; }
  // Some bytes of a request have been read (a keep-alive connection's next
  // request has begun).
  bool started() const {
    return phase_ != Phase::kRequestLine || !line_.empty() || head_bytes_ > 0;
  }
  // Body bytes still expected: exact with Content-Length, nullopt when
  // chunked (unknown) and 0 once the body is complete.
  std::optional<uint64_t> body_bytes_left() const;

  // Ready for the next request; frees a large body buffer.
  void reset();

 private:
  enum class Phase {
    kRequestLine,
    kHeaders,
    kBody,  // Content-Length
    kChunkSize,
    kChunkData,
    kChunkDataEnd,  // the CRLF after a chunk's data
    kTrailers,
    kDone,
  };

  State fail(int status, std::string reason);
  // Reads one CRLF-terminated line into line_ (without the CRLF); false
  // when more bytes are needed or the line failed (state_ set then).
  bool take_line(std::string_view data, std::size_t& at, std::size_t limit, int status);
  // Appends what `data` holds of the body or chunk from `at` on (left_
  // bytes at most); true once it is all there.
  bool take_body(std::string_view data, std::size_t& at);
  bool parse_request_line();
  bool parse_header_line(bool trailer);
  bool finish_head();
  bool parse_chunk_size();

  HttpLimits limits_;
  HttpRequest request_;
  HttpError error_;
  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kRequestLine;
  std::string line_;
  bool line_has_cr_ = false;
  std::size_t head_bytes_ = 0;
  std::size_t header_count_ = 0;
  uint64_t left_ = 0;  // of the body (Content-Length) or of the chunk
  std::vector<std::string> transfer_codings_;
  std::vector<std::string> content_lengths_;
};

// `text` without the spaces and tabs around it (HTTP's OWS).
std::string_view trim_whitespace(std::string_view text);
// Equal but for the case of ASCII letters (header names, tokens).
bool iequals_ascii(std::string_view a, std::string_view b);

// The reason phrase of a status this server sends ("OK", "Not Found", ...).
std::string_view status_text(int status);

}  // namespace irsa::server
