#!/usr/bin/env python3
"""Runs every libFuzzer target for a while and prints what it did.

    run_fuzz.py --bin BUILD/fuzz --seeds SEEDS --work WORK [--seconds 300]
                [--targets a,b] [--jobs 1] [--dict fuzz/json_yaml.dict]

For each target: WORK/corpus/<target> (kept between runs, new inputs go
there), SEEDS/<target> and fuzz/seeds/<target> as seed corpora, artifacts
(crash-*, leak-*, timeout-*, oom-*) in WORK/artifacts/<target>/, the
fuzzer's output in WORK/logs/<target>.log. stdin is /dev/null (a kubeconfig
may name /dev/stdin). Prints a table: target, executions, coverage (edges
cov, features ft), corpus (inputs in the fuzzer's corpus / files on disk),
crashes; exit status 1 when any target crashed, leaked, hung or ran out of
memory.

WORK/ledger.json adds up every run on that work folder (executions, seconds,
runs, findings per target, with the first and last date), so a long campaign
can be spread over several sessions on the same corpus (and a slow target over
several cores: a second run_fuzz.py with --instance 1 beside the first); the table shows the
totals beside this run's numbers. --plan-seconds S picks the targets for
you: those furthest from --goal executions (default 10 million) in all, each
for S seconds.
"""

import argparse
import concurrent.futures
import datetime
import fcntl
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ["admission_review", "manifest", "kubeconfig", "watch_stream", "list_page",
           "identity_config", "pem_keys", "jwks", "jwt", "trust_policy", "flags", "http_request"]
ARTIFACTS = ("crash-", "leak-", "timeout-", "oom-")
# Longest input libFuzzer makes (-max_len), where --max-len / FUZZ_MAX_LEN do
# not say. pem_keys: libFuzzer's own default, 4 KiB, holds a key file of ~9
# RSA-2048 or ~23 EC P-256 public keys, two RSA-8192 keys or a chain of three
# certificates, more than any rotation; longer inputs only repeat blocks, each
# costing OpenSSL's decoders and a key check (the 64-block limit is a unit test).
MAX_LEN = {"pem_keys": 4096, "http_request": 4096}
DEFAULT_MAX_LEN = 16384


