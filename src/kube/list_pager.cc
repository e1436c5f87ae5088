// Paginated lists with restarts on 410 Gone.
#include "kube/list_pager.h"

#include "kube/json_stream.h"

namespace irsa::kube {

PagedListResult list_all(Connection& connection, const PagedListOptions& options,
                         const std::function<bool(std::string_view)>& on_item,
                         const std::function<void()>& on_restart) {
  PagedListResult out;
  for (int attempt = 0; attempt <= options.max_restarts; ++attempt) {
    if (attempt > 0) {
      ++out.restarts;
      on_restart();
    }
    out.items = 0;
    std::string continue_token;
    bool expired = false;
    for (int page = 0; page < options.max_pages; ++page) {
      std::string query = options.collection_path + "?limit=" + std::to_string(options.page_size);
      if (!options.label_selector.empty()) {
        query += "&labelSelector=" + url_encode(options.label_selector);
      }
      if (!options.field_selector.empty()) {
        query += "&fieldSelector=" + url_encode(options.field_selector);
      }
      if (!continue_token.empty()) query += "&continue=" + url_encode(continue_token);
      ListStreamParser parser;
      std::string problem;
      bool stopped = false;
      bool timed_out = false;
      const auto deadline = std::chrono::steady_clock::now() + options.page_timeout;
      auto result = connection.stream(query, options.accept, options.page_timeout,
                                      [&](std::string_view chunk) {
                                        if (std::chrono::steady_clock::now() > deadline) {
                                          timed_out = true;
                                          return false;
                                        }
                                        auto fed = parser.feed(chunk, [&](std::string_view item) {
                                          ++out.items;
                                          if (!on_item(item)) {
                                            stopped = true;
                                            return false;
                                          }
                                          return true;
                                        });
                                        if (!fed) problem = fed.error();
                                        return problem.empty() && !stopped;
                                      });
      ++out.pages;
      if (stopped) {
        out.error = "stopped";
        return out;
      }
      if (timed_out) {
        out.error = options.collection_path + ": a page took longer than " +
                    std::to_string(options.page_timeout.count()) + " ms";
        return out;
      }
      if (!problem.empty()) {
        out.error = options.collection_path + ": " + problem;
        return out;
      }
      if (result.failure != Connection::Failure::kNone) {
        out.error = options.collection_path + ": " + result.error;
        return out;
      }
      const int status = result.end.response.status;
      if (status == 410 && !continue_token.empty()) {
        expired = true;
        break;
      }
      if (status < 200 || status >= 300) {
        out.status = status;
        out.error =
            "HTTP " + std::to_string(status) + ": " + status_message(result.end.response.body);
        return out;
      }
      auto meta = parser.finish();
      if (!meta) {
        out.error = options.collection_path + ": " + meta.error();
        return out;
      }
      if (meta->kind == "Status") {
        out.error = options.collection_path + ": the API server answered a Status";
        return out;
      }
      continue_token = meta->continue_token;
      if (continue_token.empty()) {
        out.ok = true;
        return out;
      }
    }
    if (!expired) {
      out.error =
          options.collection_path + ": more than " + std::to_string(options.max_pages) + " pages";
      return out;
    }
  }
  out.error = options.collection_path + ": the list's continue token expired " +
              std::to_string(out.restarts + 1) + " times in a row (410 Gone)";
  return out;
}

}  // namespace irsa::kube
