#!/usr/bin/env python3
"""Soak test of the real binary: a steady stream of AdmissionReviews over TLS
keep-alive while everything around the webhook moves. Run by hand, not in CI.

For SOAK_MINUTES (default 30):
- SOAK_RATE reviews/s (default 2,000) from SOAK_CONNECTIONS keep-alive
  connections (default 64), each its own client thread with http.client
  over ssl, spread over SOAK_PROCESSES processes (default 4) so that
  Python's GIL is not the limit;
- tests/fakes' fake-apiserver (the webhook's --kubeconfig points at it)
  creates, re-annotates and deletes 10 ServiceAccounts per second, restarts
  every 5 minutes (SOAK_RESTART_EVERY seconds), and answers one watch with
  410 Gone (history expired and watches dropped, at SOAK_GONE_AT=90 s);
- the serving certificate is rotated every 2 minutes (SOAK_ROTATE_EVERY; a
  new key and certificate from the same CA, swapped in as a Kubernetes
  Secret volume does: one atomic rename of the ..data symlink), and a new
  connection must then be served the new certificate.

Prints per minute: reviews sent, failed (no answer, not HTTP 200, not a
review of the same uid), wrong (a sample of the reviews of stable
ServiceAccounts compared with `irsa-webhook mutate` of the same Pod and
ServiceAccount), p50/p99/max latency; and RSS and open fds of the webhook at
start and end. Exit status 1 when any review failed or was wrong.

    bench/soak/soak.py [--binary build/irsa-webhook] [--fake build/fake-apiserver]
    SOAK_MINUTES=3 bench/soak/soak.py

Python standard library only. Every wait is bounded; every process it starts
is stopped on exit.
"""

import argparse
import array
import base64
import http.client
import json
import multiprocessing
import os
import queue
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
PREFIX = "eks.amazonaws.com"
STABLE_NAMESPACE = "soak"
CHURN_NAMESPACE = "soak-churn"
STABLE_ACCOUNTS = 100
TOKEN = "soak-token"
REGION = "us-east-1"

# Churn schedule, the same in every process (from the shared start time):
# ServiceAccount churn-K is created at K * CHURN_PERIOD, re-annotated
# CHURN_STEP later and deleted 2 * CHURN_STEP later: 3 changes each, 10/s.
CHURN_PERIOD = 0.3
CHURN_STEP = 5.0
CHURN_MARGIN = 1.0  # reviews only for churned accounts that have existed this long


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_int(name, default):
    return int(os.environ.get(name, default))


def wait_for(predicate, deadline_seconds, what):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


# --- the Pod and its expected mutation ----------------------------------------

def stable_annotations(index):
    annotations = {f"{PREFIX}/role-arn": f"arn:aws:iam::111122223333:role/soak-{index}"}
    if index % 3 == 1:
        annotations[f"{PREFIX}/sts-regional-endpoints"] = "true"
    if index % 5 == 2:
        annotations[f"{PREFIX}/token-expiration"] = "3600"
    if index % 7 == 3:
        annotations[f"{PREFIX}/audience"] = "custom.example.com"
    return annotations


