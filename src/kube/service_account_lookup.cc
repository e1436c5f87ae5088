// Direct GETs for ServiceAccounts the watch has not delivered yet.
#include "kube/service_account_lookup.h"

#include <algorithm>
#include <atomic>

#include "kube/object_meta.h"
#include "kube/reflector.h"
#include "log/log.h"

namespace irsa::kube {

struct ServiceAccountLookup::Pending {
  std::string namespace_name;
  std::string name;
  std::chrono::steady_clock::time_point deadline;
  // Written by a worker before `state` is released; read after acquiring it.
  std::optional<identity::ServiceAccountSettings> settings;
  enum : int { kWaiting, kFound, kNotFound, kFailed };
  std::atomic<int> state{kWaiting};
};

struct ServiceAccountLookup::Worker {
  std::unique_ptr<Connection> connection;
  std::thread thread;
};

ServiceAccountLookup::ServiceAccountLookup(std::shared_ptr<const ApiClient> client,
                                           const identity::ServiceAccountRegistry& registry,
                                           ServiceAccountLookupOptions options)
    : client_(std::move(client)),
      registry_(registry),
      options_(std::move(options)),
      tokens_(std::max(1, options_.burst)),
      refilled_(std::chrono::steady_clock::now()) {}

ServiceAccountLookup::~ServiceAccountLookup() { stop(); }

void ServiceAccountLookup::start() {
  std::lock_guard lock(mutex_);
  if (!workers_.empty() || stopping_) return;
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    auto worker = std::make_unique<Worker>();
    worker->connection = client_->connect();
    Worker* raw = worker.get();
    workers_.push_back(std::move(worker));
    raw->thread = std::thread([this, raw] { run(*raw); });
  }
}

void ServiceAccountLookup::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& worker : workers_) worker->connection->cancel();
  }
  cv_.notify_all();
  // A GET that started just before cancel() ends by its deadline, the
  // lookup's grace period.
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  std::lock_guard lock(mutex_);
  workers_.clear();
}

ServiceAccountLookup::Stats ServiceAccountLookup::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

ServiceAccountLookup::Outcome ServiceAccountLookup::await(
    std::string_view namespace_name, std::string_view name,
    std::chrono::steady_clock::time_point deadline) {
  Outcome outcome;
  if (auto known = registry_.find(namespace_name, name)) {
    outcome.source = Source::kCache;
    outcome.settings = std::move(known);
    return outcome;
  }
  std::shared_ptr<Pending> pending;
  {
    std::lock_guard lock(mutex_);
    ++stats_.lookups;
    std::string key(namespace_name);
    key += '/';
    key += name;
    if (auto it = in_progress_.find(key); it != in_progress_.end()) {
      pending = it->second;
      pending->deadline = std::max(pending->deadline, deadline);
    } else if (!stopping_ && !workers_.empty() && queue_.size() < options_.max_queued) {
      pending = std::make_shared<Pending>();
      pending->namespace_name = std::string(namespace_name);
      pending->name = std::string(name);
      pending->deadline = deadline;
      queue_.push_back(pending);
      in_progress_.emplace(std::move(key), pending);
    } else {
      ++stats_.not_queued;
    }
  }
  if (pending) cv_.notify_all();

  std::optional<identity::ServiceAccountSettings> found;
  registry_.wait_until(deadline, [&] {
    found = registry_.find(namespace_name, name);
    if (found) return true;
    // A GET that failed (not 404) leaves the watch to answer.
    int state = pending ? pending->state.load(std::memory_order_acquire) : Pending::kWaiting;
    return state == Pending::kFound || state == Pending::kNotFound;
  });
  if (found) {
    outcome.source = Source::kCache;
    outcome.settings = std::move(found);
    return outcome;
  }
  int state = pending ? pending->state.load(std::memory_order_acquire) : Pending::kWaiting;
  if (state == Pending::kFound) {
    outcome.source = Source::kApi;
    outcome.settings = pending->settings;
  } else if (state == Pending::kNotFound) {
    outcome.source = Source::kNotFound;
  }
  return outcome;
}

bool ServiceAccountLookup::take_token() {
  // Called with mutex_ held; the bucket refills continuously.
  const double rate = std::max(options_.requests_per_second, 0.001);
  const double burst = std::max(1, options_.burst);
  auto now = std::chrono::steady_clock::now();
  tokens_ =
      std::min(burst, tokens_ + std::chrono::duration<double>(now - refilled_).count() * rate);
  refilled_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return true;
  }
  return false;
}

void ServiceAccountLookup::run(Worker& worker) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      continue;
    }
    auto pending = queue_.front();
    const auto now = std::chrono::steady_clock::now();
    if (pending->deadline <= now) {
      // Nobody waits any more.
      queue_.pop_front();
      in_progress_.erase(pending->namespace_name + "/" + pending->name);
      pending->state.store(Pending::kFailed, std::memory_order_release);
      continue;
    }
    if (!take_token()) {
      // Wait for the next token or the deadline, whichever comes first.
      const double rate = std::max(options_.requests_per_second, 0.001);
      auto next_token = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>((1.0 - tokens_) / rate));
      cv_.wait_until(lock, std::min(next_token, pending->deadline));
      continue;
    }
    queue_.pop_front();
    ++stats_.requests;
    const auto deadline = pending->deadline;  // read under the lock
    lock.unlock();
    fetch(worker, *pending, deadline);
    registry_.notify_waiters();
    lock.lock();
    in_progress_.erase(pending->namespace_name + "/" + pending->name);
  }
}

void ServiceAccountLookup::fetch(Worker& worker, Pending& pending,
                                 std::chrono::steady_clock::time_point deadline) {
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  remaining = std::max(remaining, std::chrono::milliseconds(1));
  std::string path = "/api/v1/namespaces/" + url_encode(pending.namespace_name) +
                     "/serviceaccounts/" + url_encode(pending.name);
  auto response = worker.connection->get(path, kAcceptPartialMetadata, remaining);
  if (response && (response->status == 406 || response->status == 415)) {
    remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() > 0) response = worker.connection->get(path, kAcceptJson, remaining);
  }
  if (!response) {
    log::debug(2, "service account lookup failed",
               {{"serviceAccount", pending.namespace_name + "/" + pending.name},
                {"error", response.error()}});
    pending.state.store(Pending::kFailed, std::memory_order_release);
    return;
  }
  if (response->status == 404) {
    pending.state.store(Pending::kNotFound, std::memory_order_release);
    return;
  }
  if (response->status != 200) {
    log::warning("service account lookup failed",
                 {{"serviceAccount", pending.namespace_name + "/" + pending.name},
                  {"status", std::to_string(response->status)},
                  {"error", status_message(response->body)}});
    pending.state.store(Pending::kFailed, std::memory_order_release);
    return;
  }
  ObjectDecoder decoder(options_.annotation_prefix);
  auto meta = decoder.decode_object(response->body);
  if (!meta) {
    pending.state.store(Pending::kFailed, std::memory_order_release);
    return;
  }
  pending.settings =
      identity::parse_service_account_annotations(meta->annotations, options_.annotation_prefix);
  pending.state.store(Pending::kFound, std::memory_order_release);
}

}  // namespace irsa::kube
