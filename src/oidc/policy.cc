// Trust policy evaluation: statements, principals, actions and string
// conditions on the web-identity keys.
#include "oidc/policy.h"

#include <algorithm>
#include <cctype>

namespace irsa::oidc {
namespace {

using nlohmann::json;

constexpr char kAction[] = "sts:AssumeRoleWithWebIdentity";
// More statements or values than any trust policy holds (IAM caps trust
// policies at 4096 characters); bounds the evaluation.
constexpr std::size_t kMaxStatements = 1000;
constexpr std::size_t kMaxValues = 1000;

enum class Tri { kTrue, kFalse, kUnknown };

struct Part {
  Tri value;
  std::string text;     // plain words; a mismatch's text is the reason for a denial
  std::string label{};  // what was evaluated, "StringEquals on KEY: ", shown before the text
};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string join(const std::vector<std::string>& values, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += separator;
    out += values[i];
  }
  return out;
}

// A policy value: a string, number or boolean (IAM compares their text), or
// an array of those.
Result<std::vector<std::string>> policy_values(const json& value, const std::string& where) {
  std::vector<std::string> out;
  auto one = [&](const json& item) -> Status {
    if (item.is_string()) {
      out.push_back(item.get<std::string>());
    } else if (item.is_number() || item.is_boolean()) {
      out.push_back(item.dump());
    } else {
      return Error{where + " holds a value that is not a string, number or boolean"};
    }
    return Ok{};
  };
  if (value.is_array()) {
    if (value.size() > kMaxValues) return Error{where + " has too many values"};
    for (const auto& item : value) {
      if (auto ok = one(item); !ok) return Error{ok.error()};
    }
  } else if (auto ok = one(value); !ok) {
    return Error{ok.error()};
  }
  return out;
}

struct Operator {
  enum class Set { kNone, kAnyValue, kAllValues };
  Set set = Set::kNone;
  std::string base;
  bool if_exists = false;
  bool supported = false;
  bool negated = false;
  bool like = false;
  bool ignore_case = false;
};

Operator parse_operator(std::string_view name) {
  Operator op;
  constexpr std::string_view kAny = "ForAnyValue:";
  constexpr std::string_view kAll = "ForAllValues:";
  constexpr std::string_view kIfExists = "IfExists";
  if (name.rfind(kAny, 0) == 0) {
    op.set = Operator::Set::kAnyValue;
    name.remove_prefix(kAny.size());
  } else if (name.rfind(kAll, 0) == 0) {
    op.set = Operator::Set::kAllValues;
    name.remove_prefix(kAll.size());
  }
  if (name.size() > kIfExists.size() && name.substr(name.size() - kIfExists.size()) == kIfExists) {
    op.if_exists = true;
    name.remove_suffix(kIfExists.size());
  }
  op.base = std::string(name);
  op.supported = true;
  if (name == "StringEquals") {
  } else if (name == "StringNotEquals") {
    op.negated = true;
  } else if (name == "StringEqualsIgnoreCase") {
    op.ignore_case = true;
  } else if (name == "StringNotEqualsIgnoreCase") {
    op.negated = op.ignore_case = true;
  } else if (name == "StringLike") {
    op.like = true;
  } else if (name == "StringNotLike") {
    op.like = op.negated = true;
  } else {
    op.supported = false;
  }
  return op;
}

bool matches_any(const Operator& op, std::string_view value,
                 const std::vector<std::string>& patterns) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    if (op.like) return iam_wildcard_match(pattern, value, false);
    if (op.ignore_case) return lower(pattern) == lower(value);
    return pattern == value;
  });
}

// The condition for one value: a positive operator needs a match, a negated
// one needs none.
bool satisfies(const Operator& op, std::string_view value,
               const std::vector<std::string>& patterns) {
  return matches_any(op, value, patterns) != op.negated;
}

