// The connection state machine: handshake -> read -> (answer here or on a
// worker) -> write -> next request, with the budget and deadlines between.
#include "server/connection.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "log/log.h"

namespace irsa::server {
namespace {

constexpr std::size_t kReadBufferBytes = 16 * 1024;
// Plaintext read from one connection before the others get their turn.
constexpr std::size_t kTurnBytes = 64 * 1024;
// A refused request's rest is read and dropped within these bounds before
// the connection closes, so that the client reads the reply, not a reset.
constexpr uint64_t kDiscardMaxBytes = 32 * 1024 * 1024;
constexpr auto kDiscardMaxTime = std::chrono::seconds(2);
// While draining, a keep-alive connection idle this long is closed; one in
// use gets Connection: close on its next reply instead.
constexpr auto kDrainIdleClose = std::chrono::seconds(1);
// A reply buffer larger than this is freed once written.
constexpr std::size_t kKeepBufferBytes = 64 * 1024;

thread_local char t_buffer[kReadBufferBytes];

void append_response(std::string& out, const HttpResponse& response, bool head_only, bool close) {
  out.reserve(out.size() + 160 + (head_only ? 0 : response.body.size()));
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += status_text(response.status);
  out += "\r\nContent-Type: ";
  out += response.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\n";
  for (const auto& [name, value] : response.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_only) out += response.body;
}

HttpResponse internal_error() {
  return HttpResponse{500, "text/plain; charset=utf-8", "internal error\n", {}, true};
}

}  // namespace

Connection::Connection(ConnectionHost& host, const ConnectionOptions& options,
                       std::unique_ptr<Transport> transport, std::string remote)
    : host_(host),
      options_(options),
      transport_(std::move(transport)),
      remote_(std::move(remote)),
      parser_(options.limits),
      deadline_(host.now() + options.read_timeout) {}

Connection::~Connection() {
  if (phase_ != Phase::kClosed) {
    transport_->close(false);
    host_.release(charged_);
  }
}

void Connection::close(bool notify) {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  transport_->close(notify);
  host_.release(charged_);
  charged_ = 0;
  host_.closed(*this);
}

void Connection::advance() {
  std::size_t turn = kTurnBytes;
  for (int step = 0; step < 64; ++step) {
    switch (phase_) {
      case Phase::kHandshake: {
        IoResult result = transport_->handshake();
        if (result.status == IoResult::kOk) {
          phase_ = Phase::kReading;
          continue;
        }
        if (result.status != IoResult::kClosed) return;
        if (log::enabled(4)) {
          log::info("TLS handshake failed", {{"remote", remote_}, {"error", result.error}});
        }
        close(false);
        return;
      }
      case Phase::kReading: {
        if (!pending_.empty()) {
          // Bytes read past the previous request; what consume() does not
          // take goes back to pending_.
          std::string data = std::move(pending_);
          pending_.clear();
          consume(data);
          continue;
        }
        if (turn == 0) {
          host_.yield(*this);
          return;
        }
        IoResult result = transport_->read(t_buffer, sizeof t_buffer);
        if (result.status == IoResult::kWantRead || result.status == IoResult::kWantWrite) return;
        if (result.status == IoResult::kClosed || result.bytes == 0) {
          // The client closed or the stream broke: nothing to answer.
          close(false);
          return;
        }
        turn -= std::min(turn, result.bytes);
        consume(std::string_view(t_buffer, result.bytes));
        continue;
      }
      case Phase::kWaitingMemory:
      case Phase::kDispatched:
      case Phase::kClosed:
        return;
      case Phase::kWriting:
        while (out_at_ < out_.size()) {
          IoResult result = transport_->write(out_.data() + out_at_, out_.size() - out_at_);
          if (result.status == IoResult::kOk && result.bytes > 0) {
            out_at_ += result.bytes;
            continue;
          }
          if (result.status == IoResult::kWantRead || result.status == IoResult::kWantWrite) return;
          close(false);
          return;
        }
        finish_write();
        continue;
      case Phase::kDiscarding:
        discard();
        return;
    }
  }
  if (phase_ != Phase::kClosed) host_.yield(*this);
}

bool Connection::consume(std::string_view data) {
  for (;;) {
    std::size_t used = 0;
    const HttpRequestParser::State state = parser_.feed(data, used);
    data.remove_prefix(used);
    if (!request_started_ && parser_.started()) {
      request_started_ = true;
      // The first request counts from accept; a later one from its first byte.
      if (requests_ > 0) deadline_ = host_.now() + options_.read_timeout;
    }
    HttpRequest& request = parser_.request();
    switch (state) {
      case HttpRequestParser::State::kNeedMore:
        // A chunked body is charged as it grows; past the budget it waits.
        if (request.chunked && request.body.capacity() > charged_) {
          const std::size_t more = request.body.capacity() - charged_;
          host_.charge(more, true);
          charged_ += more;
          if (host_.in_flight() > options_.max_bytes_in_flight) {
            waiting_for_ = 0;
            phase_ = Phase::kWaitingMemory;
          }
        }
        return true;
      case HttpRequestParser::State::kHeadersDone: {
        request.head_at = host_.now();
        if (auto refusal = host_.application().screen(request)) {
          const auto left = parser_.body_bytes_left();
          refusal->close = true;
          reply(request, std::move(*refusal), left ? *left : kDiscardMaxBytes);
          return false;
        }
        const uint64_t length = request.content_length.value_or(0);
        if (length > 0 && !host_.charge(static_cast<std::size_t>(length), false)) {
          waiting_for_ = static_cast<std::size_t>(length);
          phase_ = Phase::kWaitingMemory;
          pending_.assign(data);
          return false;
        }
        charged_ += static_cast<std::size_t>(length);
        if (request.expect_continue) {
          out_ = "HTTP/1.1 100 Continue\r\n\r\n";
          out_at_ = 0;
          after_ = AfterWrite::kContinueReading;
          phase_ = Phase::kWriting;
          pending_.assign(data);
          return false;
        }
        continue;
      }
      case HttpRequestParser::State::kComplete:
        pending_.assign(data);
        if (!room_to_answer()) {
          // Replies are held in memory until written: none is made while
          // what others hold fills the budget.
          answer_waiting_ = true;
          phase_ = Phase::kWaitingMemory;
          return false;
        }
        dispatch();
        return false;
      case HttpRequestParser::State::kFailed: {
        const HttpError& error = parser_.error();
        HttpResponse response;
        response.status = error.status;
        response.body = error.reason + "\n";
        response.close = true;
        // The rest of what the client sends is read and dropped (bounded)
        // so that it reads the reply rather than a reset.
        reply(request, std::move(response), kDiscardMaxBytes);
        return false;
      }
    }
  }
}

bool Connection::room_to_answer() const {
  const std::size_t total = host_.in_flight();
  const std::size_t others = total > charged_ ? total - charged_ : 0;
  return others < options_.max_bytes_in_flight;
}

void Connection::dispatch() {
  HttpRequest& request = parser_.request();
  if (request.body.size() <= options_.inline_max_body_bytes) {
    std::optional<HttpResponse> response;
    try {
      response = host_.application().respond(request, false);
    } catch (const std::exception& e) {
      log::error("request failed", {{"error", e.what()}});
      response = internal_error();
    }
    if (response) {
      reply(request, std::move(*response), 0);
      return;
    }
  }
  phase_ = Phase::kDispatched;
  host_.submit(*this, std::make_shared<HttpRequest>(std::move(request)));
}

void Connection::answer(const HttpRequest& request, HttpResponse response) {
  if (phase_ != Phase::kDispatched) return;
  reply(request, std::move(response), 0);
}

void Connection::reply(const HttpRequest& request, HttpResponse response, uint64_t unread) {
  host_.application().completed(request, response, remote_);
  ++requests_;
  const bool last =
      options_.max_requests_per_connection > 0 && requests_ >= options_.max_requests_per_connection;
  const bool close = response.close || !request.keep_alive || last || closing_ ||
                     host_.draining() || host_.stopping();
  // The request's body is done with; the reply is what is held now.
  host_.release(charged_);
  out_.clear();
  out_at_ = 0;
  append_response(out_, response, request.method == "HEAD", close);
  std::string().swap(response.body);
  host_.charge(out_.size(), true);
  charged_ = out_.size();
  if (!close) {
    after_ = AfterWrite::kNextRequest;
  } else if (unread > 0) {
    after_ = AfterWrite::kDiscardThenClose;
    discard_left_ = std::min(unread, kDiscardMaxBytes);
  } else {
    after_ = AfterWrite::kClose;
  }
  phase_ = Phase::kWriting;
  deadline_ = host_.now() + options_.write_timeout;
}

void Connection::finish_write() {
  host_.release(charged_);
  charged_ = 0;
  if (out_.capacity() > kKeepBufferBytes) {
    std::string().swap(out_);
  } else {
    out_.clear();
  }
  out_at_ = 0;
  const auto now = host_.now();
  switch (after_) {
    case AfterWrite::kContinueReading:
      phase_ = Phase::kReading;
      return;
    case AfterWrite::kClose:
      close(true);
      return;
    case AfterWrite::kDiscardThenClose:
      phase_ = Phase::kDiscarding;
      deadline_ = now + kDiscardMaxTime;
      return;
    case AfterWrite::kNextRequest:
      parser_.reset();
      phase_ = Phase::kReading;
      request_started_ = false;
      idle_at_ = now;
      deadline_ = now + options_.idle_timeout;
      return;
  }
}

void Connection::discard() {
  for (int i = 0; i < 64 && discard_left_ > 0; ++i) {
    IoResult result = transport_->read(t_buffer, sizeof t_buffer);
    if (result.status == IoResult::kWantRead || result.status == IoResult::kWantWrite) return;
    if (result.status == IoResult::kClosed || result.bytes == 0) {
      close(false);  // the client closed: done
      return;
    }
    discard_left_ -= std::min<uint64_t>(discard_left_, result.bytes);
  }
  if (discard_left_ > 0) {
    host_.yield(*this);  // more to drop on the next turn
    return;
  }
  close(true);
}

bool Connection::try_resume() {
  if (answer_waiting_) {
    if (!room_to_answer()) return false;
    answer_waiting_ = false;
    dispatch();
    return true;
  }
  if (waiting_for_ > 0) {
    if (!host_.charge(waiting_for_, false)) return false;
    charged_ += waiting_for_;
    waiting_for_ = 0;
  } else if (host_.in_flight() >= options_.max_bytes_in_flight) {
    return false;
  }
  phase_ = Phase::kReading;
  return true;
}

bool Connection::close_if_idle() {
  if (!idle()) return false;
  close(true);
  return true;
}

void Connection::tick(bool draining, bool listening) {
  const auto now = host_.now();
  switch (phase_) {
    case Phase::kWaitingMemory:
      if (now < deadline_ && try_resume()) {
        host_.yield(*this);
        return;
      }
      [[fallthrough]];
    case Phase::kHandshake:
    case Phase::kReading:
    case Phase::kWriting:
    case Phase::kDiscarding:
      if (now >= deadline_) {
        if (log::enabled(4) && phase_ != Phase::kDiscarding && !idle()) {
          log::info(phase_ == Phase::kHandshake ? "TLS handshake timed out"
                    : phase_ == Phase::kWriting ? "reply write timed out"
                                                : "request read timed out",
                    {{"remote", remote_}});
        }
        close(idle());
      } else if (draining && idle() && (!listening || now - idle_at_ >= kDrainIdleClose)) {
        close(true);
      }
      return;
    case Phase::kDispatched:
    case Phase::kClosed:
      return;
  }
}

}  // namespace irsa::server
