// The list+watch loop. One thread; every wait is bounded and interruptible
// by stop().
#include "kube/reflector.h"

#include <utility>

#include "kube/json_stream.h"
#include "log/log.h"

namespace irsa::kube {
namespace {

constexpr int kMaxPages = 1000000;
constexpr int kMaxAttemptsPerList = 3;  // the full-object fallback and the relist from etcd

bool refuses_media_type(int status) { return status == 406 || status == 415; }

}  // namespace

Reflector::Reflector(std::shared_ptr<const ApiClient> client, ReflectorOptions options,
                     ReflectorHandler& handler)
    : client_(std::move(client)),
      options_(std::move(options)),
      handler_(handler),
      decoder_(options_.annotation_prefix),
      backoff_(options_.backoff),
      random_(std::random_device{}()),
      metadata_only_(options_.metadata_only) {}

Reflector::~Reflector() { stop(); }

void Reflector::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping()) return;
  connection_ = client_->connect();
  running_.store(true);
  thread_ = std::thread([this] { run(); });
}

void Reflector::stop() {
  stopping_.store(true);
  cv_.notify_all();
  // A request that started just before cancel() may not see it (the socket
  // was not open yet); cancel again until the thread is out, a bounded number
  // of times.
  for (int attempt = 0; attempt < 500 && running_.load(); ++attempt) {
    {
      std::unique_lock lock(mutex_);
      if (connection_) connection_->cancel();
      cv_.wait_for(lock, std::chrono::milliseconds(10), [this] { return !running_.load(); });
    }
  }
  if (thread_.joinable()) thread_.join();
}

bool Reflector::wait_for_sync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [this] { return synced_.load() || stopping_.load(); }) &&
         synced_.load();
}

std::string Reflector::resource_version() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

Reflector::Stats Reflector::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Reflector::set_resource_version(std::string rv) {
  if (rv.empty()) return;
  std::lock_guard lock(mutex_);
  resource_version_ = std::move(rv);
}