// One condition key under one operator.
Part evaluate_condition(const std::string& operator_name, const std::string& key,
                        const std::vector<std::string>& patterns,
                        const WebIdentityRequest& request) {
  Operator op = parse_operator(operator_name);
  if (!op.supported) {
    return {Tri::kUnknown, "the operator " + op.base + " is not supported by this check"};
  }
  const std::string prefix = lower(request.provider.issuer.host_path) + ":";
  const std::string lowered = lower(key);
  std::string claim;
  std::vector<std::string> values;
  bool present = false;
  if (lowered == prefix + "sub") {
    claim = "sub";
    present = request.sub.has_value();
    if (present) values.push_back(*request.sub);
  } else if (lowered == prefix + "aud" || lowered == prefix + "amr") {
    claim = lowered.substr(prefix.size());
    const auto& source = claim == "aud" ? request.aud : request.amr;
    present = source.has_value() && !source->empty();
    if (present) values = *source;
  } else {
    return {Tri::kUnknown, "the condition key " + key +
                               " is not supported by this check (only the provider's sub, aud "
                               "and amr are)"};
  }
  for (const auto& pattern : patterns) {
    if (pattern.find("${") != std::string::npos) {
      return {Tri::kUnknown, "policy variables (${...}) are not supported by this check"};
    }
  }
  const std::string allowed = join(patterns, " or ");
  const std::string shown = values.size() == 1 ? values.front() : "[" + join(values, ", ") + "]";

  if (!present) {
    if (op.if_exists) return {Tri::kTrue, "no " + claim + " claim, and IfExists passes"};
    if (op.set == Operator::Set::kAllValues) {
      return {Tri::kTrue, "no " + claim + " claim, and ForAllValues passes on none"};
    }
    if (op.set == Operator::Set::kNone && op.negated) {
      return {Tri::kTrue, "no " + claim + " claim, so nothing is excluded"};
    }
    return {Tri::kFalse, "the token has no " + claim + " claim, which " + operator_name + " on " +
                             key + " requires"};
  }

  switch (op.set) {
    case Operator::Set::kNone: {
      if (values.size() > 1) {
        return {Tri::kUnknown, claim + " has " + std::to_string(values.size()) +
                                   " values; IAM's reading of a single-valued operator on them is "
                                   "not modelled (use ForAnyValue: or ForAllValues:)"};
      }
      const std::string& value = values.front();
      if (satisfies(op, value, patterns)) {
        return {Tri::kTrue,
                claim + " " + value + (op.negated ? " is not among " : " matches ") + allowed};
      }
      if (op.negated) {
        return {Tri::kFalse, claim + " is " + value + ", which the policy excludes (" +
                                 operator_name + " " + allowed + ")"};
      }
      return {Tri::kFalse, claim + " is " + value + " but the policy allows " + allowed};
    }
    case Operator::Set::kAnyValue: {
      for (const auto& value : values) {
        if (satisfies(op, value, patterns)) {
          return {Tri::kTrue, claim + " value " + value + " satisfies it"};
        }
      }
      return {Tri::kFalse,
              "no " + claim + " value in " + shown + " satisfies " + operator_name + " " + allowed};
    }
    case Operator::Set::kAllValues: {
      for (const auto& value : values) {
        if (!satisfies(op, value, patterns)) {
          return {Tri::kFalse, claim + " value " + value + " (of " + shown + ") does not satisfy " +
                                   operator_name + " " + allowed};
        }
      }
      return {Tri::kTrue, "every " + claim + " value in " + shown + " satisfies it"};
    }
  }
  return {Tri::kUnknown, "not evaluated"};
}

struct StatementResult {
  bool allow = true;
  std::string name;  // "statement 2 (Sid X)"
  Tri applies = Tri::kTrue;
  std::string reason;  // the first definite mismatch, else the first unknown
  bool principal_matches = false;
  bool action_matches = false;
};

Result<Part> evaluate_principal(const json& statement, const WebIdentityRequest& request,
                                const std::string& where) {
  if (statement.contains("NotPrincipal")) {
    return Part{Tri::kUnknown, "NotPrincipal is not supported by this check"};
  }
  auto principal = statement.find("Principal");
  if (principal == statement.end()) return Error{where + " has no Principal"};
  if (principal->is_string()) {
    if (*principal == "*") return Part{Tri::kTrue, "Principal \"*\" trusts anyone"};
    return Error{where + " has a Principal string other than \"*\""};
  }
  if (!principal->is_object()) return Error{where + " has a Principal that is not an object"};
  auto federated = principal->find("Federated");
  if (federated == principal->end()) {
    return Part{Tri::kFalse,
                "the policy trusts no Federated principal, so not " + request.provider.arn};
  }
  auto values = policy_values(*federated, where + " Principal.Federated");
  if (!values) return Error{values.error()};
  if (std::find(values->begin(), values->end(), request.provider.arn) != values->end()) {
    return Part{Tri::kTrue, "Principal.Federated includes " + request.provider.arn};
  }
  return Part{Tri::kFalse,
              "the policy trusts " + join(*values, " or ") + ", not " + request.provider.arn};
}

