// A byte-at-a-time-safe HTTP/1.1 request reader: lines are found with
// memchr, bodies copied in spans, and every limit is checked before bytes
// are kept.
#include "server/http_request.h"

#include <algorithm>
#include <cstring>

#include "common/quote.h"

namespace irsa::server {
namespace {

// Chunk-size lines (with their extensions) are short; a longer one is refused.
constexpr std::size_t kMaxChunkLineBytes = 1024;
// Empty lines a client may send before a request line (RFC 9112 section 2.2).
constexpr std::size_t kMaxLeadingEmptyLines = 4;

bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return is_tchar(c); });
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Calls `each` with every comma-separated element of a list header, trimmed;
// empty elements are skipped (RFC 9110 section 5.6.1).
template <typename Each>
void for_each_element(std::string_view list, Each each) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view element = trim_whitespace(list.substr(0, comma));
    if (!element.empty()) each(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals_ascii(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<uint64_t> HttpRequestParser::body_bytes_left() const {
  switch (phase_) {
    case Phase::kBody:
      return left_;
    case Phase::kChunkSize:
    case Phase::kChunkData:
    case Phase::kChunkDataEnd:
    case Phase::kTrailers:
      return std::nullopt;
    case Phase::kDone:
      return 0;
    case Phase::kRequestLine:
    case Phase::kHeaders:
      break;
  }
  return request_.chunked ? std::nullopt : request_.content_length;
}

void HttpRequestParser::reset() {
  std::string body = std::move(request_.body);
  request_ = HttpRequest{};
  // A small buffer is kept for the next request; a large one is freed.
  if (body.capacity() <= 64 * 1024) {
    body.clear();
    request_.body = std::move(body);
  }
  error_ = HttpError{};
  state_ = State::kNeedMore;
  phase_ = Phase::kRequestLine;
  line_.clear();
  line_has_cr_ = false;
  head_bytes_ = 0;
  header_count_ = 0;
  left_ = 0;
  transfer_codings_.clear();
  content_lengths_.clear();
}

HttpRequestParser::State HttpRequestParser::fail(int status, std::string reason) {
  state_ = State::kFailed;
  error_ = HttpError{status, std::move(reason)};
  return state_;
}

bool HttpRequestParser::take_line(std::string_view data, std::size_t& at, std::size_t limit,
                                  int status) {
  const char* begin = data.data() + at;
  const std::size_t available = data.size() - at;
  const void* found = std::memchr(begin, '\n', available);
  const std::size_t span =
      found ? static_cast<std::size_t>(static_cast<const char*>(found) - begin) : available;
  if (line_.size() + span + (found ? 1 : 0) > limit) {
    if (status == 414) {
      fail(414, "request line too long (the head may be at most " +
                    std::to_string(limits_.max_header_bytes) + " bytes)");
    } else if (status == 431) {
      fail(431, "request header fields too large (over " +
                    std::to_string(limits_.max_header_bytes) + " bytes)");
    } else {
      fail(status, "chunk size line too long");
    }
    return false;
  }
  line_.append(begin, span);
  at += span;
  if (!found) return false;
  ++at;  // the LF
  if (line_.empty() || line_.back() != '\r') {
    fail(400, "a line ends in LF without CR");
    return false;
  }
  line_.pop_back();
  if (line_.find('\r') != std::string::npos) {
    fail(400, "a line holds a bare CR");
    return false;
  }
  return true;
}

HttpRequestParser::State HttpRequestParser::feed(std::string_view data, std::size_t& consumed) {
  consumed = 0;
  if (state_ == State::kFailed || state_ == State::kComplete) return state_;
  std::size_t at = 0;
  for (;;) {
    switch (phase_) {
      case Phase::kRequestLine:
      case Phase::kHeaders:
      case Phase::kTrailers: {
        const bool request_line = phase_ == Phase::kRequestLine;
        const std::size_t room =
            limits_.max_header_bytes > head_bytes_ ? limits_.max_header_bytes - head_bytes_ : 0;
        if (!take_line(data, at, room, request_line ? 414 : 431)) {
          if (state_ == State::kFailed) return state_;
          consumed = at;
          return state_ = State::kNeedMore;
        }
        head_bytes_ += line_.size() + 2;
        if (request_line) {
          if (line_.empty()) {
            if (head_bytes_ > kMaxLeadingEmptyLines * 2) {
              return fail(400, "empty lines instead of a request line");
            }
            continue;
          }
          if (!parse_request_line()) return state_;
          line_.clear();
          phase_ = Phase::kHeaders;
          continue;
        }
        if (line_.empty()) {
          if (phase_ == Phase::kTrailers) {
            phase_ = Phase::kDone;
            continue;
          }
          if (!finish_head()) return state_;
          consumed = at;
          return state_ = State::kHeadersDone;
        }
        if (!parse_header_line(phase_ == Phase::kTrailers)) return state_;
        line_.clear();
        continue;
      }
      case Phase::kBody:
        // Reserved when the body starts to arrive, not when it is announced.
        if (request_.body.empty()) request_.body.reserve(static_cast<std::size_t>(left_));
        if (!take_body(data, at)) {
          consumed = at;
          return state_ = State::kNeedMore;
        }
        phase_ = Phase::kDone;
        continue;
      case Phase::kChunkSize: {
        if (!take_line(data, at, kMaxChunkLineBytes, 400)) {
          if (state_ == State::kFailed) return state_;
          consumed = at;
          return state_ = State::kNeedMore;
        }
        if (!parse_chunk_size()) return state_;
        line_.clear();
        continue;
      }
      case Phase::kChunkData:
        if (!take_body(data, at)) {
          consumed = at;
          return state_ = State::kNeedMore;
        }
        phase_ = Phase::kChunkDataEnd;
        continue;
      case Phase::kChunkDataEnd: {
        // Exactly CRLF after a chunk's data.
        while (at < data.size() && line_.size() < 2) line_ += data[at++];
        if (line_.size() < 2) {
          if (!line_.empty() && line_[0] != '\r')
            return fail(400, "chunk data not followed by CRLF");
          consumed = at;
          return state_ = State::kNeedMore;
        }
        if (line_ != "\r\n") return fail(400, "chunk data not followed by CRLF");
        line_.clear();
        phase_ = Phase::kChunkSize;
        continue;
      }
      case Phase::kDone:
        consumed = at;
        return state_ = State::kComplete;
    }
  }
}

bool HttpRequestParser::take_body(std::string_view data, std::size_t& at) {
  const std::size_t n =
      static_cast<std::size_t>(std::min<uint64_t>(left_, static_cast<uint64_t>(data.size() - at)));
  request_.body.append(data.data() + at, n);
  at += n;
  left_ -= n;
  return left_ == 0;
}

bool HttpRequestParser::parse_request_line() {
  std::string_view line = line_;
  const std::size_t first = line.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
    fail(400, "malformed request line");
    return false;
  }
  std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, second - first - 1);
  std::string_view version = line.substr(second + 1);
  if (!is_token(method)) {
    fail(400, "malformed request method");
    return false;
  }
  if (target.empty() || target.front() != '/' ||
      !std::all_of(target.begin(), target.end(), [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return byte > 0x20 && byte < 0x7F;
      })) {
    fail(400, "malformed request target " + quote(target));
    return false;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    fail(400, "malformed HTTP version");
    return false;
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    fail(505, "HTTP version " + std::string(version.substr(5)) + " is not supported; use HTTP/1.1");
    return false;
  }
  request_.method = std::string(method);
  request_.target = std::string(target);
  request_.path = std::string(target.substr(0, target.find('?')));
  request_.minor_version = version[7] - '0';
  request_.keep_alive = request_.minor_version == 1;
  return true;
}

