#!/usr/bin/env python3
"""The hostile mix: does the real binary keep serving normal reviews while
clients misbehave? Starts irsa-webhook with default flags on 127.0.0.1,
then runs the normal load twice in the same run: once alone (the baseline)
and once beside the attackers:

  stalled     TCP connect, the first 5 bytes of a TLS record header, nothing more
  slow-loris  a full TLS handshake, then a request's headers one byte a second,
              never finished
  idle        a TLS handshake and one GET /healthz, then idle keep-alive

Attackers are held by one asyncio process (RLIMIT_NOFILE raised) and are
re-opened whenever the server closes them; the closes are counted. The
normal load is wrk (bench/wrk_review.lua) posting the 4.4 KB v1 review to
/mutate over TLS keep-alive, a closed loop at --connections; beside it a
/healthz prober opens a fresh TLS connection 10 times a second.

Prints a table: reviews completed/failed and p50/p99/max latency, /healthz
probes sent/failed and p50/p99/max, attacker connections closed by the
server, and the server's threads and RSS (VmRSS, VmHWM) at the end of each
phase, with the goals beside (0 failed, p99 <= 20 ms).

Usage: bench/hostile.py [--binary build/irsa-webhook] [--duration 20]
       [--stalled 300] [--slowloris 300] [--idle 1000] [--connections 16] [--quick]
Every loop is bounded in count and time; every child is killed on exit.
"""

import argparse
import asyncio
import logging
import multiprocessing
import os
import random
import shutil
import signal
import socket
import sys
import threading
import time

import harness
import reviews

NAMESPACE, SERVICE_ACCOUNT = "default", "s3-reader"  # has a role in examples/
KINDS = ("stalled", "slowloris", "idle")
# Per kind: held now, opened in total, closed by the server, failed opens.
FIELDS = ("held", "opened", "closed", "failed")
GOAL_P99_MS = 20.0
PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 5.0
OPEN_TIMEOUT = 10.0
# An attacker re-opens soon after a close, but not in a tight loop: on two
# shared cores, Python's own handshakes would otherwise be what is measured.
REOPEN_PAUSE = 0.25
HANDSHAKES_AT_ONCE = 32  # stays under the listen backlog while opening 1,600
TLS_RECORD_HEADER = b"\x16\x03\x01\x02\x00"  # handshake record, 512 bytes promised


def slot(kind, field):
    return KINDS.index(kind) * len(FIELDS) + FIELDS.index(field)


# --- The attackers (a child process) --------------------------------------------------------


