// The request path of one review: decode -> resolve -> plan -> encode, with
// every failure turned into an answer at this boundary.
#include "admission/review_handler.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

#include <simdjson.h>

#include "admission/review.h"
#include "decision/decision.h"
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

// Writes `response` as the answer unless it would pass `max_bytes` (0: no
// limit); false then, with `result` untouched.
bool reply(HandleResult& result, const ReviewResponse& response, std::size_t max_bytes = 0) {
  auto body = encode_review_response(response, max_bytes);
  if (!body) return false;
  result.http_status = 200;
  result.body = std::move(*body);
  return true;
}

void deny(HandleResult& result, const ReviewRequest& request, std::string message, int code = 400) {
  result.outcome = Outcome::kDenied;
  result.mode.reset();
  ReviewResponse response = denial(request, code, std::move(message));
  result.reason = response.status->message;
  reply(result, response);
}

void bad_request(HandleResult& result, std::string message) {
  result.http_status = 400;
  result.outcome = Outcome::kBadRequest;
  result.body = message + "\n";
  result.reason = std::move(message);
}

void log_result(const HandleResult& result) {
  if (result.refusal == Refusal::kResponseTooLarge) {
    log::warning("review refused: response too large", {{"uid", result.uid},
                                                        {"pod", result.pod_name},
                                                        {"namespace", result.namespace_name},
                                                        {"serviceaccount", result.service_account},
                                                        {"reason", result.reason}});
    return;
  }
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

std::string_view refusal_name(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNone:
      return "none";
    case Refusal::kDuplicateKey:
      return "duplicate_key";
    case Refusal::kResponseTooLarge:
      return "response_too_large";
  }
  return "none";
}

ReviewHandler::ReviewHandler(const identity::IdentityResolver& resolver, mutation::Options options,
                             credentials::Policy static_credentials, std::function<double()> jitter,
                             UnknownServiceAccounts unknown_service_accounts, ReviewLimits limits)
    : resolver_(resolver),
      config_{std::move(options), std::move(static_credentials)},
      jitter_(std::move(jitter)),
      unknown_service_accounts_(std::move(unknown_service_accounts)),
      limits_(limits) {
  if (limits_.max_concurrent_large_reviews != 0) {
    large_reviews_ = std::make_unique<std::counting_semaphore<>>(
        static_cast<std::ptrdiff_t>(std::min<std::size_t>(limits_.max_concurrent_large_reviews,
                                                          std::counting_semaphore<>::max())));
  }
  // The patch goes out in base64 (4 bytes per 3): a patch past 3/4 of the
  // budget cannot fit, so it is not written past that.
  if (limits_.max_response_bytes != 0) {
    std::size_t patch_budget = std::max<std::size_t>(1, limits_.max_response_bytes / 4 * 3);
    auto& max_patch_bytes = config_.mutation.max_patch_bytes;
    if (max_patch_bytes == 0 || max_patch_bytes > patch_budget) max_patch_bytes = patch_budget;
  }
}

HandleResult ReviewHandler::handle(std::string_view body) const { return *answer(body, true); }

std::optional<HandleResult> ReviewHandler::try_handle(std::string_view body) const {
  return answer(body, false);
}

