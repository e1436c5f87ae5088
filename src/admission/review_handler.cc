// The request path of one review: decode -> resolve -> plan -> encode, with
// every failure turned into an answer at this boundary.
#include "admission/review_handler.h"

#include <exception>
#include <optional>
#include <utility>

#include <simdjson.h>

#include "admission/decision.h"
#include "admission/review.h"
#include "log/log.h"
#include "mutation/pod_view.h"

namespace irsa::admission {
namespace {

// Bodies up to this size are parsed by the worker thread's own parser, which
// keeps its buffers between requests; a bigger one gets a parser of its own,
// so that one large review does not pin megabytes in every thread for good.
constexpr std::size_t kThreadParserMaxBytes = 256 * 1024;

simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Only a Pod CREATE is mutated. A missing operation or kind is taken as a
// Pod CREATE, as AWS's webhook does not look at them either.
std::optional<std::string> skip_reason(const ReviewRequest& request) {
  if (!request.operation.empty() && request.operation != "CREATE") {
    return "operation " + std::string(request.operation) + " is not mutated";
  }
  if (!request.sub_resource.empty()) {
    return "subresource " + std::string(request.sub_resource) + " is not mutated";
  }
  if (request.kind && (request.kind->kind != "Pod" || !request.kind->group.empty())) {
    std::string kind(request.kind->group);
    if (!kind.empty()) kind += '/';
    kind += request.kind->kind;
    return "kind " + kind + " is not a Pod";
  }
  return std::nullopt;
}

void answer(HandleResult& result, const ReviewResponse& response) {
  result.http_status = 200;
  result.body = encode_review_response(response);
}

void deny(HandleResult& result, const ReviewRequest& request, std::string message, int code = 400) {
  result.outcome = Outcome::kDenied;
  result.reason = message;
  answer(result, denial(request, code, std::move(message)));
}

void bad_request(HandleResult& result, std::string message) {
  result.http_status = 400;
  result.outcome = Outcome::kBadRequest;
  result.body = message + "\n";
  result.reason = std::move(message);
}

void log_result(const HandleResult& result) {
  if (!log::enabled(3)) return;
  if (result.reason.empty() && result.notes.empty()) {
    log::info("admission review", {{"uid", result.uid},
                                   {"pod", result.pod_name},
                                   {"namespace", result.namespace_name},
                                   {"serviceaccount", result.service_account},
                                   {"decision", outcome_name(result.outcome)}});
    return;
  }
  log::info("admission review", {{"uid", result.uid},
                                 {"pod", result.pod_name},
                                 {"namespace", result.namespace_name},
                                 {"serviceaccount", result.service_account},
                                 {"decision", outcome_name(result.outcome)},
                                 {"reason", result.reason},
                                 {"notes", result.notes}});
}

}  // namespace

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kMutated:
      return "mutated";
    case Outcome::kUnchanged:
      return "unchanged";
    case Outcome::kDenied:
      return "denied";
    case Outcome::kBadRequest:
      return "bad_request";
  }
  return "bad_request";
}

ReviewHandler::ReviewHandler(const identity::IdentityResolver& resolver, mutation::Options options,
                             credentials::Policy static_credentials, std::function<double()> jitter,
                             UnknownServiceAccounts unknown_service_accounts)
    : resolver_(resolver),
      options_(std::move(options)),
      static_credentials_(std::move(static_credentials)),
      jitter_(std::move(jitter)),
      unknown_service_accounts_(std::move(unknown_service_accounts)) {}

HandleResult ReviewHandler::handle(std::string_view body) const {
  HandleResult result;
  std::string api_version;
  auto fail = [&](std::string message) {
    if (result.uid.empty() || api_version.empty()) {
      bad_request(result, std::move(message));
      return;
    }
    try {
      ReviewRequest request;
      request.api_version = api_version;
      request.uid = result.uid;
      deny(result, request, std::move(message));
    } catch (...) {
      bad_request(result, "the review could not be answered");
    }
  };
  try {
    handle_into(body, result, api_version);
  } catch (const std::exception& e) {
    fail(std::string("internal error while handling the review: ") + e.what());
  } catch (...) {
    fail("internal error while handling the review");
  }
  try {
    log_result(result);
  } catch (...) {
    // A log line that cannot be built must not lose the answer.
  }
  return result;
}