class Attack:
    """Holds the attacking sockets in one event loop; counters live in a
    shared array the parent reads."""

    def __init__(self, port, counts, counters, ready, stop, deadline):
        self.port = port
        self.counts = counts
        self.counters = counters
        self.ready = ready
        self.stop = stop
        self.deadline = deadline
        self.context = harness.client_context()
        self.gate = None

    def bump(self, kind, field, by=1):
        self.counters[slot(kind, field)] += by

    async def open(self, kind):
        """A connected attacker: the record header sent, or the handshake done
        (and for an idle one, a /healthz answered); closed again on failure."""
        async with self.gate:
            if kind == "stalled":
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port), OPEN_TIMEOUT)
            else:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.port, ssl=self.context,
                                            server_hostname="127.0.0.1"), OPEN_TIMEOUT)
            try:
                if kind == "stalled":
                    writer.write(TLS_RECORD_HEADER)
                    await writer.drain()
                elif kind == "idle":
                    await self.one_healthz(reader, writer)
            except BaseException:
                writer.close()
                raise
            return reader, writer

    @staticmethod
    async def one_healthz(reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), OPEN_TIMEOUT)
        if not head.startswith(b"HTTP/1.1 200"):
            raise ConnectionError("healthz answered " + head[:12].decode(errors="replace"))
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await asyncio.wait_for(reader.readexactly(length), OPEN_TIMEOUT)

    @staticmethod
    def slow_headers(index):
        """A request's head that never ends: a real start, then header lines forever."""
        yield from (b"POST /mutate?timeout=10s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 4412\r\n")
        for line in range(1_000_000):
            yield from b"X-Slow-%d-%d: %d\r\n" % (index, line, line)

    async def hold(self, kind, index, reader, writer):
        """Until the server closes the socket (returns True) or the deadline
        (returns False); the run also cancels it when the attack stops."""
        pending = self.slow_headers(index) if kind == "slowloris" else None
        while time.monotonic() < self.deadline:
            wait = 0.8 + random.random() * 0.4 if pending else 5.0
            try:
                data = await asyncio.wait_for(reader.read(4096), wait)
                if not data:
                    return True
            except asyncio.TimeoutError:
                if pending:
                    writer.write(bytes([next(pending, ord(" "))]))
                    await writer.drain()
        return False

    async def attacker(self, kind, index, first):
        """One socket, re-opened whenever the server closes it; bounded by the
        deadline and by a count of attempts."""
        for _ in range(100_000):
            if time.monotonic() > self.deadline:
                break
            writer = None
            try:
                reader, writer = await self.open(kind)
                self.bump(kind, "opened")
                self.bump(kind, "held")
                if not first.done():
                    first.set_result(True)
                try:
                    closed = await self.hold(kind, index, reader, writer)
                except (OSError, EOFError, asyncio.IncompleteReadError):
                    closed = True
                finally:
                    self.bump(kind, "held", -1)
                if closed:
                    self.bump(kind, "closed")
                    await asyncio.sleep(REOPEN_PAUSE)
            except (OSError, EOFError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ValueError):
                self.bump(kind, "failed")
                if not first.done():
                    first.set_result(False)
                await asyncio.sleep(0.5)
            finally:
                if writer is not None:
                    writer.close()

    async def run(self):
        self.gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
        tasks, firsts = [], []
        for kind in KINDS:
            for index in range(self.counts[kind]):
                first = asyncio.get_running_loop().create_future()
                firsts.append(first)
                tasks.append(asyncio.create_task(self.attacker(kind, index, first)))
        if firsts:
            await asyncio.wait(firsts, timeout=max(1.0, self.deadline - time.monotonic()))
        self.ready.set()
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=10) if tasks else None


def attack_main(port, counts, counters, ready, stop, seconds):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # closes are expected here
    harness.raise_nofile()
    deadline = time.monotonic() + seconds
    asyncio.run(Attack(port, counts, counters, ready, stop, deadline).run())


# --- The normal clients (in this process) ----------------------------------------------------


class Prober:
    """GET /healthz on a fresh TLS connection every PROBE_INTERVAL; records
    each probe's latency (connect to status line) or its failure."""

    def __init__(self, port, ca):
        self.port = port
        self.context = harness.client_context(ca)
        self.latencies = []
        self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="prober")

    def probe(self):
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=PROBE_TIMEOUT) as raw:
            with self.context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if not conn.recv(64).startswith(b"HTTP/1.1 200"):
                    raise ConnectionError("not 200")
        return time.monotonic() - start

    def run(self):
        next_at = time.monotonic()
        for _ in range(100_000):
            if self.stop.wait(max(0.0, next_at - time.monotonic())):
                return
            next_at = max(next_at + PROBE_INTERVAL, time.monotonic())
            try:
                self.latencies.append(self.probe())
            except (OSError, ConnectionError):
                self.failed += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join(timeout=PROBE_TIMEOUT + 5)


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * len(sorted_values))) - 1))
    return sorted_values[index]


