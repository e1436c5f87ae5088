#!/usr/bin/env bash
# Runs a command (a CMake configure or build) with its output in a log file:
# on success one line, on failure the errors and the end of the log, so that
# `make run` and `make test` show what matters. VERBOSE=1 shows everything.
#
# Usage: tools/quiet-build.sh LOG DESCRIPTION COMMAND [ARGS...]
set -uo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 LOG DESCRIPTION COMMAND [ARGS...]" >&2
  exit 2
fi
log=$1
description=$2
shift 2

if [ "${VERBOSE:-0}" = 1 ]; then
  exec "$@"
fi

mkdir -p "$(dirname "$log")"
start=$SECONDS
if [ -t 1 ]; then
  # One line of progress on a terminal: the build's own [ NN%] counter.
  "$@" 2>&1 | tee "$log" | while IFS= read -r line; do
    case "$line" in
      \[*%\]*) printf '\r%s: %s' "$description" "${line%%]*}]" ;;
    esac
  done
  status=${PIPESTATUS[0]}
  printf '\r\033[K'
else
  "$@" >"$log" 2>&1
  status=$?
fi

if [ "$status" -ne 0 ]; then
  echo "$description: FAILED (exit $status); the errors, then the end of $log:" >&2
  grep -E -m 40 '(error|Error|ERROR)[: ]' "$log" >&2 || true
  echo "--- end of $log" >&2
  tail -n 40 "$log" >&2
  exit "$status"
fi
echo "$description: done in $((SECONDS - start)) s (log: $log; VERBOSE=1 to see it)"