def run_target(target, args, seconds):
    binary = os.path.join(args.bin, f"{target}_fuzzer")
    corpus = os.path.join(args.work, "corpus", target)
    artifacts = os.path.join(args.work, "artifacts", target) + os.sep
    suffix = f".{args.instance}" if args.instance else ""
    log_path = os.path.join(args.work, "logs", f"{target}{suffix}.log")
    for folder in (corpus, artifacts, os.path.dirname(log_path)):
        os.makedirs(folder, exist_ok=True)
    before = {p for p in os.listdir(artifacts)}
    seeds = [d for d in (os.path.join(args.seeds, target), os.path.join(HERE, "seeds", target))
             if os.path.isdir(d)]
    command = [binary, corpus, *seeds,
               f"-max_total_time={seconds}", f"-timeout={args.timeout}",
               f"-rss_limit_mb={args.rss_limit_mb}", f"-max_len={args.max_len or MAX_LEN.get(target, DEFAULT_MAX_LEN)}",
               f"-artifact_prefix={artifacts}", "-print_final_stats=1", "-close_fd_mask=1",
               "-reload=0"]
    if args.dict:
        command.append(f"-dict={args.dict}")
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log, open(os.devnull, "rb") as null:
        # No allocation stacks unless asked for: a third more executions on the
        # allocation-heavy targets; a finding is replayed with full reports.
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "malloc_context_size=0")
        process = subprocess.run(command, stdin=null, stdout=log, stderr=subprocess.STDOUT, env=env,
                                 timeout=seconds * 3 + 600)
    elapsed = time.monotonic() - started
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    executions = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    status = re.findall(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/", text, re.M)
    new = sorted(p for p in os.listdir(artifacts) if p not in before and p.startswith(ARTIFACTS))
    return {
        "target": target,
        "executions": int(executions[-1]) if executions else (int(status[-1][0]) if status else 0),
        "cov": int(status[-1][1]) if status else 0,
        "ft": int(status[-1][2]) if status else 0,
        "corpus": int(status[-1][3]) if status else 0,
        "files": len(os.listdir(corpus)),
        "crashes": len(new),
        "artifacts": [os.path.join(artifacts, p) for p in new],
        "exit": process.returncode,
        "seconds": elapsed,
        "log": log_path,
    }


def load_ledger(path):
    try:
        with open(path, encoding="utf-8") as handle:
            ledger = json.load(handle)
        return ledger if isinstance(ledger, dict) else {}
    except (OSError, ValueError):
        return {}


def record(ledger, result, revision):
    today = datetime.date.today().isoformat()
    entry = ledger.setdefault(result["target"], {"executions": 0, "seconds": 0, "runs": 0,
                                                 "findings": 0, "first": today})
    entry["executions"] += result["executions"]
    entry["seconds"] = round(entry["seconds"] + result["seconds"])
    entry["runs"] += 1
    entry["findings"] += result["crashes"]
    entry["last"] = today
    entry["revision"] = revision


def save_ledger(path, ledger):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(ledger, handle, indent=1, sort_keys=True)
    os.replace(temporary, path)


def revision():
    try:
        return subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="folder with <target>_fuzzer programs")
    parser.add_argument("--seeds", required=True, help="make_seeds.py output")
    parser.add_argument("--work", required=True)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", 300)))
    parser.add_argument("--targets", default=os.environ.get("FUZZ_TARGETS", ""))
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("FUZZ_JOBS", 1)))
    parser.add_argument("--max-len", type=int, default=int(os.environ.get("FUZZ_MAX_LEN", 0)),
                        help=f"longest input (default {DEFAULT_MAX_LEN}; pem_keys "
                             f"{MAX_LEN['pem_keys']})")
    # Wall-clock seconds: a fuzzer at low priority beside a build waits for
    # the CPU, and a 0.4 s input then took more than 10 s. A hang is still one.
    parser.add_argument("--timeout", type=int, default=25, help="seconds per input")
    parser.add_argument("--rss-limit-mb", type=int, default=2560)
    parser.add_argument("--dict", default=os.path.join(HERE, "json_yaml.dict"))
    parser.add_argument("--instance", type=int, default=0,
                        help="a second run of the same targets on the same work folder at the "
                             "same time: N > 0 writes logs/<target>.N.log (corpus and ledger "
                             "are shared)")
    parser.add_argument("--goal", type=int, default=10_000_000,
                        help="executions per target the campaign aims for (the table says how far)")
    parser.add_argument("--plan-seconds", type=int, default=0,
                        help="run the targets furthest from --goal (in the ledger), this many "
                             "seconds each, until --plan-total seconds are used")
    parser.add_argument("--plan-total", type=int, default=0)
    parser.add_argument("--plan-only", action="store_true",
                        help="print the ledger and the plan, fuzz nothing")
    args = parser.parse_args()
    targets = [t for t in args.targets.split(",") if t] or TARGETS
    unknown = set(targets) - set(TARGETS)
    if unknown:
        parser.error("unknown targets: " + ", ".join(sorted(unknown)))
    os.makedirs(args.work, exist_ok=True)
    ledger_path = os.path.join(args.work, "ledger.json")
    ledger = load_ledger(ledger_path)
    seconds = {t: args.seconds for t in targets}
    if args.plan_seconds:
        # Targets never fuzzed first, then those nearest the goal (so that
        # targets are finished), each for at most --plan-seconds and no more
        # than its rate so far says it still needs; until --plan-total.
        def short_seconds(target):
            entry = ledger.get(target, {})
            done = entry.get("executions", 0)
            if not entry.get("seconds"):
                return None
            return max(0, args.goal - done) / max(done / entry["seconds"], 1)
        unknown_first = sorted(targets, key=lambda t: (short_seconds(t) is not None,
                                                       short_seconds(t) or 0))
        budget = args.plan_total or args.plan_seconds * len(targets)
        targets, seconds = [], {}
        for target in unknown_first:
            needed = short_seconds(target)
            if needed == 0 or budget < 60:
                continue
            slice_seconds = args.plan_seconds if needed is None else \
                min(args.plan_seconds, max(60, int(needed * 1.1) + 30))
            slice_seconds = min(slice_seconds, budget)
            targets.append(target)
            seconds[target] = slice_seconds
            budget -= slice_seconds
        if not targets:
            print(f"every target has reached {args.goal} executions (or no time was given)")
            return 0
    if args.plan_only:
        for target in TARGETS:
            entry = ledger.get(target, {})
            print(f"{target:<18} {entry.get('executions', 0):>12} executions in "
                  f"{entry.get('seconds', 0):>6} s over {entry.get('runs', 0)} runs, "
                  f"{entry.get('findings', 0)} findings" +
                  (f"; next: {seconds[target]} s" if target in targets else ""))
        return 0
    this_revision = revision()

    print(f"fuzzing {len(targets)} targets ({args.jobs} at a time): " +
          ", ".join(f"{t} {seconds[t]} s" for t in targets), flush=True)
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_target, t, args, seconds[t]): t for t in targets}
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            results.append(result)
            # Another run on the same work folder may have recorded since:
            # read, add and write under a lock.
            with open(ledger_path + ".lock", "w", encoding="utf-8") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                ledger = load_ledger(ledger_path)
                record(ledger, result, this_revision)
                save_ledger(ledger_path, ledger)
            print(f"  {result['target']}: {result['executions']} executions, "
                  f"{result['crashes']} crashes ({result['seconds']:.0f} s)", flush=True)
    results.sort(key=lambda r: targets.index(r["target"]))

    header = f"{'target':<18} {'executions':>12} {'exec/s':>8} {'cov':>6} {'ft':>7} " \
             f"{'corpus':>13} {'crashes':>7} {'in all':>12} {'of goal':>7}"
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        rate = r["executions"] / r["seconds"] if r["seconds"] else 0
        corpus = f"{r['corpus']}/{r['files']}"
        total = ledger.get(r["target"], {}).get("executions", 0)
        print(f"{r['target']:<18} {r['executions']:>12} {rate:>8.0f} {r['cov']:>6} {r['ft']:>7} "
              f"{corpus:>13} {r['crashes']:>7} {total:>12} {100 * total / args.goal:>6.0f}%")
    print("corpus: inputs in the fuzzer's corpus / files in the kept corpus folder")
    print(f"in all: executions of every run on {args.work} ({ledger_path}); "
          f"goal {args.goal} per target")
    failed = False
    for r in results:
        if r["crashes"] or r["exit"] not in (0,):
            failed = True
            print(f"{r['target']}: exit {r['exit']}, see {r['log']}")
            for path in r["artifacts"]:
                print(f"  {path}  (replay: {os.path.join(args.bin, r['target'] + '_fuzzer')} {path})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
