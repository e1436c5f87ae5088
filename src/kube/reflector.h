// List+watch of one resource, as client-go's reflector does it: a paginated
// list, then a watch from the list's resourceVersion with bookmarks; on 410
// Gone, an ERROR event or a broken stream, list again; reconnect with capped
// exponential backoff and jitter; restart a watch that goes quiet. Objects go
// to a handler; the reflector keeps nothing but the last resourceVersion.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "kube/api_client.h"
#include "kube/backoff.h"
#include "kube/object_meta.h"

namespace irsa::kube {

// Accept headers for metadata-only reads (what client-go's metadata client
// asks for, JSON only).
inline constexpr std::string_view kAcceptPartialMetadataList =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
inline constexpr std::string_view kAcceptPartialMetadata =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
inline constexpr std::string_view kAcceptJson = "application/json";

struct ReflectorOptions {
  std::string description;  // for logs: "serviceaccounts"
  // The collection: "/api/v1/serviceaccounts", "/api/v1/namespaces/x/configmaps".
  std::string collection_path;
  std::string field_selector;  // optional, e.g. "metadata.name=pod-identity-webhook"
  // Ask for PartialObjectMetadata; falls back to full objects when the server
  // refuses (406/415) and stays there.
  bool metadata_only = true;
  // Only annotations under this prefix reach the handler ("" for all).
  std::string annotation_prefix;
  int page_size = 500;
  std::chrono::milliseconds list_page_timeout{60000};
  // The watch asks the server to end it after a random time in [min, 2*min]
  // (client-go: 5 to 10 minutes) and is restarted from the last
  // resourceVersion; no byte (events or bookmarks) for that long plus
  // `watch_idle_slack` means it is dead and it is restarted too.
  std::chrono::seconds min_watch_timeout{300};
  std::chrono::milliseconds watch_idle_slack{30000};
  // A watch that delivered events or lasted this long counts as a success and
  // resets the backoff.
  std::chrono::milliseconds healthy_watch{10000};
  BackoffOptions backoff;
};

// Receives what the reflector reads, on the reflector's thread.
class ReflectorHandler {
 public:
  virtual ~ReflectorHandler() = default;
  // A full list starts. Items follow; list_end() only when the list completed.
  virtual void list_begin() = 0;
  virtual void list_item(const ObjectMeta& meta, std::string_view object_json) = 0;
  virtual void list_end() = 0;
  // ADDED, MODIFIED or DELETED from the watch.
  virtual void event(EventType type, const ObjectMeta& meta, std::string_view object_json) = 0;
};

class Reflector {
 public:
  struct Stats {
    std::uint64_t lists = 0;  // full lists started
    std::uint64_t lists_completed = 0;
    std::uint64_t pages = 0;
    std::uint64_t watches = 0;  // watch requests made
    std::uint64_t events = 0;   // ADDED/MODIFIED/DELETED applied
    std::uint64_t bookmarks = 0;
    std::uint64_t failures = 0;  // failed list or watch attempts
    std::uint64_t relists_after_gone = 0;
  };

  // `client` and `handler` must outlive the reflector.
  Reflector(std::shared_ptr<const ApiClient> client, ReflectorOptions options,
            ReflectorHandler& handler);
  ~Reflector();  // stop()
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Starts the list+watch loop on a thread this object owns. Call once.
  void start();
  // Stops and joins; promptly, even in the middle of a request. Idempotent.
  void stop();

  // True once a full list has completed (and stays true, as client-go's
  // HasSynced).
  bool has_synced() const { return synced_.load(); }
  // Waits for has_synced() up to `timeout`.
  bool wait_for_sync(std::chrono::milliseconds timeout) const;
  // The last resourceVersion seen (list, event or bookmark).
  std::string resource_version() const;
  Stats stats() const;

 private:
  enum class ListOutcome { kOk, kExpired, kFailed, kStopped };
  enum class WatchOutcome { kEnded, kQuiet, kGone, kFailed, kStopped };

  void run();
  ListOutcome list(const std::string& resource_version);
  WatchOutcome watch(const std::string& resource_version);
  // Sleeps for `delay` unless stopped first; false when stopped.
  bool sleep_for(std::chrono::milliseconds delay);
  bool stopping() const { return stopping_.load(); }
  void set_resource_version(std::string rv);
  std::string query(const std::string& extra) const;

  std::shared_ptr<const ApiClient> client_;
  ReflectorOptions options_;
  ReflectorHandler& handler_;
  ObjectDecoder decoder_;
  Backoff backoff_;
  std::mt19937_64 random_;
  bool metadata_only_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> synced_{false};
  std::atomic<bool> running_{false};
  mutable std::mutex mutex_;  // guards connection_, resource_version_, stats_
  mutable std::condition_variable cv_;
  std::unique_ptr<Connection> connection_;
  std::string resource_version_;
  Stats stats_;
  std::thread thread_;
};

}  // namespace irsa::kube