def phase(args, webhook, port, ca, body_path, counts):
    """One run of the normal load; with attackers when `counts` has any."""
    result = {"counts": counts, "attack": None}
    attacker = None
    context = multiprocessing.get_context("fork")
    counters = context.Array("q", len(KINDS) * len(FIELDS), lock=False)
    stop = context.Event()
    try:
        if any(counts.values()):
            ready = context.Event()
            attacker = context.Process(
                target=attack_main, name="attackers",
                args=(port, counts, counters, ready, stop, args.duration + 180))
            attacker.start()
            start = time.monotonic()
            if not ready.wait(timeout=120):
                print("  attackers not all open after 120 s; going on", file=sys.stderr)
            held = {k: counters[slot(k, "held")] for k in KINDS}
            print(f"  attackers open in {time.monotonic() - start:.1f} s: {held}", file=sys.stderr)
            time.sleep(1.0)  # let the server settle into holding them
        server_before = harness.cpu_seconds(webhook.pid)
        attacker_before = harness.cpu_seconds(attacker.pid) if attacker else 0.0
        with Prober(port, ca) as prober:
            wrk = harness.run_wrk(f"https://127.0.0.1:{port}/mutate", body_path,
                                  args.connections, args.duration)
        result["wrk"] = wrk
        result["server_cpu"] = harness.cpu_seconds(webhook.pid) - server_before
        result["attacker_cpu"] = (harness.cpu_seconds(attacker.pid) - attacker_before
                                  if attacker else 0.0)
        probes = sorted(prober.latencies)
        result["probe"] = {"sent": len(probes) + prober.failed, "failed": prober.failed,
                           "p50": percentile(probes, 0.50), "p99": percentile(probes, 0.99),
                           "max": probes[-1] if probes else float("nan")}
        result["threads"] = harness.status_value(webhook.pid, "Threads")
        result["rss"] = harness.status_value(webhook.pid, "VmRSS")
        result["hwm"] = harness.status_value(webhook.pid, "VmHWM")
        result["alive"] = webhook.poll() is None
        result["attack"] = {k: {f: counters[slot(k, f)] for f in FIELDS} for k in KINDS}
    finally:
        if attacker is not None:
            stop.set()
            attacker.join(timeout=20)
            if attacker.is_alive():
                attacker.kill()
                attacker.join(timeout=10)
    return result


def verdict(ok):
    return "ok" if ok else "MISSED"


def report(args, baseline, attacked, cpu_note):
    print(f"\nirsa-webhook under hostile clients: {args.connections} connections of normal "
          f"reviews (wrk, 4.4 KB v1 review, TLS keep-alive) for {args.duration} s per phase, "
          f"/healthz on a fresh TLS connection every {PROBE_INTERVAL * 1000:.0f} ms; "
          f"127.0.0.1, {os.cpu_count()} CPUs shared by server, wrk and attackers; {cpu_note}\n")
    counts = attacked["counts"]
    print(f"attack: {counts['stalled']} stalled handshakes, {counts['slowloris']} slow-loris "
          f"(1 header byte/s), {counts['idle']} idle keep-alive; re-opened "
          f"{REOPEN_PAUSE:g} s after the server closes one\n")
    print("| measure | baseline (no attack) | under attack | goal |")
    print("|---|---:|---:|---|")
    rows = []
    def sent(wrk):  # answered (whatever the answer) plus never answered
        return (wrk["requests"] + wrk["errors"] - wrk.get("status_errors", 0)
                - wrk.get("unexpected", 0))

    rows.append(("reviews sent", sent(baseline["wrk"]), sent(attacked["wrk"]), ""))
    rows.append(("reviews failed (no answer, HTTP >= 400, no patch)", baseline["wrk"]["errors"],
                 attacked["wrk"]["errors"], "0 failed"))
    for label, key in (("review p50 ms", "p50_us"), ("review p99 ms", "p99_us"),
                       ("review max ms", "max_us")):
        rows.append((label, harness.ms(baseline["wrk"][key]), harness.ms(attacked["wrk"][key]),
                     f"<= {GOAL_P99_MS:.0f}" if key == "p99_us" else ""))
    rows.append(("reviews/s", f"{baseline['wrk']['rate']:.0f}", f"{attacked['wrk']['rate']:.0f}",
                 ""))
    for label, key in (("/healthz sent", "sent"), ("/healthz failed", "failed")):
        rows.append((label, baseline["probe"][key], attacked["probe"][key],
                     "0 failed" if key == "failed" else ""))
    for label, key in (("/healthz p50 ms", "p50"), ("/healthz p99 ms", "p99"),
                       ("/healthz max ms", "max")):
        rows.append((label, f"{baseline['probe'][key] * 1000:.2f}",
                     f"{attacked['probe'][key] * 1000:.2f}", ""))
    for kind in KINDS:
        a = attacked["attack"][kind]
        rows.append((f"{kind}: held at end / opened / closed by server / failed opens",
                     "-", f"{a['held']} / {a['opened']} / {a['closed']} / {a['failed']}", ""))
    rows.append(("server CPU s during the load", f"{baseline['server_cpu']:.1f}",
                 f"{attacked['server_cpu']:.1f}", ""))
    rows.append(("attackers' CPU s (one Python process)", "-",
                 f"{attacked['attacker_cpu']:.1f}", ""))
    rows.append(("server threads at end", baseline["threads"], attacked["threads"], ""))
    rows.append(("server VmRSS at end MiB", f"{baseline['rss'] / 1024:.1f}",
                 f"{attacked['rss'] / 1024:.1f}", ""))
    rows.append(("server VmHWM MiB", f"{baseline['hwm'] / 1024:.1f}",
                 f"{attacked['hwm'] / 1024:.1f}", ""))
    rows.append(("server alive at end", baseline["alive"], attacked["alive"], ""))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    wrk = attacked["wrk"]
    failed_ok = wrk["errors"] == 0 and attacked["probe"]["failed"] == 0
    p99_ok = wrk["p99_us"] / 1000 <= GOAL_P99_MS
    print(f"\nunder attack: failed reviews and probes {wrk['errors']} + "
          f"{attacked['probe']['failed']} (goal 0): {verdict(failed_ok)}; review p99 "
          f"{harness.ms(wrk['p99_us'])} ms (goal <= {GOAL_P99_MS:.0f} ms): {verdict(p99_ok)}")
    if wrk["errors"]:
        print("  wrk errors: " + ", ".join(f"{k} {wrk[k]}" for k in (
            "connect_errors", "read_errors", "write_errors", "status_errors", "timeouts",
            "unexpected")
            if k in wrk))