void ReviewHandler::handle_into(std::string_view body, HandleResult& result,
                                std::string& api_version) const {
  std::optional<simdjson::dom::parser> own_parser;
  simdjson::dom::parser& parser =
      body.size() <= kThreadParserMaxBytes ? thread_parser() : own_parser.emplace();

  auto request = decode_review(parser, body);
  if (!request) {
    bad_request(result, request.error());
    return;
  }
  api_version = std::string(request->api_version);
  result.uid = std::string(request->uid);
  result.namespace_name = std::string(request->namespace_name);

  ReviewResponse response;
  response.api_version = api_version;
  response.uid = result.uid;

  if (auto reason = skip_reason(*request)) {
    result.outcome = Outcome::kUnchanged;
    result.reason = std::move(*reason);
    answer(result, response);
    return;
  }
  if (!request->object) {
    deny(result, *request, "request.object is missing: a Pod CREATE review must carry the Pod");
    return;
  }
  auto pod = mutation::read_pod(*request->object);
  if (!pod) {
    deny(result, *request, "request.object is not a Pod the webhook can read: " + pod.error());
    return;
  }

  result.pod_name = std::string(pod->name.empty() ? pod->generate_name : pod->name);
  if (result.namespace_name.empty()) result.namespace_name = std::string(pod->namespace_name);
  result.service_account = std::string(pod->service_account_name);

  auto lookup = resolver_.resolve(result.namespace_name, result.service_account);
  if (!lookup.service_account_known) {
    // Not in the cache yet: wait for the watch or read it directly, bounded
    // by the grace period, rather than admit the Pod without credentials.
    if (unknown_service_accounts_.lookup) {
      if (auto settings =
              unknown_service_accounts_.lookup(result.namespace_name, result.service_account)) {
        lookup = resolver_.resolve_with(result.namespace_name, result.service_account, settings);
      }
    }
    if (!lookup.service_account_known && !lookup.identity && unknown_service_accounts_.deny) {
      deny(result, *request,
           "ServiceAccount " + result.namespace_name + "/" + result.service_account +
               " was not found yet (the webhook's cache has not seen it); retry the request",
           403);
      return;
    }
  }
  double jitter = 0.0;
  if (lookup.identity && jitter_) jitter = jitter_();
  if (!(jitter >= 0.0 && jitter < 1.0)) jitter = 0.0;
  Decision decision = decide(*pod, lookup.identity, options_, static_credentials_, jitter);
  for (const auto& note : decision.notes) {
    if (!result.notes.empty()) result.notes += "; ";
    result.notes += note;
  }
  for (const auto& finding : decision.findings) result.static_credentials.push_back(finding.key());
  result.static_credentials_removed = decision.stripped;
  if (!decision.allowed) {
    // A policy refusal, not a malformed request: 403 Forbidden.
    deny(result, *request, std::move(decision.denial), 403);
    return;
  }
  response.warnings = std::move(decision.warnings);
  response.audit_annotations = std::move(decision.audit_annotations);
  if (!decision.patch.empty()) {
    result.outcome = Outcome::kMutated;
    if (lookup.identity) result.mode = lookup.identity->mode;
    response.patch = std::move(decision.patch);
  } else {
    result.outcome = Outcome::kUnchanged;
    if (!lookup.identity) {
      result.reason = lookup.service_account_known ? "ServiceAccount has no AWS identity"
                                                   : "ServiceAccount unknown";
    } else {
      result.reason = "nothing to change";
    }
  }
  answer(result, response);
}

}  // namespace irsa::admission