bool HttpRequestParser::parse_header_line(bool trailer) {
  std::string_view line = line_;
  if (line.front() == ' ' || line.front() == '\t') {
    fail(400, "a folded header line (obsolete line folding is not accepted)");
    return false;
  }
  if (++header_count_ > limits_.max_headers) {
    fail(431, "too many header fields (over " + std::to_string(limits_.max_headers) + ")");
    return false;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    fail(400, "a header line without a colon");
    return false;
  }
  std::string_view name = line.substr(0, colon);
  if (!is_token(name)) {
    fail(400, "malformed header field name " + quote(name));
    return false;
  }
  std::string_view value = trim_whitespace(line.substr(colon + 1));
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7F) {
      fail(400, "header field " + quote(name) + " holds a control byte");
      return false;
    }
  }
  if (trailer) return true;  // read, checked and dropped
  if (iequals_ascii(name, "Content-Length")) {
    content_lengths_.emplace_back(value);
  } else if (iequals_ascii(name, "Transfer-Encoding")) {
    for_each_element(value, [&](std::string_view coding) {
      std::string lowered(coding);
      std::transform(lowered.begin(), lowered.end(), lowered.begin(), lower);
      transfer_codings_.push_back(std::move(lowered));
    });
    if (value.empty()) transfer_codings_.emplace_back();
  } else if (iequals_ascii(name, "Host")) {
    if (request_.header("Host")) {
      fail(400, "more than one Host header");
      return false;
    }
  }
  request_.headers.emplace_back(std::string(name), std::string(value));
  return true;
}