def pod(service_account, namespace):
    """A Pod of about 4 KB with 2 containers and 1 init container."""
    def container(name, image):
        return {
            "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
            "command": ["/bin/server", "--config", "/etc/app/config.yaml"],
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "AWS_ACCESS_KEY_ID",
                     "valueFrom": {"secretKeyRef": {"name": "legacy-keys", "key": "id"}}}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"memory": "256Mi"}},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"},
                             {"name": "kube-api-access", "readOnly": True,
                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5},
            "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                "capabilities": {"drop": ["ALL"]}},
        }
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "payments-7d9f8b6c5-", "namespace": namespace,
                     "labels": {"app": "payments", "pod-template-hash": "7d9f8b6c5"},
                     "annotations": {"kubectl.kubernetes.io/default-container": "app"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": "payments-7d9f8b6c5", "controller": True,
                                          "uid": "6a3d1c2e-5b4f-4e3d-8c2b-1a0f9e8d7c6b"}]},
        "spec": {
            "serviceAccountName": service_account,
            "initContainers": [container("migrate", "registry.example.com/payments-migrate:1.4.2")],
            "containers": [container("app", "registry.example.com/payments:1.4.2"),
                           container("proxy", "registry.example.com/envoy:1.29")],
            "volumes": [{"name": "config", "configMap": {"name": "payments-config"}},
                        {"name": "kube-api-access", "projected": {"sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt",
                                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
        },
    }


def review_body(service_account, namespace, uid):
    return json.dumps({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "resource": {"group": "", "version": "v1", "resource": "pods"},
                    "namespace": namespace, "operation": "CREATE",
                    "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
                    "object": pod(service_account, namespace), "dryRun": False},
    }, separators=(",", ":")).encode()


def expected_patches(binary, work, webhook_flags):
    """`irsa-webhook mutate` of each stable ServiceAccount's Pod: the reference."""
    expected = {}
    for index in range(STABLE_ACCOUNTS):
        name = f"app-{index}"
        pod_file = os.path.join(work, "expected-pod.json")
        sa_file = os.path.join(work, "expected-sa.json")
        with open(pod_file, "w", encoding="utf-8") as handle:
            json.dump(pod(name, STABLE_NAMESPACE), handle)
        with open(sa_file, "w", encoding="utf-8") as handle:
            json.dump({"apiVersion": "v1", "kind": "ServiceAccount",
                       "metadata": {"name": name, "namespace": STABLE_NAMESPACE,
                                    "annotations": stable_annotations(index)}}, handle)
        done = subprocess.run([binary, "mutate", "--pod", pod_file, "--service-account", sa_file,
                               "--output", "patch", *webhook_flags],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"mutate failed ({done.returncode}): {done.stderr}")
        expected[name] = json.loads(done.stdout)
    return expected


# --- the load: client processes, each with threads ------------------------------

def live_churn_accounts(start, now):
    """Churned ServiceAccounts that exist now with margin on both sides."""
    elapsed = now - start
    newest = int((elapsed - CHURN_MARGIN) / CHURN_PERIOD)
    oldest = int((elapsed - 2 * CHURN_STEP + CHURN_MARGIN) / CHURN_PERIOD) + 1
    return max(0, oldest), newest


def client_thread(args, process_index, thread_index, start, stop_at, rate, results, expected):
    context = ssl.create_default_context(cafile=args["ca"])
    rng = random.Random(process_index * 1000 + thread_index)
    interval = 1.0 / rate
    next_send = start + rng.random() * interval
    connection = None
    count = 0
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        if now < next_send:
            time.sleep(min(next_send - now, stop_at - now))
            continue
        # Behind schedule: send now, and do not burst to catch up.
        next_send = max(next_send + interval, now)
        count += 1
        uid = f"soak-{process_index}-{thread_index}-{count}"
        churn = rng.random() < 0.1
        if churn:
            oldest, newest = live_churn_accounts(args["wall_start"], time.time())
            if newest < oldest:
                churn = False
        if churn:
            name, namespace = f"churn-{rng.randint(oldest, newest)}", CHURN_NAMESPACE
        else:
            name, namespace = f"app-{rng.randrange(STABLE_ACCOUNTS)}", STABLE_NAMESPACE
        body = review_body(name, namespace, uid)
        minute = int((time.monotonic() - start) // 60)
        bucket = results.setdefault(minute, {"sent": 0, "failed": 0, "wrong": 0, "checked": 0,
                                             "latency": array.array("d"), "errors": []})
        bucket["sent"] += 1
        sent_at = time.monotonic()
        try:
            if connection is None:
                connection = http.client.HTTPSConnection("127.0.0.1", args["port"],
                                                         context=context, timeout=10)
            connection.request("POST", "/mutate?timeout=10s", body=body,
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = response.read()
            latency = (time.monotonic() - sent_at) * 1000
            bucket["latency"].append(latency)
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}: {answer[:200]!r}")
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = None
            review = json.loads(answer)["response"]
            if review.get("uid") != uid:
                raise ValueError(f"uid {review.get('uid')!r} for {uid}")
            if not review.get("allowed"):
                raise ValueError(f"denied: {review.get('status')}")
            if not churn and count % args["check_every"] == 0:
                bucket["checked"] += 1
                patch = json.loads(base64.b64decode(review["patch"])) if "patch" in review else []
                if patch != expected[name]:
                    bucket["wrong"] += 1
                    if len(bucket["errors"]) < 3:
                        bucket["errors"].append(f"wrong patch for {namespace}/{name}: {patch}")
        except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
            bucket["failed"] += 1
            if len(bucket["errors"]) < 3:
                bucket["errors"].append(f"{type(error).__name__}: {error}")
            if connection is not None:
                connection.close()
            connection = None
    if connection is not None:
        connection.close()


def client_process(args, process_index, connections, start_wall, out):
    expected = args["expected"]
    # Align the monotonic start with the shared wall-clock start.
    start = time.monotonic() + (start_wall - time.time())
    stop_at = start + args["minutes"] * 60
    rate = args["rate"] / args["connections"]
    per_thread = [dict() for _ in range(connections)]
    threads = [threading.Thread(target=client_thread,
                                args=(args, process_index, i, start, stop_at, rate,
                                      per_thread[i], expected))
               for i in range(connections)]
    for thread in threads:
        thread.start()
    reported = 0
    while any(thread.is_alive() for thread in threads):
        time.sleep(1)
        finished = int((time.monotonic() - start) // 60)
        while reported < finished:  # minute `reported` is complete
            out.put(("minute", reported, merge([r.get(reported) for r in per_thread])))
            reported += 1
    for thread in threads:
        thread.join()
    while reported < args["minutes"]:
        out.put(("minute", reported, merge([r.get(reported) for r in per_thread])))
        reported += 1
    out.put(("done", process_index, None))


def merge(buckets):
    total = {"sent": 0, "failed": 0, "wrong": 0, "checked": 0, "latency": array.array("d"),
             "errors": []}
    for bucket in buckets:
        if not bucket:
            continue
        for key in ("sent", "failed", "wrong", "checked"):
            total[key] += bucket[key]
        total["latency"].extend(bucket["latency"])
        total["errors"].extend(bucket["errors"][: max(0, 3 - len(total["errors"]))])
    return total


def percentile(values, fraction):
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(fraction * len(values)))]


# --- the moving parts: fake API server, churn, restarts, certificates -------------

class Fake:
    def __init__(self, binary, work):
        self.pki = os.path.join(work, "fake-pki")
        os.makedirs(self.pki)
        subprocess.run([binary, "--write-pki", self.pki], check=True, timeout=60,
                       capture_output=True)
        ready = os.path.join(work, "fake.ready")
        self.log = open(os.path.join(work, "fake.log"), "w", encoding="utf-8")
        self.process = subprocess.Popen(
            [binary, "--tls-cert", os.path.join(self.pki, "server.crt"),
             "--tls-key", os.path.join(self.pki, "server.key"), "--token", TOKEN,
             "--ready-file", ready, "--bookmark-interval-ms", "1000"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(ready), 20, "fake-apiserver")
        with open(ready, encoding="utf-8") as handle:
            info = json.load(handle)
        self.port, self.admin = info["port"], info["admin_port"]

    def call(self, method, path, body=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.admin}{path}", method=method,
            data=json.dumps(body or {}).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


class Certificates:
    """The webhook's serving certificate in a Secret-volume layout."""

    def __init__(self, work):
        self.dir = os.path.join(work, "certs")
        subprocess.run([os.path.join(SOURCE, "certs", "gen-dev-certs.sh"), self.dir],
                       check=True, capture_output=True, timeout=120)
        self.ca, self.ca_key = os.path.join(self.dir, "ca.crt"), os.path.join(self.dir, "ca.key")
        self.live = os.path.join(work, "secret-volume")
        os.makedirs(self.live)
        self.generation = 0
        self.rotate()
        for name in ("tls.crt", "tls.key"):
            os.symlink(os.path.join("..data", name), os.path.join(self.live, name))
        self.cert, self.key = (os.path.join(self.live, n) for n in ("tls.crt", "tls.key"))

    def rotate(self):
        self.generation += 1
        target = os.path.join(self.live, f"..{self.generation}")
        os.makedirs(target)
        key, csr, crt = (os.path.join(target, n) for n in ("tls.key", "tls.csr", "tls.crt"))
        extensions = os.path.join(target, "ext.cnf")
        with open(extensions, "w", encoding="utf-8") as handle:
            handle.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                         "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n")
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                        "-subj", f"/CN=irsa-webhook-soak-{self.generation}"],
                       check=True, capture_output=True, timeout=60)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
                        self.ca_key, "-CAcreateserial", "-days", "2", "-out", crt,
                        "-extfile", extensions], check=True, capture_output=True, timeout=60)
        link = os.path.join(self.live, "..data_tmp")
        os.symlink(os.path.basename(target), link)
        os.replace(link, os.path.join(self.live, "..data"))  # the atomic swap
        self.current = crt
        if self.generation > 2:
            shutil.rmtree(os.path.join(self.live, f"..{self.generation - 2}"), ignore_errors=True)


    def current_der(self):
        with open(self.current, encoding="ascii") as handle:
            return ssl.PEM_cert_to_DER_cert(handle.read())


