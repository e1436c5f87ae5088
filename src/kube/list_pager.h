// One full list of a collection, page by page (limit/continue), streamed: each
// item goes to a callback as soon as it is read, so memory stays bounded by
// one page's item whatever the size of the list. An expired continue token
// (410 Gone) starts the list again from the beginning, a bounded number of
// times; the caller is told, to forget what it received.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "kube/api_client.h"

namespace irsa::kube {

struct PagedListOptions {
  // "/api/v1/pods", "/apis/apps/v1/namespaces/x/deployments".
  std::string collection_path;
  std::string label_selector;  // optional
  std::string field_selector;  // optional ("status.phase!=Succeeded")
  std::string accept = "application/json";
  int page_size = 500;
  std::chrono::milliseconds page_timeout{60000};
  int max_restarts = 5;  // lists from the beginning after 410 Gone
  int max_pages = 1000000;
};

struct PagedListResult {
  bool ok = false;
  // The HTTP status of a refusal (403, 404, ...), 0 when no HTTP answer or ok.
  int status = 0;
  std::string error;      // one line, when !ok; the API server's message for a refusal
  std::size_t items = 0;  // in the list that completed
  int pages = 0;          // every page read, restarts included
  int restarts = 0;       // lists started again after 410 Gone
};

// `on_item` receives each item's JSON and returns false to stop (the result
// is then not ok, with error "stopped"). `on_restart` is called before a list
// starts again from the beginning.
PagedListResult list_all(Connection& connection, const PagedListOptions& options,
                         const std::function<bool(std::string_view)>& on_item,
                         const std::function<void()>& on_restart);

}  // namespace irsa::kube
