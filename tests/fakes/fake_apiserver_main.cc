// fake-apiserver: the fake Kubernetes API server as a program, for the python
// end-to-end tests and the benchmark. Controlled over a small HTTP admin API
// on 127.0.0.1:
//   POST   /serviceaccounts              {"namespace","name","annotations":{}}
//   DELETE /serviceaccounts/NS/NAME
//   POST   /configmaps                   {"namespace","name","data":{}}
//   DELETE /configmaps/NS/NAME
//   POST   /generate                     {"count","namespaces","annotated_every","prefix"}
//   POST   /expire | /drop-watches | /error-event {"code","reason","message"}
//   POST   /fail {"count","status"} | /delay {"ms"} | /refuse-metadata {"on"}
//   POST   /stall-watches {"on"} | /tokens {"tokens":[...]}
//   POST   /restart {"down_ms"}          stop, stay down, serve again
//   POST   /stop | /start                stop serving / serve again
//   POST   /objects {"objects":[...]}    Pods, workloads, Secrets, stored as given
//   POST   /deny {"resources":[...]}     403 Forbidden for those resources
//   POST   /expire-continues {"count"}   the next continue tokens get 410 Gone
//   GET    /events                       the Events POSTed, as received
//   GET    /stats                        counts, resourceVersion, running
// Usage:
//   fake-apiserver --write-pki DIR
//   fake-apiserver [--http] [--tls-cert F --tls-key F] [--client-ca F]
//                  [--token T]... [--port N] [--admin-port N] [--ready-file F]
//                  [--initial-resource-version N] [--bookmark-interval-ms N]
//                  [--unpaginated-cache-lists]     resourceVersion=0 lists ignore limit
//                  [--down]                        start with the API port closed
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "fake_apiserver.h"
#include "test_pki.h"

