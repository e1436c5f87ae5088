#!/usr/bin/env python3
"""Memory under the worst request shape: a request of at most
--max-request-bytes whose reply is as large as the webhook can make it.
Starts irsa-webhook with default flags on 127.0.0.1 and posts 8 reviews at
once, each a v1 AdmissionReview whose Pod has as many bare containers
(`{"name":"cN","image":"x"}`, no env) as fit under the request limit, for
a ServiceAccount with a role: the webhook would inject env and a volume
mount into every container, a patch far larger than the request.

Prints each decision (HTTP status, allowed, the status message cut to 100
characters, reply bytes, seconds), the server's RSS sampled every 20 ms
during the run (peak) and VmHWM, and RSS each second for 10 s after the
last reply, with the goals beside: peak <= 200 MiB, back under 40 MiB
within 10 s.

Replies are read by a bounded client: only the first and last 64 KB are
kept, at most --max-reply-mib are read. A safety cap (--rss-cap-mib) kills
the server if it grows past it, so a shared machine is not pushed into the
OOM killer; the table then says so.

Usage: bench/amplification.py [--binary build/irsa-webhook] [--requests 8]
       [--max-request-bytes 4194304] [--quick]
"""

import argparse
import os
import re
import signal
import socket
import sys
import threading
import time

import harness
import reviews

NAMESPACE, SERVICE_ACCOUNT = "default", "s3-reader"  # has a role in examples/
GOAL_PEAK_MIB = 200
GOAL_SETTLED_MIB = 40
SETTLE_SECONDS = 10
SAMPLE_INTERVAL = 0.02
KEEP = 64 * 1024
REQUEST_DEADLINE = 180.0


class RssSampler:
    """VmRSS every SAMPLE_INTERVAL in a thread; kills the server past the cap."""

    def __init__(self, process, cap_kib):
        self.process = process
        self.cap_kib = cap_kib
        self.peak_kib = 0
        self.samples = 0
        self.capped = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="rss-sampler")

    def run(self):
        end = time.monotonic() + REQUEST_DEADLINE + 30
        while not self.stop.is_set() and time.monotonic() < end:
            rss = harness.status_value(self.process.pid, "VmRSS")
            self.peak_kib = max(self.peak_kib, rss)
            self.samples += 1
            if rss > self.cap_kib and self.process.poll() is None:
                self.capped = True
                self.process.kill()
            self.stop.wait(SAMPLE_INTERVAL)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join(timeout=5)


class Review:
    """One POST of the worst-shape body on its own TLS connection, read by a
    bounded client."""

    def __init__(self, index, port, ca, body, max_reply_bytes):
        self.index = index
        self.port = port
        self.ca = ca
        self.body = body
        self.max_reply_bytes = max_reply_bytes
        self.status = 0
        self.reply_bytes = 0
        self.head = b""
        self.tail = b""
        self.truncated = False
        self.error = ""
        self.seconds = 0.0
        self.thread = threading.Thread(target=self.run, name=f"review-{index}")

    def run(self):
        start = time.monotonic()
        deadline = start + REQUEST_DEADLINE
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=60) as raw:
                context = harness.client_context(self.ca)
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                    try:
                        conn.sendall(
                            f"POST /mutate?timeout=30s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            f"Content-Type: application/json\r\nConnection: close\r\n"
                            f"Content-Length: {len(self.body)}\r\n\r\n".encode() + self.body)
                    except OSError as error:  # an early answer may still be readable
                        self.error = f"sending: {type(error).__name__}: {error}"
                    self.read(conn, deadline)
        except OSError as error:
            self.error = f"{type(error).__name__}: {error}"
        self.seconds = time.monotonic() - start

    def read(self, conn, deadline):
        received = bytearray()  # head of the reply, status line included
        tail = bytearray()
        total = 0
        while time.monotonic() < deadline:
            chunk = conn.recv(256 * 1024)
            if not chunk:
                break
            total += len(chunk)
            if len(received) < KEEP:
                received += chunk[:KEEP - len(received)]
            tail += chunk
            if len(tail) > 2 * KEEP:
                del tail[:len(tail) - KEEP]
            if total > self.max_reply_bytes:
                self.truncated = True
                break
        else:
            self.truncated = True
        head, _, body_start = bytes(received).partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/"):
            self.status = int(head.split(b" ", 2)[1])
        self.reply_bytes = max(0, total - len(head) - 4)
        self.head = body_start
        self.tail = bytes(tail[-KEEP:])

    def allowed(self):
        match = re.search(rb'"allowed"\s*:\s*(true|false)', self.head)
        return match.group(1).decode() if match else "-"

    def code(self):
        """status.code of the review's response, when it has one."""
        for part in (self.head, self.tail):
            match = re.search(rb'"code"\s*:\s*(\d+)', part)
            if match:
                return match.group(1).decode()
        return "-"

    def message(self):
        for part in (self.head, self.tail):
            match = re.search(rb'"message"\s*:\s*"((?:[^"\\]|\\.)*)"', part)
            if match:
                return match.group(1).decode(errors="replace")
        if self.error:
            return self.error
        if self.status and not self.head.startswith(b"{"):
            return self.head[:100].decode(errors="replace")
        return ""

    def patched(self):
        return b'"patch"' in self.head or b'"patch"' in self.tail


