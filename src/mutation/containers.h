// Which containers of a Pod receive the identity: the Pod annotations
// <prefix>/skip-containers and <prefix>/include-containers, read as AWS's
// webhook reads skip-containers (one record of Go's encoding/csv). Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mutation/pod_view.h"

namespace irsa::mutation {

// One CSV record as Go's encoding/csv Reader.Read returns it with its
// defaults (Comma ',', no Comment, LazyQuotes and TrimLeadingSpace false):
//   - "\r\n" counts as "\n"; a "\r" at the very end is dropped;
//   - empty lines before the record are skipped; the record ends at the end
//     of its line (a quoted field may span lines); later lines are ignored;
//   - a field that starts with '"' is quoted: it ends at a '"' followed by
//     ',' or the end of the line, '""' inside it is one '"', and it may hold
//     ',' and newlines; anything else after its closing '"' (a space
//     included) is an error;
//   - in a field that does not start with '"', a '"' anywhere is an error
//     ("bare quote"): with TrimLeadingSpace false, ` "b"` is such a field;
//   - a quoted field still open at the end of the input is an error.
// `status` is kEmpty for input with no record (empty or only newlines: Go's
// io.EOF), kError with a one-line `error` for a malformed record.
struct CsvRecord {
  enum class Status { kOk, kEmpty, kError };
  Status status = Status::kOk;
  std::vector<std::string> fields;  // as Go returns them (not trimmed)
  std::string error;                // e.g. `bare " in non-quoted field (column 4)`
};
CsvRecord read_csv_record(std::string_view text);

// A container-list annotation: the record's fields with spaces and tabs
// trimmed off both ends, empty ones dropped (trimming is the one deliberate
// difference from AWS's webhook, which compares " b" with "b" and so never
// matches it). `error` is set when the value is not one valid record.
struct ContainerList {
  std::vector<std::string> names;
  std::optional<std::string> error;
};
ContainerList parse_container_list(std::string_view annotation);

// Which containers get the token, the mount and the env:
//   - <prefix>/include-containers present: only the containers it names
//     (init containers included); skip-containers is then ignored. A
//     malformed value selects none (the identity is not spread to containers
//     the Pod meant to exclude).
//   - otherwise <prefix>/skip-containers: every container but those it
//     names. A malformed value skips none, as AWS's webhook does.
//   - neither: every container.
struct ContainerSelection {
  std::vector<bool> init_containers;  // by index: receives the identity
  std::vector<bool> containers;
  // What the user should hear about (a malformed list, skip-containers
  // ignored, include-containers matching nothing); one line each.
  std::vector<std::string> warnings;

  bool receives(bool init_container, std::size_t index) const;
  bool any() const;
  // The names of the containers that do not receive the identity, in Pod
  // order (init containers first).
  std::vector<std::string> excluded(const PodView& pod) const;
};
ContainerSelection select_containers(const PodView& pod, std::string_view annotation_prefix);

}  // namespace irsa::mutation
