"""What the benchmarks share: dev certificates in a temp dir, the real
binary started on 127.0.0.1 with bounded waits, /proc readings, and wrk
runs through bench/wrk_review.lua."""

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_nofile():
    """Soft open-files limit up to the hard one (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def dev_certs(work):
    """Returns (ca, cert, key) made by certs/gen-dev-certs.sh in work/certs."""
    certs = os.path.join(work, "certs")
    subprocess.run(["bash", os.path.join(SOURCE, "certs", "gen-dev-certs.sh"), certs],
                   check=True, capture_output=True, timeout=60)
    return tuple(os.path.join(certs, n) for n in ("ca.crt", "tls.crt", "tls.key"))


def client_context(ca=None):
    if ca:
        return ssl.create_default_context(cafile=ca)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def status_value(pid, key):
    """A number from /proc/PID/status (kB for Vm* keys); 0 when absent or gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_healthy(port, ca, process, deadline=20.0):
    context = client_context(ca)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if conn.recv(64).startswith(b"HTTP/1.1 200"):
                        return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server not healthy in time")


def start_webhook(binary, cert, key, accounts, log_path, extra=()):
    """The binary with default flags but what a local run needs; returns
    (process, port). The caller stops it with stop()."""
    port = free_port()
    command = [binary, "--bind-address", "127.0.0.1", "--port", str(port),
               "--metrics-port", "0", "--tls-cert", cert, "--tls-key", key,
               "--service-accounts-file", accounts, "--aws-default-region", "us-east-1",
               *extra]
    log = open(log_path, "wb")
    try:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    finally:
        log.close()
    return process, port


def print_log_tail(log_path, size=2000):
    """The end of a server log on stderr, when a benchmark fails."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            tail = handle.read().decode(errors="replace")
    except OSError as error:
        tail = f"(cannot read {log_path}: {error})"
    print("server log (tail):\n" + tail, file=sys.stderr)


def stop(process, grace=5.0):
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def webhook_session(binary, prefix, extra=()):
    """A temp dir with dev certificates and the binary started on it (default
    flags but `extra`, examples/service-accounts.yaml) and healthy; yields
    (work, ca, process, port). When the block raises, the server log's tail
    is printed; the server is stopped and the dir removed in every case."""
    work = tempfile.mkdtemp(prefix=prefix)
    webhook = None
    try:
        ca, cert, key = dev_certs(work)
        accounts = os.path.join(SOURCE, "examples", "service-accounts.yaml")
        webhook, port = start_webhook(binary, cert, key, accounts, os.path.join(work, "server.log"), extra)
        wait_healthy(port, ca, webhook)
        yield work, ca, webhook, port
    except Exception:
        if webhook is not None:
            print_log_tail(os.path.join(work, "server.log"))
        raise
    finally:
        if webhook is not None:
            stop(webhook)
        shutil.rmtree(work, ignore_errors=True)


def post(port, body, ca=None, path="/mutate", timeout=10.0):
    """One POST over a fresh TLS connection; returns (status, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with client_context(ca).wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Content-Type: application/json\r\nConnection: close\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            answer = bytearray()
            while len(answer) < 64 * 1024 * 1024:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
    head, _, payload = bytes(answer).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, payload


def run_wrk(url, body_path, connections, duration, delay_ms=0, threads=None):
    """wrk with bench/wrk_review.lua: a closed loop, every connection posting
    `body_path` over keep-alive; returns the script's result line (latency
    over every request, in microseconds) plus the rate."""
    env = dict(os.environ, BENCH_BODY=body_path, BENCH_DELAY_MS=str(delay_ms))
    threads = threads or max(1, min(2, connections))
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
               "--timeout", "10s", "-s", os.path.join(HERE, "wrk_review.lua"), url]
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=duration + 60, check=False)
    match = re.search(r"BENCH_RESULT (\{.*\})", done.stdout)
    if not match:
        raise RuntimeError("wrk printed no result:\n" + done.stdout + done.stderr)
    result = json.loads(match.group(1))
    result["rate"] = result["requests"] / max(1e-9, result["duration_us"] / 1e6)
    return result


def ms(us):
    return f"{us / 1000:.2f}"