bool Reflector::sleep_for(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

std::string Reflector::query(const std::string& extra) const {
  std::string q = options_.collection_path + "?" + extra;
  if (!options_.field_selector.empty())
    q += "&fieldSelector=" + url_encode(options_.field_selector);
  return q;
}

void Reflector::run() {
  // The first list may come from the API server's cache (resourceVersion=0),
  // the kind way to start on a large cluster.
  std::string list_rv = "0";
  bool need_list = true;
  while (!stopping()) {
    if (need_list) {
      ListOutcome listed = list(list_rv);
      if (listed == ListOutcome::kStopped) break;
      if (listed == ListOutcome::kExpired && !list_rv.empty()) {
        // Too old for the server: read the current state from etcd at once.
        list_rv.clear();
        continue;
      }
      if (listed != ListOutcome::kOk) {
        if (!sleep_for(backoff_.next())) break;
        continue;
      }
      need_list = false;
    }

    const auto started = std::chrono::steady_clock::now();
    const auto before = stats();
    WatchOutcome watched = watch(resource_version());
    if (watched == WatchOutcome::kStopped) break;
    const auto after = stats();
    const bool progress = after.events + after.bookmarks > before.events + before.bookmarks ||
                          std::chrono::steady_clock::now() - started >= options_.healthy_watch;
    if (progress) backoff_.reset();

    switch (watched) {
      case WatchOutcome::kEnded:
        // The server's timeout: watch again from where it ended. A watch that
        // ends at once with nothing in it is a failure (no busy loop).
        if (!progress && !sleep_for(backoff_.next())) break;
        break;
      case WatchOutcome::kQuiet:
        log::warning("watch went quiet; restarting it", {{"resource", options_.description}});
        break;
      case WatchOutcome::kGone: {
        std::lock_guard lock(mutex_);
        ++stats_.relists_after_gone;
      }
        need_list = true;
        list_rv = resource_version();
        if (!progress && !sleep_for(backoff_.next())) break;
        break;
      case WatchOutcome::kFailed:
        need_list = true;
        list_rv = resource_version();
        if (!sleep_for(backoff_.next())) break;
        break;
      case WatchOutcome::kStopped:
        break;
    }
  }
  {
    std::lock_guard lock(mutex_);
    running_.store(false);
  }
  cv_.notify_all();
}

Reflector::ListOutcome Reflector::list(const std::string& resource_version) {
  Connection& connection = *connection_;
  for (int attempt = 0; attempt < kMaxAttemptsPerList; ++attempt) {
    {
      std::lock_guard lock(mutex_);
      ++stats_.lists;
    }
    handler_.list_begin();
    std::string continue_token;
    std::string list_rv;
    std::size_t count = 0;
    bool refused = false;
    for (int page = 0; page < kMaxPages; ++page) {
      std::string params = "limit=" + std::to_string(options_.page_size);
      if (!continue_token.empty()) {
        params += "&continue=" + url_encode(continue_token);
      } else if (!resource_version.empty()) {
        params += "&resourceVersion=" + url_encode(resource_version);
      }
      ListStreamParser parser;
      Status problem = Ok{};
      bool timed_out = false;
      const auto deadline = std::chrono::steady_clock::now() + options_.list_page_timeout;
      auto result = connection.stream(query(params),
                                      metadata_only_ ? kAcceptPartialMetadataList : kAcceptJson,
                                      options_.list_page_timeout, [&](std::string_view chunk) {
                                        if (std::chrono::steady_clock::now() > deadline) {
                                          timed_out = true;
                                          return false;
                                        }
                                        auto fed = parser.feed(chunk, [&](std::string_view item) {
                                          auto meta = decoder_.decode_object(item);
                                          if (!meta) {
                                            problem = Error{"list item: " + meta.error()};
                                            return false;
                                          }
                                          handler_.list_item(*meta, item);
                                          ++count;
                                          return true;
                                        });
                                        if (!fed) problem = Error{fed.error()};
                                        return problem.ok();
                                      });
      {
        std::lock_guard lock(mutex_);
        ++stats_.pages;
      }
      if (stopping() || result.failure == Connection::Failure::kCancelled) {
        return ListOutcome::kStopped;
      }
      auto fail = [&](const std::string& why) {
        {
          std::lock_guard lock(mutex_);
          ++stats_.failures;
        }
        log::warning(
            "list failed",
            {{"resource", options_.description}, {"server", client_->describe()}, {"error", why}});
        return ListOutcome::kFailed;
      };
      if (timed_out)
        return fail("timed out after " + std::to_string(options_.list_page_timeout.count()) +
                    " ms");
      if (!problem) return fail(problem.error());
      if (result.failure != Connection::Failure::kNone) return fail(result.error);
      const int status = result.end.response.status;
      if (status == 410 ||
          (status == 504 && !resource_version.empty() && resource_version != "0")) {
        log::info("list: resourceVersion or continue token expired; listing again",
                  {{"resource", options_.description},
                   {"message", status_message(result.end.response.body)}});
        return ListOutcome::kExpired;
      }
      if (refuses_media_type(status) && metadata_only_) {
        log::warning("the API server refuses metadata-only lists; reading full objects",
                     {{"resource", options_.description}, {"status", std::to_string(status)}});
        metadata_only_ = false;
        refused = true;
        break;
      }
      if (status < 200 || status >= 300) {
        return fail("HTTP " + std::to_string(status) + ": " +
                    status_message(result.end.response.body));
      }
      auto meta = parser.finish();
      if (!meta) return fail(meta.error());
      if (meta->kind == "Status") return fail("the API server answered a Status");
      list_rv = meta->resource_version;
      continue_token = meta->continue_token;
      if (continue_token.empty()) break;
    }
    if (refused) continue;
    if (!continue_token.empty()) return ListOutcome::kFailed;
    set_resource_version(list_rv);
    handler_.list_end();
    {
      std::lock_guard lock(mutex_);
      ++stats_.lists_completed;
      synced_.store(true);
    }
    cv_.notify_all();
    log::debug(1, "listed",
               {{"resource", options_.description},
                {"count", std::to_string(count)},
                {"resourceVersion", list_rv}});
    return ListOutcome::kOk;
  }
  return ListOutcome::kFailed;
}

Reflector::WatchOutcome Reflector::watch(const std::string& resource_version) {
  Connection& connection = *connection_;
  const auto min_timeout = std::max<int64_t>(options_.min_watch_timeout.count(), 1);
  std::uniform_int_distribution<int64_t> spread(min_timeout, 2 * min_timeout);
  const int64_t timeout_seconds = spread(random_);
  const auto idle = std::chrono::milliseconds(timeout_seconds * 1000) + options_.watch_idle_slack;
  {
    std::lock_guard lock(mutex_);
    ++stats_.watches;
  }
  JsonObjectSplitter splitter;
  bool gone = false;
  std::string problem;
  auto result = connection.stream(
      query("watch=1&allowWatchBookmarks=true&resourceVersion=" + url_encode(resource_version) +
            "&timeoutSeconds=" + std::to_string(timeout_seconds)),
      metadata_only_ ? kAcceptPartialMetadata : kAcceptJson, idle, [&](std::string_view chunk) {
        auto fed = splitter.feed(chunk, [&](std::string_view text) {
          auto event = decoder_.decode_event(text);
          if (!event) {
            problem = event.error();
            return false;
          }
          switch (event->type) {
            case EventType::kAdded:
            case EventType::kModified:
            case EventType::kDeleted:
              set_resource_version(event->meta.resource_version);
              handler_.event(event->type, event->meta, event->object_json);
              {
                std::lock_guard lock(mutex_);
                ++stats_.events;
              }
              return true;
            case EventType::kBookmark:
              set_resource_version(event->meta.resource_version);
              {
                std::lock_guard lock(mutex_);
                ++stats_.bookmarks;
              }
              return true;
            case EventType::kError:
              if (event->status_code == 410) {
                gone = true;
                log::info("watch: resourceVersion too old (410 Gone); listing again",
                          {{"resource", options_.description}, {"message", event->status_message}});
              } else {
                problem = "ERROR event " + std::to_string(event->status_code) + " " +
                          event->status_reason + ": " + event->status_message;
              }
              return false;
          }
          return true;
        });
        if (!fed) problem = fed.error();
        return !gone && problem.empty();
      });
  if (stopping() || result.failure == Connection::Failure::kCancelled)
    return WatchOutcome::kStopped;
  if (gone) return WatchOutcome::kGone;
  auto fail = [&](const std::string& why) {
    {
      std::lock_guard lock(mutex_);
      ++stats_.failures;
    }
    log::warning(
        "watch failed; listing again",
        {{"resource", options_.description}, {"server", client_->describe()}, {"error", why}});
    return WatchOutcome::kFailed;
  };
  if (!problem.empty()) return fail(problem);
  if (result.failure == Connection::Failure::kIdle) return WatchOutcome::kQuiet;
  if (result.failure != Connection::Failure::kNone) return fail(result.error);
  const int status = result.end.response.status;
  if (status == 410) return WatchOutcome::kGone;
  if (refuses_media_type(status) && metadata_only_) {
    log::warning("the API server refuses metadata-only watches; reading full objects",
                 {{"resource", options_.description}});
    metadata_only_ = false;
    return WatchOutcome::kGone;
  }
  if (status < 200 || status >= 300) {
    return fail("HTTP " + std::to_string(status) + ": " + status_message(result.end.response.body));
  }
  if (!splitter.idle()) return fail("the watch stream ended in the middle of an event");
  return WatchOutcome::kEnded;
}

}  // namespace irsa::kube