def process_stats(pid):
    with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
        rss = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
    return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def served_certificate(port, ca):
    """The DER certificate a new TLS connection to the webhook gets."""
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            return conn.getpeercert(binary_form=True)


def background(stop, events, fake, certs, start_wall, minutes, port):
    """Churn, restarts, the 410 and rotations, on the shared schedule."""
    done = [0, 0, 0]  # accounts created, re-annotated, deleted so far
    restart_every = env_int("SOAK_RESTART_EVERY", 300)
    rotate_every = env_int("SOAK_ROTATE_EVERY", 120)
    next_restart = start_wall + restart_every
    next_rotation = start_wall + rotate_every
    gone_at = start_wall + env_int("SOAK_GONE_AT", 90)
    verify_at = None
    end = start_wall + minutes * 60
    while not stop.is_set() and time.time() < end:
        now = time.time()
        elapsed = now - start_wall
        try:
            # Every change due by now: step s of account k is due at
            # k * CHURN_PERIOD + s * CHURN_STEP.
            for step in range(3):
                while done[step] * CHURN_PERIOD + step * CHURN_STEP <= elapsed:
                    name = f"churn-{done[step]}"
                    if step == 0:
                        fake.call("POST", "/serviceaccounts", {
                            "namespace": CHURN_NAMESPACE, "name": name,
                            "annotations": {f"{PREFIX}/role-arn": f"arn:aws:iam::1:role/{name}"}})
                    elif step == 1:
                        fake.call("POST", "/serviceaccounts", {
                            "namespace": CHURN_NAMESPACE, "name": name,
                            "annotations": {f"{PREFIX}/role-arn": f"arn:aws:iam::1:role/{name}-2",
                                            f"{PREFIX}/sts-regional-endpoints": "true"}})
                    else:
                        fake.call("DELETE", f"/serviceaccounts/{CHURN_NAMESPACE}/{name}")
                    events["churn"] += 1
                    done[step] += 1
            if gone_at and now >= gone_at:
                fake.call("POST", "/expire")
                fake.call("POST", "/drop-watches")
                events["gone"] += 1
                gone_at = None
            if now >= next_restart:
                fake.call("POST", "/restart", {"down_ms": 1000})
                events["restarts"] += 1
                next_restart += restart_every
            if now >= next_rotation:
                certs.rotate()
                events["rotations"] += 1
                next_rotation += rotate_every
                verify_at = now + 5
            if verify_at and now >= verify_at:
                # A new connection gets the new certificate (the reloader polls every second).
                verify_at = None
                if served_certificate(port, certs.ca) == certs.current_der():
                    events["rotations_served"] += 1
        except (OSError, ValueError, ssl.SSLError, subprocess.SubprocessError) as error:
            events["background_errors"] += 1
            events["last_background_error"] = str(error)
        stop.wait(0.02)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=os.path.join(SOURCE, "build", "irsa-webhook"))
    parser.add_argument("--fake", default=os.path.join(SOURCE, "build", "fake-apiserver"))
    args = parser.parse_args()
    minutes = env_int("SOAK_MINUTES", 30)
    rate = env_int("SOAK_RATE", 2000)
    connections = env_int("SOAK_CONNECTIONS", 64)
    processes = max(1, min(env_int("SOAK_PROCESSES", 4), connections))
    for path in (args.binary, args.fake):
        if not os.access(path, os.X_OK):
            sys.exit(f"soak: {path} not found; build it first (make build)")

    work = tempfile.mkdtemp(prefix="irsa-soak-")
    children = []
    webhook = fake = None
    try:
        fake = Fake(args.fake, work)
        # 100 stable ServiceAccounts with a role; the churned ones come and go.
        for index in range(STABLE_ACCOUNTS):
            fake.call("POST", "/serviceaccounts", {"namespace": STABLE_NAMESPACE,
                                                   "name": f"app-{index}",
                                                   "annotations": stable_annotations(index)})
        fake.call("POST", "/generate", {"count": 5000, "namespaces": 50, "annotated_every": 10,
                                        "prefix": PREFIX})
        certs = Certificates(work)
        kubeconfig = os.path.join(work, "kubeconfig")
        with open(kubeconfig, "w", encoding="utf-8") as handle:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "soak",
                       "contexts": [{"name": "soak", "context": {"cluster": "fake", "user": "u"}}],
                       "clusters": [{"name": "fake", "cluster": {
                           "server": f"https://127.0.0.1:{fake.port}",
                           "certificate-authority": os.path.join(fake.pki, "ca.crt")}}],
                       "users": [{"name": "u", "user": {"token": TOKEN}}]}, handle)
        webhook_flags = ["--aws-default-region", REGION]
        expected = expected_patches(args.binary, work, webhook_flags)

        port = free_port()
        webhook_log = open(os.path.join(work, "webhook.log"), "w", encoding="utf-8")
        webhook = subprocess.Popen(
            [args.binary, "--bind-address", "127.0.0.1", "--port", str(port), "--metrics-port",
             "0", "--tls-cert", certs.cert, "--tls-key", certs.key, "--kubeconfig", kubeconfig,
             "--in-cluster=false", *webhook_flags],
            stdout=webhook_log, stderr=subprocess.STDOUT)
        context = ssl.create_default_context(cafile=certs.ca)

        def ready():
            if webhook.poll() is not None:
                raise RuntimeError("irsa-webhook exited; see " + webhook_log.name)
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=2)
            try:
                connection.request("GET", "/readyz")
                return connection.getresponse().status == 200
            finally:
                connection.close()
        wait_for(ready, 60, "irsa-webhook /readyz")
        rss_start, fds_start = process_stats(webhook.pid)

        print(f"soak: {minutes} min, {rate} reviews/s over {connections} connections "
              f"({processes} processes); churn 10 ServiceAccount changes/s, API server restart "
              f"every {env_int('SOAK_RESTART_EVERY', 300)} s, one 410 Gone at "
              f"{env_int('SOAK_GONE_AT', 90)} s, certificate rotation every "
              f"{env_int('SOAK_ROTATE_EVERY', 120)} s; work {work}", flush=True)
        start_wall = time.time() + 2
        shared = {"port": port, "ca": certs.ca, "rate": rate, "connections": connections,
                  "minutes": minutes, "expected": expected, "check_every": 20,
                  "wall_start": start_wall}
        out = multiprocessing.Queue()
        per_process = [connections // processes + (1 if i < connections % processes else 0)
                       for i in range(processes)]
        for index, count in enumerate(per_process):
            child = multiprocessing.Process(target=client_process,
                                            args=(shared, index, count, start_wall, out))
            child.start()
            children.append(child)

        stop = threading.Event()
        events = {"churn": 0, "gone": 0, "restarts": 0, "rotations": 0, "rotations_served": 0,
                  "background_errors": 0}
        mover = threading.Thread(target=background,
                                 args=(stop, events, fake, certs, start_wall, minutes, port))
        mover.start()

        minutes_seen = {}
        done = 0
        totals = {"sent": 0, "failed": 0, "wrong": 0, "checked": 0}
        max_latency = 0.0
        print(f"{'minute':>6} {'sent':>8} {'rate/s':>7} {'failed':>7} {'wrong':>6} {'checked':>8} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'RSS MiB':>8} {'fds':>5}", flush=True)
        deadline = time.time() + minutes * 60 + 120
        while done < processes:
            try:
                kind, key, data = out.get(timeout=max(1, deadline - time.time()))
            except queue.Empty:
                raise RuntimeError("client processes did not report in time")
            if kind == "done":
                done += 1
                continue
            minutes_seen.setdefault(key, []).append(data)
            if len(minutes_seen[key]) == processes:
                merged = merge(minutes_seen.pop(key))
                latencies = sorted(merged["latency"])
                for name in totals:
                    totals[name] += merged[name]
                peak = latencies[-1] if latencies else float("nan")
                if latencies:
                    max_latency = max(max_latency, peak)
                rss, fds = process_stats(webhook.pid) if webhook.poll() is None else (0, 0)
                print(f"{key + 1:>6} {merged['sent']:>8} {merged['sent'] / 60:>7.0f} "
                      f"{merged['failed']:>7} {merged['wrong']:>6} {merged['checked']:>8} "
                      f"{percentile(latencies, 0.5):>7.2f} {percentile(latencies, 0.99):>7.2f} "
                      f"{peak:>8.1f} {rss:>8.1f} {fds:>5}", flush=True)
                for error in merged["errors"]:
                    print(f"       {error}", flush=True)
        stop.set()
        mover.join(timeout=30)
        for child in children:
            child.join(timeout=30)
        alive = webhook.poll() is None
        rss_end, fds_end = process_stats(webhook.pid) if alive else (0, 0)
        print(f"\nreviews sent {totals['sent']}, failed {totals['failed']}, wrong "
              f"{totals['wrong']} (of {totals['checked']} compared with `irsa-webhook mutate`), "
              f"max latency {max_latency:.1f} ms")
        print(f"ServiceAccount changes {events['churn']}, API server restarts "
              f"{events['restarts']}, 410 Gone {events['gone']}, certificate rotations "
              f"{events['rotations']} ({events['rotations_served']} seen served on a new "
              f"connection), background errors {events['background_errors']}"
              + (f" (last: {events.get('last_background_error')})"
                 if events["background_errors"] else ""))
        print(f"webhook RSS {rss_start:.1f} MiB -> {rss_end:.1f} MiB, open fds {fds_start} -> "
              f"{fds_end}, {'still running' if alive else 'EXITED'}")
        failed = (totals["failed"] or totals["wrong"] or not alive
                  or events["rotations_served"] != events["rotations"])
        return 1 if failed else 0
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join(timeout=10)
        if webhook is not None and webhook.poll() is None:
            webhook.send_signal(signal.SIGTERM)
            try:
                webhook.wait(timeout=20)
            except subprocess.TimeoutExpired:
                webhook.kill()
                webhook.wait(timeout=10)
        if fake is not None:
            fake.stop()
        if os.environ.get("SOAK_KEEP_WORK"):
            print(f"soak: work kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