def load_note():
    one, five, _ = os.getloadavg()
    return f"load average before the run {one:.2f} (1 min), {five:.2f} (5 min)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(harness.SOURCE, "build", "irsa-webhook"))
    parser.add_argument("--duration", type=int, default=20, help="seconds per phase")
    parser.add_argument("--stalled", type=int, default=300)
    parser.add_argument("--slowloris", type=int, default=300)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=16, help="normal review connections")
    parser.add_argument("--server-flag", action="append", default=[],
                        help="an extra server flag, e.g. --server-flag=--read-timeout=5s")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20 stalled, 20 slow-loris, 100 idle, 5 s per phase")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # tables and progress interleave right
    if args.quick:
        args.duration, args.stalled, args.slowloris, args.idle = 5, 20, 20, 100
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no binary at {args.binary} (make build, or --binary)")
    limit = harness.raise_nofile()
    needed = args.stalled + args.slowloris + args.idle + args.connections + 64
    if limit < needed:
        sys.exit(f"the open-files limit is {limit}; {needed} are needed")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below

    cpu_note = load_note()
    if args.server_flag:
        cpu_note += "; server flags beyond the defaults: " + " ".join(args.server_flag)
    with harness.webhook_session(args.binary, "irsa-hostile-", args.server_flag) as (work, ca, webhook, port):
        body_path = os.path.join(work, "review.json")
        with open(body_path, "w", encoding="utf-8") as handle:
            handle.write(reviews.reference_review(NAMESPACE, SERVICE_ACCOUNT))
        with open(body_path, "rb") as handle:
            status, answer = harness.post(port, handle.read(), ca)
        if status != 200 or b'"patch"' not in answer:
            raise RuntimeError(f"the review was not mutated ({status}): {answer[:300]!r}")

        print(f"  baseline: {args.connections} connections, {args.duration} s", file=sys.stderr)
        baseline = phase(args, webhook, port, ca, body_path,
                         {"stalled": 0, "slowloris": 0, "idle": 0})
        print(f"  attack: {args.stalled} stalled, {args.slowloris} slow-loris, {args.idle} idle",
              file=sys.stderr)
        attacked = phase(args, webhook, port, ca, body_path,
                         {"stalled": args.stalled, "slowloris": args.slowloris,
                          "idle": args.idle})
        report(args, baseline, attacked, cpu_note)


if __name__ == "__main__":
    main()