def cut(text, width=100):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(harness.SOURCE, "build", "irsa-webhook"))
    parser.add_argument("--requests", type=int, default=8, help="reviews posted at once")
    parser.add_argument("--max-request-bytes", type=int, default=4194304,
                        help="the server's limit (its default); the body fills it")
    parser.add_argument("--server-flag", action="append", default=[],
                        help="an extra server flag, e.g. --server-flag=--max-response-bytes=1Mi")
    parser.add_argument("--max-reply-mib", type=int, default=1024,
                        help="the client stops reading a reply past this")
    parser.add_argument("--rss-cap-mib", type=int, default=4096,
                        help="kill the server past this RSS (protects a shared machine)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 reviews of 256 KiB (the server keeps its default limit)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # tables and progress interleave right
    body_limit = args.max_request_bytes
    if args.quick:
        args.requests, body_limit = 2, 256 * 1024
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no binary at {args.binary} (make build, or --binary)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below
    one, five, _ = os.getloadavg()

    extra = list(args.server_flag)
    if args.max_request_bytes != 4194304:
        extra.append(f"--max-request-bytes={args.max_request_bytes}")
    with harness.webhook_session(args.binary, "irsa-amplification-", extra) as (work, ca, webhook, port):
        body, containers = reviews.worst_shape_review(body_limit, NAMESPACE, SERVICE_ACCOUNT)
        idle_kib = harness.status_value(webhook.pid, "VmRSS")
        print(f"  {args.requests} reviews of {len(body)} bytes, {containers} containers each",
              file=sys.stderr)

        posts = [Review(i, port, ca, body, args.max_reply_mib * 1024 * 1024)
                 for i in range(args.requests)]
        start = time.monotonic()
        with RssSampler(webhook, args.rss_cap_mib * 1024) as sampler:
            for review in posts:
                review.thread.start()
            for review in posts:
                review.thread.join(timeout=max(1.0, start + REQUEST_DEADLINE + 10
                                               - time.monotonic()))
        run_seconds = time.monotonic() - start
        hwm_kib = harness.status_value(webhook.pid, "VmHWM")
        after = []
        settled_at = None
        for second in range(1, SETTLE_SECONDS + 1):
            time.sleep(1.0)
            rss = harness.status_value(webhook.pid, "VmRSS")
            after.append(rss)
            if settled_at is None and 0 < rss <= GOAL_SETTLED_MIB * 1024:
                settled_at = second
        alive = webhook.poll() is None

        print(f"\nirsa-webhook under {args.requests} concurrent worst-shape reviews: "
              f"{len(body)} bytes each (limit {body_limit}), {containers} containers "
              f"{{\"name\":\"cN\",\"image\":\"x\"}} for {NAMESPACE}/{SERVICE_ACCOUNT} (a role); "
              f"TLS, 127.0.0.1, {os.cpu_count()} CPUs; load average before "
              f"{one:.2f} (1 min), {five:.2f} (5 min); server flags: defaults"
              + (" plus " + " ".join(extra) if extra else "") + "\n")
        print("| # | HTTP | allowed | status.code | patch | reply bytes | seconds | message |")
        print("|---:|---:|---|---:|---|---:|---:|---|")
        for review in posts:
            size = f"{review.reply_bytes}" + (" (stopped reading)" if review.truncated else "")
            print(f"| {review.index + 1} | {review.status or '-'} | {review.allowed()} | "
                  f"{review.code()} | "
                  f"{'yes' if review.patched() else 'no'} | {size} | {review.seconds:.2f} | "
                  f"{cut(review.message())} |")
        peak_mib = max(sampler.peak_kib, hwm_kib) / 1024
        print(f"\nRSS before: {idle_kib / 1024:.1f} MiB; run {run_seconds:.1f} s, "
              f"{sampler.samples} samples")
        print("| measure | value | goal | verdict |")
        print("|---|---:|---|---|")
        print(f"| peak VmRSS sampled every {SAMPLE_INTERVAL * 1000:.0f} ms (MiB) | "
              f"{sampler.peak_kib / 1024:.1f} | <= {GOAL_PEAK_MIB} | "
              f"{'ok' if sampler.peak_kib / 1024 <= GOAL_PEAK_MIB else 'MISSED'} |")
        print(f"| VmHWM after the run (MiB) | {hwm_kib / 1024:.1f} | <= {GOAL_PEAK_MIB} | "
              f"{'ok' if 0 < hwm_kib / 1024 <= GOAL_PEAK_MIB else 'MISSED'} |")
        for second, rss in enumerate(after, 1):
            goal = verdict = ""
            if second == SETTLE_SECONDS:
                goal = f"<= {GOAL_SETTLED_MIB}"
                verdict = "ok" if 0 < rss <= GOAL_SETTLED_MIB * 1024 else "MISSED"
            print(f"| VmRSS {second} s after (MiB) | {rss / 1024:.1f} | {goal} | {verdict} |")
        print(f"\nback under {GOAL_SETTLED_MIB} MiB: "
              + (f"after {settled_at} s" if settled_at else f"not within {SETTLE_SECONDS} s")
              + f"; server alive at the end: {alive}")
        if sampler.capped:
            print(f"the server passed the safety cap of {args.rss_cap_mib} MiB and was killed "
                  f"(peak {peak_mib:.0f} MiB): the goal is missed by far")


if __name__ == "__main__":
    main()