namespace {

using irsa::fakes::FakeApiServer;
using irsa::fakes::FakeApiServerOptions;
using nlohmann::json;

int usage(const std::string& message) {
  std::fprintf(stderr, "fake-apiserver: %s\n", message.c_str());
  return 2;
}

json body_of(const httplib::Request& req) {
  if (req.body.empty()) return json::object();
  auto parsed = json::parse(req.body, nullptr, false);
  return parsed.is_object() ? parsed : json::object();
}

std::map<std::string, std::string> string_map(const json& object, const char* field) {
  std::map<std::string, std::string> out;
  auto it = object.find(field);
  if (it == object.end() || !it->is_object()) return out;
  for (const auto& [key, value] : it->items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

// The strings of the array `field` of `object` (other values skipped).
std::vector<std::string> string_list(const json& object, const char* field) {
  std::vector<std::string> out;
  auto it = object.find(field);
  if (it == object.end() || !it->is_array()) return out;
  for (const auto& value : *it) {
    if (value.is_string()) out.push_back(value.get<std::string>());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  FakeApiServerOptions options;
  int admin_port = 0;
  std::string ready_file;
  bool start_down = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "fake-apiserver: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return args[++i];
    };
    if (arg == "--write-pki") {
      auto pki = irsa::fakes::make_test_pki(value());
      if (!pki) return usage(pki.error());
      return 0;
    } else if (arg == "--http") {
      options.tls = false;
    } else if (arg == "--tls-cert") {
      options.cert_file = value();
    } else if (arg == "--tls-key") {
      options.key_file = value();
    } else if (arg == "--client-ca") {
      options.client_ca_file = value();
    } else if (arg == "--token") {
      options.tokens.push_back(value());
    } else if (arg == "--port") {
      options.port = std::atoi(value().c_str());
    } else if (arg == "--admin-port") {
      admin_port = std::atoi(value().c_str());
    } else if (arg == "--ready-file") {
      ready_file = value();
    } else if (arg == "--initial-resource-version") {
      options.initial_resource_version = std::strtoull(value().c_str(), nullptr, 10);
    } else if (arg == "--bookmark-interval-ms") {
      options.bookmark_interval = std::chrono::milliseconds(std::atoi(value().c_str()));
    } else if (arg == "--unpaginated-cache-lists") {
      options.paginate_cached_lists = false;
    } else if (arg == "--down") {
      start_down = true;
    } else {
      return usage("unknown argument " + arg);
    }
  }
  if (options.tls && (options.cert_file.empty() || options.key_file.empty())) {
    return usage("--tls-cert and --tls-key are needed (or --http)");
  }
  if (start_down && options.port == 0) return usage("--down needs --port");
  signal(SIGPIPE, SIG_IGN);

  FakeApiServer api(options);
  if (!start_down) {
    if (auto started = api.start(); !started) return usage(started.error());
  }

  httplib::Server admin;
  auto ok = [](httplib::Response& res, json body = json::object()) {
    res.set_content(body.dump(), "application/json");
  };
  // ServiceAccounts (annotations) and ConfigMaps (data): put and delete alike.
  using Put = std::uint64_t (FakeApiServer::*)(const std::string&, const std::string&,
                                               const std::map<std::string, std::string>&);
  using Erase = bool (FakeApiServer::*)(const std::string&, const std::string&);
  auto store = [&](const std::string& resource, const std::string& field, Put put, Erase erase) {
    admin.Post("/" + resource,
               [&api, &ok, field, put](const httplib::Request& req, httplib::Response& res) {
                 json body = body_of(req);
                 auto rv = (api.*put)(body.value("namespace", "default"), body.value("name", ""),
                                      string_map(body, field.c_str()));
                 ok(res, {{"resourceVersion", std::to_string(rv)}});
               });
    admin.Delete("/" + resource + R"(/([^/]+)/([^/]+))",
                 [&api, &ok, erase](const httplib::Request& req, httplib::Response& res) {
                   ok(res, {{"deleted", (api.*erase)(req.matches[1], req.matches[2])}});
                 });
  };
  store("serviceaccounts", "annotations", &FakeApiServer::put_service_account,
        &FakeApiServer::delete_service_account);
  store("configmaps", "data", &FakeApiServer::put_config_map, &FakeApiServer::delete_config_map);
  admin.Post("/generate", [&](const httplib::Request& req, httplib::Response& res) {
    json body = body_of(req);
    api.generate_service_accounts(body.value("count", 0), body.value("namespaces", 100),
                                  body.value("annotated_every", 10),
                                  body.value("prefix", "eks.amazonaws.com"));
    ok(res, {{"count", api.service_account_count()}});
  });
  admin.Post("/expire", [&](const httplib::Request&, httplib::Response& res) {
    api.expire_history();
    ok(res);
  });
  admin.Post("/drop-watches", [&](const httplib::Request&, httplib::Response& res) {
    api.drop_watches();
    ok(res);
  });
  admin.Post("/error-event", [&](const httplib::Request& req, httplib::Response& res) {
    json body = body_of(req);
    api.send_error_event(body.value("code", 500), body.value("reason", "InternalError"),
                         body.value("message", "injected error event"));
    ok(res);
  });
  admin.Post("/fail", [&](const httplib::Request& req, httplib::Response& res) {
    json body = body_of(req);
    api.fail_next_requests(body.value("count", 1), body.value("status", 500));
    ok(res);
  });
  admin.Post("/delay", [&](const httplib::Request& req, httplib::Response& res) {
    api.set_response_delay(std::chrono::milliseconds(body_of(req).value("ms", 0)));
    ok(res);
  });
  admin.Post("/refuse-metadata", [&](const httplib::Request& req, httplib::Response& res) {
    api.set_refuse_metadata(body_of(req).value("on", true));
    ok(res);
  });
  admin.Post("/stall-watches", [&](const httplib::Request& req, httplib::Response& res) {
    api.set_stall_watches(body_of(req).value("on", true));
    ok(res);
  });
  admin.Post("/tokens", [&](const httplib::Request& req, httplib::Response& res) {
    api.set_tokens(string_list(body_of(req), "tokens"));
    ok(res);
  });
  // Starts the API port again: 200, or 500 with the reason.
  auto start = [&](httplib::Response& res) {
    if (auto started = api.start(); !started) {
      res.status = 500;
      res.set_content(started.error(), "text/plain");
      return;
    }
    ok(res);
  };
  admin.Post("/restart", [&](const httplib::Request& req, httplib::Response& res) {
    int down_ms = body_of(req).value("down_ms", 0);
    api.stop();
    if (down_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(down_ms, 60000)));
    start(res);
  });
  admin.Post("/stop", [&](const httplib::Request&, httplib::Response& res) {
    api.stop();
    ok(res);
  });
  admin.Post("/start", [&](const httplib::Request&, httplib::Response& res) {
    if (api.running()) return ok(res);
    start(res);
  });
  admin.Post("/objects", [&](const httplib::Request& req, httplib::Response& res) {
    json body = body_of(req);
    auto objects = body.find("objects");
    if (objects == body.end() || !objects->is_array()) {
      res.status = 400;
      res.set_content("objects: an array is required", "text/plain");
      return;
    }
    std::size_t stored = 0;
    for (const auto& object : *objects) {
      if (auto put = api.put_object(object.dump()); !put) {
        res.status = 400;
        res.set_content("object " + std::to_string(stored) + ": " + put.error(), "text/plain");
        return;
      }
      ++stored;
    }
    ok(res, {{"stored", stored}, {"pods", api.object_count("pods")}});
  });
  admin.Post("/deny", [&](const httplib::Request& req, httplib::Response& res) {
    api.set_denied_resources(string_list(body_of(req), "resources"));
    ok(res);
  });
  admin.Post("/expire-continues", [&](const httplib::Request& req, httplib::Response& res) {
    api.expire_next_continues(body_of(req).value("count", 1));
    ok(res);
  });
  admin.Get("/events", [&](const httplib::Request&, httplib::Response& res) {
    json list = json::array();
    for (const auto& event : api.events()) list.push_back(json::parse(event, nullptr, false));
    ok(res, list);
  });
  admin.Get("/stats", [&](const httplib::Request&, httplib::Response& res) {
    auto stats = api.stats();
    ok(res, {{"lists", stats.lists},
             {"watches", stats.watches},
             {"gets", stats.gets},
             {"unauthorized", stats.unauthorized},
             {"failed_on_purpose", stats.failed_on_purpose},
             {"active_watches", stats.active_watches},
             {"resourceVersion", std::to_string(api.resource_version())},
             {"serviceaccounts", api.service_account_count()},
             {"running", api.running()}});
  });
  admin.Get("/requests", [&](const httplib::Request&, httplib::Response& res) {
    json list = json::array();
    for (const auto& request : api.requests()) {
      list.push_back(
          {{"path", request.path}, {"params", request.params}, {"accept", request.accept}});
    }
    ok(res, list);
  });

  if (admin_port == 0) {
    admin_port = admin.bind_to_any_port("127.0.0.1");
  } else if (!admin.bind_to_port("127.0.0.1", admin_port)) {
    admin_port = -1;
  }
  if (admin_port <= 0) return usage("cannot bind the admin port");
  const int api_port = start_down ? options.port : api.port();
  std::string ready = json{{"port", api_port}, {"admin_port", admin_port}}.dump();
  if (!ready_file.empty()) {
    std::string temporary = ready_file + ".tmp";
    {
      std::ofstream out(temporary);
      out << ready << "\n";
    }
    std::rename(temporary.c_str(), ready_file.c_str());
  }
  std::printf("%s\n", ready.c_str());
  std::fflush(stdout);
  admin.listen_after_bind();
  api.stop();
  return 0;
}