std::optional<HandleResult> ReviewHandler::answer(std::string_view body, bool may_block) const {
  // A large body waits for a slot, so that a burst of them cannot take
  // memory without bound (each takes about 15 times its size while parsed).
  std::counting_semaphore<>* slot = nullptr;
  if (body.size() > kThreadParserMaxBytes && large_reviews_) {
    if (may_block) {
      large_reviews_->acquire();
    } else if (!large_reviews_->try_acquire()) {
      return std::nullopt;
    }
    slot = large_reviews_.get();
  }
  struct Release {
    std::counting_semaphore<>* slot;
    ~Release() {
      if (slot) slot->release();
    }
  } release{slot};
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
    if (!handle_into(body, may_block, result, api_version)) return std::nullopt;
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

void ReviewHandler::refuse_too_large(HandleResult& result, std::string_view api_version,
                                     std::size_t patch_bytes, std::size_t containers,
                                     std::size_t init_containers) const {
  ReviewRequest request;
  request.api_version = api_version;
  request.uid = result.uid;
  result.refusal = Refusal::kResponseTooLarge;
  deny(result, request,
       "response too large: the answer for this Pod (" + std::to_string(containers) +
           " containers, " + std::to_string(init_containers) +
           " init containers) would pass the webhook's --max-response-bytes of " +
           std::to_string(limits_.max_response_bytes) + " bytes (its JSON Patch alone passes " +
           std::to_string(patch_bytes) +
           " bytes); run fewer containers per Pod, or raise --max-response-bytes",
       413);
}

bool ReviewHandler::handle_into(std::string_view body, bool may_block, HandleResult& result,
                                std::string& api_version) const {
  std::optional<simdjson::dom::parser> own_parser;
  simdjson::dom::parser& parser =
      body.size() <= kThreadParserMaxBytes ? thread_parser() : own_parser.emplace();

  auto request = decode_review(parser, body);
  if (!request) {
    bad_request(result, request.error());
    return true;
  }
  api_version = std::string(request->api_version);
  result.uid = std::string(request->uid);
  result.namespace_name = std::string(request->namespace_name);
  if (request->duplicate_key) {
    // Go's decoder, and so the API server, reads the last of equal keys:
    // whatever the webhook read could be another Pod than the one admitted.
    result.refusal = Refusal::kDuplicateKey;
    deny(result, *request,
         *request->duplicate_key +
             ": the API server reads the last of two equal keys, the webhook the first; send "
             "each key once");
    return true;
  }

  ReviewResponse response;
  response.api_version = api_version;
  response.uid = result.uid;

  if (auto reason = skip_reason(*request)) {
    result.outcome = Outcome::kUnchanged;
    result.reason = std::move(*reason);
    reply(result, response);
    return true;
  }
  if (!request->object) {
    deny(result, *request, "request.object is missing: a Pod CREATE review must carry the Pod");
    return true;
  }
  auto pod = mutation::read_pod(*request->object);
  if (!pod) {
    deny(result, *request, "request.object is not a Pod the webhook can read: " + pod.error());
    return true;
  }

  result.pod_name = std::string(pod->name.empty() ? pod->generate_name : pod->name);
  // No fallback past the Pod's own namespace: a review without one names no
  // ServiceAccount the webhook could know.
  result.namespace_name = decision::decision_namespace(result.namespace_name, *pod, "");
  result.service_account = std::string(pod->service_account_name);

  auto lookup = resolver_.resolve(result.namespace_name, result.service_account);
  result.service_account_missing = !lookup.service_account_known && !lookup.identity;
  if (!lookup.service_account_known) {
    // Not in the cache yet: wait for the watch or read it directly, bounded
    // by the grace period, rather than admit the Pod without credentials.
    if (unknown_service_accounts_.lookup) {
      if (!may_block) return false;
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
      return true;
    }
  }
  if (lookup.identity) result.resolved_mode = lookup.identity->mode;
  double jitter = lookup.identity && jitter_ ? jitter_() : 0.0;
  decision::Decision decision;
  try {
    decision = decision::decide(*pod, lookup, config_, jitter);
  } catch (const mutation::PatchTooLarge& e) {
    refuse_too_large(result, api_version, e.max_bytes(), pod->containers.size(),
                     pod->init_containers.size());
    return true;
  }
  for (const auto& note : decision.notes) {
    if (!result.notes.empty()) result.notes += "; ";
    result.notes += note;
  }
  if (!decision.problems.empty()) {
    std::string problems;
    for (const auto& problem : decision.problems) {
      if (!problems.empty()) problems += "; ";
      problems += problem;
    }
    log::warning("pod identity configuration problem", {{"uid", result.uid},
                                                        {"pod", result.pod_name},
                                                        {"namespace", result.namespace_name},
                                                        {"serviceaccount", result.service_account},
                                                        {"problems", problems}});
  }
  for (const auto& finding : decision.findings) result.static_credentials.push_back(finding.key());
  result.static_credentials_removed = decision.removed;
  if (!decision.allowed) {
    // A policy refusal, not a malformed request: 403 Forbidden.
    deny(result, *request, std::move(decision.denial), 403);
    return true;
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
  if (!reply(result, response, limits_.max_response_bytes)) {
    refuse_too_large(result, api_version, response.patch.empty() ? 0 : response.patch.text_size(),
                     pod->containers.size(), pod->init_containers.size());
  }
  return true;
}

}  // namespace irsa::admission
