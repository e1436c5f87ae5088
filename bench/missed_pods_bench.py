#!/usr/bin/env python3
"""What the missed-Pod sweep (--report-missed-pods-interval) costs a review:
the real binary reading ServiceAccounts from the fake API server, which holds
a large cluster's Pods (bench/cluster_audit.py's, about 4 KB each, every 20th
namespace with missed Pods), driven by wrk with DESIGN's 4.4 KB review,
without the flag and with it at 1s (the sweep lists every Pod again as soon
as it is done: the worst case), interleaved, in the same run.

    bench/missed_pods_bench.py --binary build/irsa-webhook [--pods 20000]
        [--namespaces 2000] [--duration 10] [--connections 16,64] [--rounds 2]

Prints reviews/s and p99 per mode and connection count, and how many sweeps
completed (and Events were posted) during the runs. Every wait is bounded.
"""

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_audit  # noqa: E402
import harness  # noqa: E402
import reviews  # noqa: E402

DEADLINE = 60.0


def metric(port, name, **labels):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    key = f"{name}{{{want}}}" if want else name
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="build/irsa-webhook")
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="16,64")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    fake_binary = os.path.join(os.path.dirname(binary), "fake-apiserver")
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    work = tempfile.mkdtemp(prefix="missed-pods-bench-")
    fake = None
    try:
        pki = os.path.join(work, "pki")
        os.makedirs(pki)
        subprocess.run([fake_binary, "--write-pki", pki], check=True, capture_output=True, timeout=60)
        port = harness.free_port()
        ready = os.path.join(work, "ready")
        fake_log = open(os.path.join(work, "fake.log"), "w", encoding="utf-8")
        fake = subprocess.Popen([fake_binary, "--tls-cert", os.path.join(pki, "server.crt"),
                                 "--tls-key", os.path.join(pki, "server.key"), "--port", str(port),
                                 "--token", cluster_audit.TOKEN, "--ready-file", ready],
                                stdout=fake_log, stderr=subprocess.STDOUT)
        end = time.monotonic() + DEADLINE
        while not os.path.exists(ready) and time.monotonic() < end and fake.poll() is None:
            time.sleep(0.05)
        with open(ready, encoding="utf-8") as handle:
            admin_port = json.load(handle)["admin_port"]
        batch, expected = [], None
        for ns, role, objects, expected in cluster_audit.generate(args.pods, args.namespaces):
            cluster_audit.admin(admin_port, "POST", "/serviceaccounts", {
                "namespace": ns, "name": "app", "annotations": {"eks.amazonaws.com/role-arn": role}})
            cluster_audit.admin(admin_port, "POST", "/serviceaccounts", {"namespace": ns, "name": "db"})
            batch += objects
            if len(batch) >= 400:
                cluster_audit.admin(admin_port, "POST", "/objects", {"objects": batch})
                batch = []
        if batch:
            cluster_audit.admin(admin_port, "POST", "/objects", {"objects": batch})
        cluster_audit.admin(admin_port, "POST", "/serviceaccounts", {
            "namespace": "payments", "name": "payments-api",
            "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/payments"}})
        print(f"fake API server: {expected['pods']} Pods ({expected['missed']} missed) in "
              f"{args.namespaces} namespaces")

        kubeconfig = os.path.join(work, "kubeconfig")
        with open(kubeconfig, "w", encoding="utf-8") as handle:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "bench",
                       "contexts": [{"name": "bench", "context": {"cluster": "fake", "user": "bench"}}],
                       "clusters": [{"name": "fake", "cluster": {
                           "server": f"https://127.0.0.1:{port}",
                           "certificate-authority": os.path.join(pki, "ca.crt")}}],
                       "users": [{"name": "bench", "user": {"token": cluster_audit.TOKEN}}]}, handle)
        ca, cert, key = harness.dev_certs(work)
        body_path = os.path.join(work, "review.json")
        with open(body_path, "w", encoding="utf-8") as handle:
            handle.write(reviews.reference_review())

        connections = [int(c) for c in args.connections.split(",")]
        results = {}
        totals = {"sweeps": 0.0, "events": 0.0}
        for round_index in range(args.rounds):
            for mode in ("off", "1s"):
                metrics_port = harness.free_port()
                log_path = os.path.join(work, f"webhook-{mode}-{round_index}.log")
                command = [binary, "--bind-address", "127.0.0.1", "--metrics-port", str(metrics_port),
                           "--tls-cert", cert, "--tls-key", key, "--kubeconfig", kubeconfig,
                           "--in-cluster=false", "--aws-default-region", "us-east-1"]
                webhook_port = harness.free_port()
                command += ["--port", str(webhook_port)]
                if mode != "off":
                    command += ["--report-missed-pods-interval", mode]
                with open(log_path, "wb") as log:
                    webhook = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL)
                try:
                    harness.wait_healthy(webhook_port, ca, webhook)
                    if mode != "off":
                        # Measure while sweeps run: wait for the first one.
                        end = time.monotonic() + DEADLINE
                        while (metric(metrics_port, "irsa_webhook_missed_pods_sweeps_total",
                                      result="ok") < 1 and time.monotonic() < end):
                            time.sleep(0.1)
                    before = metric(metrics_port, "irsa_webhook_missed_pods_sweeps_total", result="ok")
                    for count in connections:
                        result = harness.run_wrk(f"https://127.0.0.1:{webhook_port}/mutate", body_path,
                                                 count, args.duration)
                        results.setdefault((mode, count), []).append(result)
                    if mode != "off":
                        totals["sweeps"] += metric(metrics_port, "irsa_webhook_missed_pods_sweeps_total",
                                                   result="ok") - before
                        totals["events"] = metric(metrics_port, "irsa_webhook_missed_pods_events_total",
                                                  result="posted") + metric(
                            metrics_port, "irsa_webhook_missed_pods_events_total", result="exists")
                except Exception:
                    harness.print_log_tail(log_path)
                    raise
                finally:
                    harness.stop(webhook)

        print(f"\n{'mode':<22} {'conns':>5} {'reviews/s':>10} {'p50 ms':>8} {'p99 ms':>8}  (best of "
              f"{args.rounds} rounds, {args.duration} s each)")
        for count in connections:
            for mode in ("off", "1s"):
                runs = results[(mode, count)]
                best = max(runs, key=lambda r: r["rate"])
                label = "no sweep" if mode == "off" else "sweep every 1s"
                print(f"{label:<22} {count:>5} {best['rate']:>10.0f} {harness.ms(best['p50_us']):>8} "
                      f"{harness.ms(best['p99_us']):>8}")
        print(f"\nsweeps completed during the measured runs: {totals['sweeps']:.0f}; "
              f"Events posted or found (last round): {totals['events']:.0f}")
        print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")
    finally:
        if fake is not None:
            harness.stop(fake)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