bool HttpRequestParser::finish_head() {
  HttpRequest& r = request_;
  if (r.minor_version == 1 && !r.header("Host")) {
    fail(400, "an HTTP/1.1 request without a Host header");
    return false;
  }
  if (auto connection = r.header("Connection")) {
    for_each_element(*connection, [&](std::string_view option) {
      if (iequals_ascii(option, "close")) r.keep_alive = false;
      if (iequals_ascii(option, "keep-alive") && r.minor_version == 0) r.keep_alive = true;
    });
  }
  if (auto expect = r.header("Expect")) {
    if (!iequals_ascii(trim_whitespace(*expect), "100-continue")) {
      fail(417, "unsupported expectation " + quote(*expect));
      return false;
    }
    r.expect_continue = r.minor_version == 1;
  }
  if (!transfer_codings_.empty()) {
    if (!content_lengths_.empty()) {
      fail(400, "both Content-Length and Transfer-Encoding: the body's length is ambiguous");
      return false;
    }
    if (r.minor_version == 0) {
      fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    for (const std::string& coding : transfer_codings_) {
      if (coding != "chunked") {
        fail(501, "transfer coding " + quote(coding) + " is not supported; only chunked is");
        return false;
      }
    }
    if (transfer_codings_.size() > 1) {
      fail(400, "chunked is applied more than once");
      return false;
    }
    r.chunked = true;
    phase_ = Phase::kChunkSize;
    return true;
  }
  std::optional<uint64_t> length;
  for (const std::string& header : content_lengths_) {
    bool valid = true;
    for_each_element(header, [&](std::string_view text) {
      uint64_t value = 0;
      if (text.size() > 19 ||
          !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        valid = false;
        return;
      }
      for (char c : text) value = value * 10 + static_cast<uint64_t>(c - '0');
      if (length && *length != value) valid = false;
      length = value;
    });
    if (!valid || !length) {
      fail(400, content_lengths_.size() > 1 || header.find(',') != std::string::npos
                    ? "Content-Length values differ or are malformed: the body's length is "
                      "ambiguous"
                    : "invalid Content-Length " + quote(header));
      return false;
    }
  }
  r.content_length = length;
  const uint64_t size = length.value_or(0);
  if (size > limits_.max_body_bytes) {
    fail(413, "request body of " + std::to_string(size) + " bytes is over the limit of " +
                  std::to_string(limits_.max_body_bytes));
    return false;
  }
  left_ = size;
  phase_ = size > 0 ? Phase::kBody : Phase::kDone;
  return true;
}

bool HttpRequestParser::parse_chunk_size() {
  std::string_view line = line_;
  std::size_t digits = 0;
  uint64_t size = 0;
  while (digits < line.size()) {
    char c = line[digits];
    int value = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (value < 0) break;
    if (digits >= 15) {
      fail(413, "chunk size too large");
      return false;
    }
    size = size * 16 + static_cast<uint64_t>(value);
    ++digits;
  }
  std::string_view rest = line.substr(digits);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (digits == 0 || (!rest.empty() && rest.front() != ';')) {
    fail(400, "malformed chunk size line");
    return false;
  }
  for (char c : rest) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7F) {
      fail(400, "a chunk extension holds a control byte");
      return false;
    }
  }
  if (size == 0) {
    phase_ = Phase::kTrailers;
    return true;
  }
  if (size >
      limits_.max_body_bytes - std::min<uint64_t>(request_.body.size(), limits_.max_body_bytes)) {
    fail(413,
         "request body is over the limit of " + std::to_string(limits_.max_body_bytes) + " bytes");
    return false;
  }
  left_ = size;
  phase_ = Phase::kChunkData;
  return true;
}

std::string_view trim_whitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view status_text(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return status < 500 ? "Bad Request" : "Internal Server Error";
  }
}

}  // namespace irsa::server