Result<Part> evaluate_action(const json& statement, const std::string& where) {
  bool negated = !statement.contains("Action") && statement.contains("NotAction");
  auto action = statement.find(negated ? "NotAction" : "Action");
  if (action == statement.end()) return Error{where + " has no Action"};
  auto values = policy_values(*action, where + (negated ? " NotAction" : " Action"));
  if (!values) return Error{values.error()};
  bool matched = std::any_of(values->begin(), values->end(), [](const std::string& pattern) {
    return iam_wildcard_match(pattern, kAction, true);
  });
  if (negated) {
    if (matched) return Part{Tri::kFalse, "NotAction excludes " + std::string(kAction)};
    return Part{Tri::kTrue, "NotAction leaves " + std::string(kAction)};
  }
  if (matched) return Part{Tri::kTrue, "Action includes " + std::string(kAction)};
  return Part{Tri::kFalse,
              "the policy's Action (" + join(*values, ", ") + ") does not include " + kAction};
}

Verdict to_verdict(Tri value) {
  switch (value) {
    case Tri::kTrue:
      return Verdict::kPass;
    case Tri::kFalse:
      return Verdict::kFail;
    case Tri::kUnknown:
      return Verdict::kUnknown;
  }
  return Verdict::kUnknown;
}

Result<StatementResult> evaluate_statement(const json& statement, std::size_t index,
                                           const WebIdentityRequest& request,
                                           std::vector<Check>& checks) {
  StatementResult result;
  result.name = "statement " + std::to_string(index + 1);
  if (!statement.is_object()) return Error{"policy " + result.name + " is not an object"};
  if (auto sid = statement.find("Sid"); sid != statement.end() && sid->is_string()) {
    result.name += " (Sid " + sid->get<std::string>() + ")";
  }
  const std::string where = "policy " + result.name;
  auto effect = statement.find("Effect");
  if (effect == statement.end() || !effect->is_string() ||
      (*effect != "Allow" && *effect != "Deny")) {
    return Error{where + " has no Effect \"Allow\" or \"Deny\""};
  }
  result.allow = *effect == "Allow";
  checks.push_back(
      {Verdict::kNote, result.name + ", Effect " + effect->get<std::string>() + ":", 1});

  std::vector<Part> parts;
  auto principal = evaluate_principal(statement, request, where);
  if (!principal) return Error{principal.error()};
  result.principal_matches = principal->value == Tri::kTrue;
  parts.push_back(std::move(*principal));
  auto action = evaluate_action(statement, where);
  if (!action) return Error{action.error()};
  result.action_matches = action->value == Tri::kTrue;
  parts.push_back(std::move(*action));

  if (auto condition = statement.find("Condition"); condition != statement.end()) {
    if (!condition->is_object()) return Error{where + " has a Condition that is not an object"};
    for (const auto& [operator_name, block] : condition->items()) {
      if (!block.is_object()) {
        return Error{where + " Condition " + operator_name + " is not an object"};
      }
      for (const auto& [key, value] : block.items()) {
        auto patterns = policy_values(value, where + " Condition " + operator_name + " " + key);
        if (!patterns) return Error{patterns.error()};
        parts.push_back(evaluate_condition(operator_name, key, *patterns, request));
        parts.back().label = operator_name + " on " + key + ": ";
      }
    }
  }

  const Part* first_false = nullptr;
  const Part* first_unknown = nullptr;
  for (const auto& part : parts) {
    checks.push_back({to_verdict(part.value), part.label + part.text, 2});
    if (part.value == Tri::kFalse && !first_false) first_false = &part;
    if (part.value == Tri::kUnknown && !first_unknown) first_unknown = &part;
  }
  if (first_false) {
    result.applies = Tri::kFalse;
    result.reason = first_false->text;
  } else if (first_unknown) {
    result.applies = Tri::kUnknown;
    result.reason = first_unknown->label + first_unknown->text;
  }
  return result;
}

