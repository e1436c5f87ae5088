#!/usr/bin/env python3
"""Load benchmark of the real binary: irsa-webhook serving over TLS on
127.0.0.1, driven by wrk (keep-alive, a Lua script posting a review) with
realistic Pods of ~2 KB and ~10 KB, and the framework ceiling (cpp-httplib
answering a fixed body, bench/httplib_ceiling.cc) in the same run.

Prints a table: reviews/s and p50/p99/p99.9 latency at 1, 16, 64 and 256
connections, CPU seconds per 10,000 reviews (utime+stime from
/proc/PID/stat), peak RSS (VmHWM), a paced run near 5,000 reviews/s, and
the CPU an idle server spends holding 1,000 keep-alive connections.

Usage: bench/server_bench.py --binary build/irsa-webhook --ceiling build/bench/httplib_ceiling
       [--duration 8] [--connections 1,16,64,256]
Every wait is bounded; the servers are killed on exit.
"""

import argparse
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROLE_ARN = "arn:aws:iam::111122223333:role/payments-api"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def container(name, image, env_count, mounts):
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--config=/etc/app/config.yaml", "--log-level=info"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": f"APP_SETTING_{i}", "value": f"value-{i}-" + "x" * 24}
                for i in range(env_count)]
        + [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"cpu": "1", "memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080},
                           "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                          "periodSeconds": 20},
        "volumeMounts": [{"name": f"data-{i}", "mountPath": f"/var/lib/app/{i}"}
                         for i in range(mounts)]
        + [{"name": "kube-api-access-abcde", "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False},
    }


def make_pod(containers, env_count, mounts, labels):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "payments-api-7d9f8b6c5-",
            "namespace": "payments",
            "labels": {"app.kubernetes.io/name": "payments-api",
                       "pod-template-hash": "7d9f8b6c5",
                       **{f"team.example.com/label-{i}": f"value-{i}" for i in range(labels)}},
            "annotations": {"kubectl.kubernetes.io/default-container": "app"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "payments-api-7d9f8b6c5",
                                 "uid": "4b1f0a3e-5c7d-4e8f-9a0b-1c2d3e4f5a6b",
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "serviceAccountName": "payments-api",
            "initContainers": [container("migrate", "registry.example.com/payments/migrate:1.4.2",
                                         2, 0)],
            "containers": [container("app" if i == 0 else f"sidecar-{i}",
                                     f"registry.example.com/payments/app:{i}.2.3", env_count,
                                     mounts) for i in range(containers)],
            "volumes": [{"name": f"data-{i}", "emptyDir": {}} for i in range(mounts)]
            + [{"name": "kube-api-access-abcde", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    }


def make_review(pod):
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "payments",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                         "uid": "a1b2c3d4", "groups": ["system:serviceaccounts",
                                                       "system:authenticated"]},
            "object": pod,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def review_bodies(work):
    """~2 KB (one container) and ~10 KB (three containers, more env and mounts)."""
    small = json.dumps(make_review(make_pod(1, 3, 1, 2)), separators=(",", ":"))
    large = json.dumps(make_review(make_pod(3, 20, 4, 12)), separators=(",", ":"))
    paths = {}
    for name, text in (("2KB", small), ("10KB", large)):
        path = os.path.join(work, f"review-{name}.json")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        paths[name] = (path, len(text))
    return paths


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def status_kb(pid, key):
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_healthy(port, ca, process, deadline=20.0):
    context = ssl.create_default_context(cafile=ca)
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


def run_wrk(port, body, connections, duration, delay_ms=0):
    env = dict(os.environ, BENCH_BODY=body, BENCH_DELAY_MS=str(delay_ms))
    threads = max(1, min(2, connections))
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
               "--timeout", "10s", "-s", os.path.join(HERE, "wrk_review.lua"),
               f"https://127.0.0.1:{port}/mutate"]
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=duration + 60, check=False)
    match = re.search(r"BENCH_RESULT (\{.*\})", done.stdout)
    if not match:
        raise RuntimeError("wrk printed no result:\n" + done.stdout + done.stderr)
    result = json.loads(match.group(1))
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def measure(pid, port, body, connections, duration, delay_ms=0):
    before = cpu_seconds(pid)
    result = run_wrk(port, body, connections, duration, delay_ms)
    used = cpu_seconds(pid) - before
    result["cpu_per_10k"] = used / max(1, result["requests"]) * 10000
    return result


def idle_connections_cpu(port, count=1000, seconds=5.0, pid=None):
    """Opens `count` TLS keep-alive connections, makes one request on each,
    leaves them idle, and returns the server's CPU seconds over `seconds`."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    held = []
    try:
        for _ in range(count):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            conn = context.wrap_socket(raw, server_hostname="127.0.0.1")
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.recv(256)
            held.append(conn)
        time.sleep(0.5)
        before = cpu_seconds(pid)
        time.sleep(seconds)
        return cpu_seconds(pid) - before, len(held)
    finally:
        for conn in held:
            conn.close()


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def ms(us):
    return f"{us / 1000:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=os.path.join(SOURCE, "build", "irsa-webhook"))
    parser.add_argument("--ceiling", default=os.path.join(SOURCE, "build", "bench",
                                                          "httplib_ceiling"))
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,16,64,256")
    parser.add_argument("--paced-rate", type=int, default=5000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    raise_nofile()
    connection_counts = [int(c) for c in args.connections.split(",")]

    work = tempfile.mkdtemp(prefix="irsa-bench-")
    processes = []
    try:
        certs = os.path.join(work, "certs")
        subprocess.run([os.path.join(SOURCE, "certs", "gen-dev-certs.sh"), certs], check=True,
                       capture_output=True, timeout=60)
        ca, cert, key = (os.path.join(certs, n) for n in ("ca.crt", "tls.crt", "tls.key"))
        accounts = os.path.join(work, "service-accounts.yaml")
        with open(accounts, "w", encoding="utf-8") as handle:
            handle.write("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n"
                         "  name: payments-api\n  namespace: payments\n  annotations:\n"
                         f"    eks.amazonaws.com/role-arn: {ROLE_ARN}\n")
        bodies = review_bodies(work)

        port = free_port()
        webhook = subprocess.Popen(
            [args.binary, "--port", str(port), "--bind-address", "127.0.0.1",
             "--metrics-port", "0", "--tls-cert", cert, "--tls-key", key,
             "--service-accounts-file", accounts, "--in-cluster=false",
             "--aws-default-region", "us-east-1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(webhook)
        wait_healthy(port, ca, webhook)

        # The ceiling answers with what the webhook answers for the 2 KB Pod.
        context = ssl.create_default_context(cafile=ca)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                body = open(bodies["2KB"][0], "rb").read()
                conn.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                             b"\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode()
                             + b"\r\n\r\n" + body)
                answer = b""
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
        fixed = os.path.join(work, "fixed-answer.json")
        with open(fixed, "wb") as handle:
            handle.write(answer.split(b"\r\n\r\n", 1)[1])
        if b'"patch"' not in answer:
            raise RuntimeError("the review was not mutated: " + answer.decode(errors="replace"))

        rows = []
        for name, (path, size) in bodies.items():
            for connections in connection_counts:
                result = measure(webhook.pid, port, path, connections, args.duration)
                rows.append(("irsa-webhook", f"{name} ({size} B)", connections, result))
                print(f"  irsa-webhook {name} c={connections}: {result['rate']:.0f}/s",
                      file=sys.stderr)
        delay = max(0.0, 16 / args.paced_rate * 1000)
        paced = measure(webhook.pid, port, bodies["2KB"][0], 16, args.duration, delay_ms=delay)
        idle_cpu, held = idle_connections_cpu(port, 1000, 5.0, webhook.pid)
        peak_rss_kb = status_kb(webhook.pid, "VmHWM")
        threads = status_kb(webhook.pid, "Threads")

        ceiling_rows = []
        ceiling_idle = None
        if os.path.exists(args.ceiling):
            ceiling_port = free_port()
            ceiling = subprocess.Popen([args.ceiling, str(ceiling_port), cert, key, fixed,
                                        str(max(connection_counts) + 16)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(ceiling)
            wait_healthy(ceiling_port, ca, ceiling)
            for connections in connection_counts:
                result = measure(ceiling.pid, ceiling_port, bodies["2KB"][0], connections,
                                 args.duration)
                ceiling_rows.append(("httplib ceiling", "2KB (fixed reply)", connections, result))
                print(f"  ceiling c={connections}: {result['rate']:.0f}/s", file=sys.stderr)

        print(f"\nirsa-webhook load benchmark: wrk, TLS keep-alive, 127.0.0.1, "
              f"{os.cpu_count()} CPUs shared by server and client, {args.duration}s per run\n")
        print("| server | review | conns | reviews/s | p50 ms | p99 ms | p99.9 ms | errors |"
              " CPU s / 10k |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for server, review, connections, r in rows + ceiling_rows:
            print(f"| {server} | {review} | {connections} | {r['rate']:.0f} | {ms(r['p50_us'])} |"
                  f" {ms(r['p99_us'])} | {ms(r['p999_us'])} | {r['errors']} |"
                  f" {r['cpu_per_10k']:.2f} |")
        print(f"\npaced (2 KB, 16 connections, {delay:.1f} ms between replies per connection): "
              f"{paced['rate']:.0f} reviews/s, p50 {ms(paced['p50_us'])} ms, "
              f"p99 {ms(paced['p99_us'])} ms, p99.9 {ms(paced['p999_us'])} ms, "
              f"errors {paced['errors']}")
        print(f"irsa-webhook peak RSS (VmHWM): {peak_rss_kb / 1024:.1f} MiB; threads at the end: "
              f"{threads}")
        print(f"{held} idle keep-alive connections held: {idle_cpu:.3f} CPU s over 5 s")
        for connections in connection_counts:
            ours = [r for s, n, c, r in rows if n.startswith("2KB") and c == connections]
            base = [r for s, n, c, r in ceiling_rows if c == connections]
            if ours and base:
                print(f"ratio to the framework ceiling at {connections} connections (2 KB): "
                      f"{ours[0]['rate'] / base[0]['rate'] * 100:.0f} %")
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
