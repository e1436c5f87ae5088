// One line of an explanation: what was checked and its verdict.
#pragma once

#include <string>

namespace irsa::oidc {

enum class Verdict {
  kPass,     // satisfied
  kFail,     // definitely not satisfied
  kUnknown,  // not implemented here: neither pass nor fail can be claimed
  kNote,     // context only
};

struct Check {
  Verdict verdict;
  // Plain words; for a failing top-level check, the reason shown after DENIED.
  std::string text;
  // 0: a check that decides the outcome; 1: a statement; 2: a statement's parts.
  int depth = 0;
};

}  // namespace irsa::oidc