void collect_federated(const json& statement, std::vector<std::string>& out) {
  if (!statement.is_object()) return;
  auto principal = statement.find("Principal");
  if (principal == statement.end() || !principal->is_object()) return;
  auto federated = principal->find("Federated");
  if (federated == principal->end()) return;
  auto values = policy_values(*federated, "Principal.Federated");
  if (!values) return;
  for (auto& value : *values) {
    if (value.find(":oidc-provider/") == std::string::npos) continue;
    if (std::find(out.begin(), out.end(), value) == out.end()) out.push_back(std::move(value));
  }
}

}  // namespace

bool iam_wildcard_match(std::string_view pattern, std::string_view text, bool ignore_case) {
  auto same = [&](char a, char b) {
    if (!ignore_case) return a == b;
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  };
  // Greedy matching with one backtrack point: O(pattern * text) at worst.
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() &&
        (pattern[p] == '?' || (pattern[p] != '*' && same(pattern[p], text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string> federated_oidc_providers(const nlohmann::json& policy) {
  std::vector<std::string> out;
  if (!policy.is_object()) return out;
  auto statements = policy.find("Statement");
  if (statements == policy.end()) return out;
  if (statements->is_array()) {
    for (const auto& statement : *statements) collect_federated(statement, out);
  } else {
    collect_federated(*statements, out);
  }
  return out;
}

Result<PolicyDecision> evaluate_trust_policy(const nlohmann::json& policy,
                                             const WebIdentityRequest& request) {
  if (!policy.is_object()) return Error{"the trust policy is not a JSON object"};
  PolicyDecision decision{Verdict::kFail, "", {}};
  if (auto version = policy.find("Version"); version != policy.end()) {
    if (!version->is_string() || (*version != "2012-10-17" && *version != "2008-10-17")) {
      return Error{"the trust policy's Version is not \"2012-10-17\" (or \"2008-10-17\")"};
    }
    decision.checks.push_back({Verdict::kNote, "policy Version " + version->get<std::string>(), 1});
  } else {
    decision.checks.push_back(
        {Verdict::kNote, "policy has no Version: IAM reads it as 2008-10-17", 1});
  }
  auto statements = policy.find("Statement");
  if (statements == policy.end()) return Error{"the trust policy has no Statement"};
  std::vector<const json*> list;
  if (statements->is_array()) {
    if (statements->size() > kMaxStatements)
      return Error{"the trust policy has too many statements"};
    for (const auto& statement : *statements) list.push_back(&statement);
  } else {
    list.push_back(&*statements);
  }
  if (list.empty()) return Error{"the trust policy has no statements"};

  std::vector<StatementResult> results;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto result = evaluate_statement(*list[i], i, request, decision.checks);
    if (!result) return Error{result.error()};
    results.push_back(std::move(*result));
  }

  auto find = [&](bool allow, Tri applies) {
    return std::find_if(results.begin(), results.end(), [&](const StatementResult& r) {
      return r.allow == allow && r.applies == applies;
    });
  };
  if (auto deny = find(false, Tri::kTrue); deny != results.end()) {
    decision.verdict = Verdict::kFail;
    decision.reason =
        deny->name + " is an explicit Deny that applies, and a Deny overrides any Allow";
  } else if (auto maybe_deny = find(false, Tri::kUnknown); maybe_deny != results.end()) {
    decision.verdict = Verdict::kUnknown;
    decision.reason = maybe_deny->name + " (Deny) may apply: " + maybe_deny->reason;
  } else if (auto allow = find(true, Tri::kTrue); allow != results.end()) {
    decision.verdict = Verdict::kPass;
    decision.reason = allow->name + " allows " + std::string(kAction);
  } else if (auto maybe_allow = find(true, Tri::kUnknown); maybe_allow != results.end()) {
    decision.verdict = Verdict::kUnknown;
    decision.reason = maybe_allow->name + " may allow it: " + maybe_allow->reason;
  } else {
    // Implicit deny: explain with the Allow statement closest to applying.
    decision.verdict = Verdict::kFail;
    const StatementResult* closest = nullptr;
    for (int wanted = 2; wanted >= 0 && !closest; --wanted) {
      for (const auto& result : results) {
        int score = (result.principal_matches ? 1 : 0) + (result.action_matches ? 1 : 0);
        if (result.allow && score >= wanted) {
          closest = &result;
          break;
        }
      }
    }
    decision.reason = closest ? closest->reason : "the policy has no Allow statement";
  }
  return decision;
}

}  // namespace irsa::oidc
