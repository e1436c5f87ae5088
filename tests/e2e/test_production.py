"""What a cluster leans on, against the real binary over real TLS on
127.0.0.1: certificate reload under load, a thousand idle connections,
timeouts on slow clients, graceful SIGTERM, metrics, TLS settings. Every
wait is bounded."""

import hashlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

from webhook_fixture import (BINARY, SOURCE, STOP_DEADLINE, WebhookTestCase, free_port, pod,
                             review, service_account, service_accounts)

SERVICE_ACCOUNTS = service_accounts(service_account("s3-reader", role="s3-reader"), service_account("plain"),
                                    service_account("pod-identity"))


def raise_open_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fingerprint_of_file(path):
    with open(path, encoding="ascii") as handle:
        der = ssl.PEM_cert_to_DER_cert(handle.read())
    return hashlib.sha256(der).hexdigest()


def parse_metrics(text):
    """{'name{label="v",...}': value} with labels sorted, comments dropped."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        match = re.match(r"([^{]+)(?:\{(.*)\})?$", key)
        name, labels = match.group(1), match.group(2)
        if labels:
            pairs = sorted(re.findall(r'(\w+)="([^"]*)"', labels))
            key = name + "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"
        values[key] = float(value)
    return values


class Production(WebhookTestCase):
    SERVICE_ACCOUNTS = SERVICE_ACCOUNTS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        raise_open_files()
        # A second serving certificate from the same CA, for the reload test.
        cls.renewed = os.path.join(cls.tmp.name, "renewed")
        os.makedirs(cls.renewed)
        for name in ("ca.crt", "ca.key"):
            shutil.copy(os.path.join(cls.certs, name), cls.renewed)
        subprocess.run([os.path.join(SOURCE, "certs", "gen-dev-certs.sh"), cls.renewed],
                       check=True, capture_output=True, timeout=60)

    # --- helpers ---------------------------------------------------------

    def start_with_metrics(self, *extra):
        self.metrics_port = free_port()
        self.start("--metrics-port", str(self.metrics_port), *extra)

    def metrics(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=5)
        try:
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            self.assertEqual(response.status, 200)
            self.assertTrue(response.getheader("Content-Type").startswith("text/plain"))
            return parse_metrics(response.read().decode())
        finally:
            connection.close()

    def tls_connect(self, timeout=5.0, context=None):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return (context or self.tls).wrap_socket(raw, server_hostname="127.0.0.1")

    def served_fingerprint(self):
        with self.tls_connect() as conn:
            return hashlib.sha256(conn.getpeercert(binary_form=True)).hexdigest()

    def wait_until(self, what, predicate, deadline=10.0):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if predicate():
                return
            time.sleep(0.05)
        self.fail(f"not within {deadline}s: {what}\n" + self.log())

    def secret_volume(self):
        """A Kubernetes Secret volume: tls.crt -> ..data/tls.crt, ..data -> ..<version>."""
        volume = os.path.join(self.tmp.name, f"volume-{self.id().split('.')[-1]}")
        os.makedirs(volume)
        self.put_version(volume, "..v1", os.path.join(self.certs, "tls.crt"),
                         os.path.join(self.certs, "tls.key"))
        os.symlink("..v1", os.path.join(volume, "..data"))
        for name in ("tls.crt", "tls.key"):
            os.symlink(os.path.join("..data", name), os.path.join(volume, name))
        return volume

    @staticmethod
    def put_version(volume, version, cert, key):
        os.makedirs(os.path.join(volume, version))
        shutil.copy(cert, os.path.join(volume, version, "tls.crt"))
        shutil.copy(key, os.path.join(volume, version, "tls.key"))

    @staticmethod
    def swap_data(volume, version):
        """What the kubelet does: a new ..data symlink renamed over the old one."""
        staged = os.path.join(volume, "..data_tmp")
        os.symlink(version, staged)
        os.replace(staged, os.path.join(volume, "..data"))

    # --- tests -----------------------------------------------------------

    def test_certificate_swapped_under_load_is_served_without_a_failure(self):
        volume = self.secret_volume()
        self.start_with_metrics("--tls-cert", os.path.join(volume, "tls.crt"),
                                "--tls-key", os.path.join(volume, "tls.key"))
        old = fingerprint_of_file(os.path.join(self.certs, "tls.crt"))
        new = fingerprint_of_file(os.path.join(self.renewed, "tls.crt"))
        self.assertEqual(self.served_fingerprint(), old)
        body = json.dumps(review(pod())).encode()

        # One keep-alive connection made before the swap, used throughout.
        kept = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=10)
        kept.request("POST", "/mutate", body=body, headers={"Content-Type": "application/json"})
        first = kept.getresponse()
        first.read()
        self.assertEqual(first.status, 200)

        failures, seen, stop = [], set(), threading.Event()
        answered = [0]

        def loop():
            # New connections (each handshake picks the certificate in
            # service) and the kept connection, alternately; bounded by stop.
            for i in range(100000):
                if stop.is_set():
                    return
                try:
                    if i % 2:
                        kept.request("POST", "/mutate", body=body,
                                     headers={"Content-Type": "application/json"})
                        response = kept.getresponse()
                    else:
                        conn = http.client.HTTPSConnection("127.0.0.1", self.port,
                                                           context=self.tls, timeout=10)
                        conn.request("POST", "/mutate", body=body,
                                     headers={"Content-Type": "application/json"})
                        response = conn.getresponse()
                        seen.add(hashlib.sha256(conn.sock.getpeercert(True)).hexdigest())
                    if response.status != 200 or b'"patch"' not in response.read():
                        failures.append(f"status {response.status}")
                    answered[0] += 1
                    if not i % 2:
                        conn.close()
                except (OSError, http.client.HTTPException) as error:
                    failures.append(repr(error))

        client = threading.Thread(target=loop)
        client.start()
        try:
            self.wait_until("reviews answered before the swap", lambda: answered[0] >= 20)
            self.put_version(volume, "..v2", os.path.join(self.renewed, "tls.crt"),
                             os.path.join(self.renewed, "tls.key"))
            self.swap_data(volume, "..v2")
            self.wait_until("the new certificate is served", lambda: new in seen)
            after_swap = answered[0]
            self.wait_until("reviews answered after the swap",
                            lambda: answered[0] >= after_swap + 20)
        finally:
            stop.set()
            client.join(timeout=20)
        self.assertFalse(client.is_alive())
        self.assertEqual(failures, [])
        self.assertEqual(self.served_fingerprint(), new)
        # The connection made before the swap still has the old certificate.
        self.assertEqual(hashlib.sha256(kept.sock.getpeercert(True)).hexdigest(), old)
        kept.close()
        self.assertIn("TLS certificate reloaded", self.log())

        # A broken pair (the new certificate with the old key) keeps the
        # certificate in service, and says why.
        self.put_version(volume, "..v3", os.path.join(self.renewed, "tls.crt"),
                         os.path.join(self.certs, "tls.key"))
        self.swap_data(volume, "..v3")
        self.wait_until("the broken pair is reported",
                        lambda: "TLS certificate reload failed" in self.log())
        self.assertIn("does not match", self.log())
        self.assertEqual(self.served_fingerprint(), new)
        values = self.metrics()
        self.assertEqual(values['irsa_webhook_certificate_reloads_total{result="success"}'], 1)
        self.assertEqual(values['irsa_webhook_certificate_reloads_total{result="failure"}'], 1)

    def test_thousand_idle_connections_do_not_starve_a_new_one(self):
        if raise_open_files() < 1200:
            self.skipTest("needs 1,200 open files")
        # A connection's first request must come within --read-timeout of its
        # accept (10s by default): opening 1,000 takes longer than that on a
        # slow machine (ASan, load), and this test is about room, not that cut.
        self.start_with_metrics("--worker-threads", "4", "--read-timeout", "5m")
        held = []
        try:
            for i in range(1000):
                conn = self.tls_connect(timeout=10)
                if i % 10 == 0:  # some have served a request, some only shook hands
                    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    self.assertTrue(conn.recv(1024).startswith(b"HTTP/1.1 200"))
                held.append(conn)
            # The client's handshake can finish before the server has read its
            # last message and counted the connection: wait, bounded.
            self.wait_until("1000 open connections counted",
                            lambda: self.metrics()["irsa_webhook_open_connections"] == 1000,
                            deadline=60.0)
            began = time.monotonic()
            status, _, answer = self.request("POST", "/mutate", json.dumps(review(pod())).encode(),
                                             timeout=5.0)
            self.assertEqual(status, 200, answer)
            self.assertLess(time.monotonic() - began, 5.0)
            # The idle ones still serve.
            for conn in held[::100]:
                conn.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(conn.recv(1024).startswith(b"HTTP/1.1 200"))
        finally:
            for conn in held:
                conn.close()
        self.assertIsNone(self.process.poll())

    def test_a_stalled_request_is_cut_after_the_read_timeout(self):
        self.start("--read-timeout", "2s", "--metrics-port", "0")
        stalled = self.tls_connect(timeout=10)
        stalled.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 1000\r\n\r\n{\"apiVersion\":")
        silent = socket.create_connection(("127.0.0.1", self.port), timeout=10)  # no handshake
        began = time.monotonic()
        # Others are served meanwhile, promptly.
        for _ in range(10):
            t0 = time.monotonic()
            status, _, _ = self.request("POST", "/mutate", json.dumps(review(pod())).encode(),
                                        timeout=2.0)
            self.assertEqual(status, 200)
            self.assertLess(time.monotonic() - t0, 1.0)
        for conn, what in ((stalled, "half a request"), (silent, "no handshake")):
            received = b""
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    received += chunk
            except ConnectionResetError:
                pass
            elapsed = time.monotonic() - began
            self.assertGreater(elapsed, 1.5, what)
            self.assertLess(elapsed, 6.0, what)
            # At most a 4xx for the request that never completed; never a 200.
            self.assertFalse(received.startswith(b"HTTP/1.1 2"), received)
            conn.close()
        self.assertIsNone(self.process.poll())

    def test_sigterm_during_a_steady_stream_answers_every_accepted_review(self):
        self.start_with_metrics("--shutdown-delay", "1s", "--shutdown-grace", "6s")
        answered, failed, closing_seen = set(), [], []
        readiness, stop = [], threading.Event()
        terminated_at = []

        def client(number):
            connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls,
                                                     timeout=10)
            for i in range(100000):
                if stop.is_set():
                    return
                uid = f"c{number}-{i}"
                body = json.dumps(review(pod(), uid=uid)).encode()
                try:
                    connection.request("POST", "/mutate", body=body,
                                       headers={"Content-Type": "application/json"})
                    response = connection.getresponse()
                    answer = json.loads(response.read())
                    self.assertEqual(answer["response"]["uid"], uid)
                    answered.add(uid)
                    if response.getheader("Connection") == "close":
                        closing_seen.append(uid)
                except ConnectionRefusedError:
                    return  # the listener is closed: the end of the stream
                except (OSError, http.client.HTTPException) as error:
                    failed.append((uid, repr(error)))
                    connection.close()

        def probe():
            for _ in range(400):
                if stop.is_set() or self.process.poll() is not None:
                    return
                try:
                    status, _, _ = self.request("GET", "/readyz", timeout=2)
                    readiness.append((time.monotonic(), status))
                except OSError:
                    pass
                time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        threads.append(threading.Thread(target=probe))
        for thread in threads:
            thread.start()
        try:
            self.wait_until("reviews flow", lambda: len(answered) >= 20)
            terminated_at.append(time.monotonic())
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.fail("still running after SIGTERM:\n" + self.log())
            exited_at = time.monotonic()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=20)
        self.assertEqual(code, 0, self.log())
        self.assertLess(exited_at - terminated_at[0], 6.0 + 1.0)
        log = self.log()
        handled = set(re.findall(r"admission review uid=(\S+)", log))
        self.assertTrue(handled)
        # Every review the server took in was answered to its client.
        self.assertEqual(handled - answered, set(), f"unanswered; failures: {failed}")
        # Replies during the drain said Connection: close.
        self.assertTrue(closing_seen)
        # /readyz said 503 between SIGTERM and the exit.
        self.assertIn(503, [status for at, status in readiness
                            if terminated_at[0] <= at <= exited_at], readiness)

    def test_metrics_count_what_was_done(self):
        self.start_with_metrics("--enable-debugging-handlers", "--max-request-bytes", "65536")
        with_keys = pod()
        with_keys["spec"]["containers"][0]["env"] += [
            {"name": "AWS_ACCESS_KEY_ID", "value": "AKIAEXAMPLE"},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": "not-a-real-secret"}]
        # Keys in a container left out of the identity are kept: they count
        # as found, not as removed.
        with_keys["metadata"]["annotations"] = {"eks.amazonaws.com/skip-containers": "sidecar"}
        with_keys["spec"]["containers"][1]["env"] = [
            {"name": "AWS_ACCESS_KEY_ID", "value": "AKIAEXAMPLE"},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": "not-a-real-secret"}]
        for obj in (pod(), pod(), with_keys):
            self.assertIn("patch", self.admit(review(obj)))
        for name in ("plain", "nobody"):
            self.assertNotIn("patch", self.admit(review(pod(name))))
        denied = self.admit(review({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}))
        self.assertFalse(denied["allowed"])
        self.assertEqual(self.request("POST", "/mutate", b"garbage")[0], 400)
        self.assertEqual(self.request("GET", "/nowhere")[0], 404)
        self.assertEqual(self.request("GET", "/mutate")[0], 405)
        self.assertEqual(self.request("POST", "/mutate", b" " * 100000)[0], 413)

        values = self.metrics()
        expect = {
            'irsa_webhook_reviews_total{outcome="mutated"}': 3,
            'irsa_webhook_reviews_total{outcome="unchanged"}': 2,
            'irsa_webhook_reviews_total{outcome="denied"}': 1,
            'irsa_webhook_reviews_total{outcome="error"}': 1,
            "irsa_webhook_review_duration_seconds_count": 7,
            'irsa_webhook_mutations_total{mode="web_identity"}': 3,
            'irsa_webhook_mutations_total{mode="container_credentials"}': 0,
            "irsa_webhook_static_credentials_removed_total": 2,
            'irsa_webhook_http_responses_total{code="200",handler="mutate"}': 6,
            'irsa_webhook_http_responses_total{code="400",handler="mutate"}': 1,
            'irsa_webhook_http_responses_total{code="404",handler="other"}': 1,
            'irsa_webhook_http_responses_total{code="405",handler="mutate"}': 1,
            'irsa_webhook_http_responses_total{code="413",handler="mutate"}': 1,
            "irsa_webhook_service_accounts_cached": 3,
            'irsa_webhook_certificate_reloads_total{result="success"}': 0,
        }
        for key, value in expect.items():
            self.assertEqual(values.get(key), value, key)
        self.assertGreater(values["irsa_webhook_certificate_expiry_timestamp_seconds"], time.time())
        self.assertTrue(any(k.startswith("irsa_webhook_build_info{") for k in values))
        self.assertIn('irsa_webhook_watch_restarts_total{resource="serviceaccounts"}', values)
        log = self.log()
        self.assertNotIn("AKIAEXAMPLE", log)
        self.assertNotIn("not-a-real-secret", log)

        connection = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=5)
        connection.request("GET", "/debug/alpha/cache")
        response = connection.getresponse()
        self.assertEqual(response.status, 200)
        cache = json.loads(response.read())
        connection.close()
        self.assertEqual(cache["team-a/s3-reader"]["RoleARN"],
                         "arn:aws:iam::111122223333:role/s3-reader")
        self.assertEqual(cache["team-a/s3-reader"]["Identity"]["Mode"], "web_identity")
        self.assertIsNone(cache["team-a/plain"]["Identity"])

    def test_aws_webhook_metric_names_count_the_same_reviews(self):
        """Dashboards written for AWS's webhook read its names on the same port."""
        config = os.path.join(self.tmp.name, "pod-identity-aws-names.json")
        with open(config, "w", encoding="utf-8") as handle:
            json.dump({"identities": [{"namespace": "team-a", "serviceAccount": "pod-identity"}]},
                      handle)
        self.start_with_metrics("--watch-container-credentials-config", config)
        before = self.metrics()
        self.assertEqual(before['pod_identity_webhook_pod_count{Method="sts_web_identity"}'], 0)
        self.assertEqual(before["pod_identity_webhook_missing_sa_count"], 0)
        self.assertNotIn('http_request_count{code="200",path="/mutate",verb="POST"}', before)

        first = self.admit(review(pod()))
        # The mutated Pod again: no patch, but AWS's pod_count counts it too.
        self.assertNotIn("patch", self.admit(review(self.patched(pod(), first))))
        self.assertIn("patch", self.admit(review(pod("pod-identity"))))
        self.assertNotIn("patch", self.admit(review(pod("plain"))))   # known, no role
        self.assertNotIn("patch", self.admit(review(pod("nobody"))))  # not in the cache
        self.assertEqual(self.request("POST", "/mutate", b"garbage")[0], 400)
        self.assertEqual(self.request("GET", "/mutate")[0], 405)
        self.assertEqual(self.request("GET", "/healthz")[0], 200)

        values = self.metrics()
        expect = {
            'pod_identity_webhook_pod_count{Method="sts_web_identity"}': 2,
            'pod_identity_webhook_pod_count{Method="container_credentials"}': 1,
            "pod_identity_webhook_missing_sa_count": 1,
            "pod_identity_webhook_used": 1,
            # /mutate only (AWS instruments that route alone), labelled by
            # its path without the query the API server adds.
            'http_request_count{code="200",path="/mutate",verb="POST"}': 5,
            'http_request_count{code="400",path="/mutate",verb="POST"}': 1,
            'http_request_count{code="405",path="/mutate",verb="GET"}': 1,
            'http_request_latencies_count{path="/mutate",verb="POST"}': 6,
            'http_request_latencies_bucket{le="8000000",path="/mutate",verb="POST"}': 6,
            'http_request_duration_microseconds_count{path="/mutate",verb="POST"}': 6,
            'http_request_duration_microseconds_count{path="/mutate",verb="GET"}': 1,
            # Ours, beside them, unchanged.
            'irsa_webhook_mutations_total{mode="web_identity"}': 1,
            'irsa_webhook_reviews_total{outcome="unchanged"}': 3,
        }
        for key, value in expect.items():
            self.assertEqual(values.get(key), value, key)
        self.assertFalse(any(k.startswith("http_request_count") and "healthz" in k for k in values))
        # Microseconds: a review on loopback takes well under the first
        # bucket (125 ms), and the sum is in the same unit as the histogram's.
        self.assertEqual(values['http_request_latencies_bucket{le="125000",path="/mutate",verb="POST"}'], 6)
        total = values['http_request_duration_microseconds_sum{path="/mutate",verb="POST"}']
        self.assertEqual(values['http_request_latencies_sum{path="/mutate",verb="POST"}'], total)
        self.assertGreater(total, 0)
        self.assertLess(total, 6 * 125000)
        self.assertFalse(any("quantile=" in k for k in values if k.startswith("http_request_duration")))

    def test_container_credentials_mutations_are_counted_by_mode(self):
        config = os.path.join(self.tmp.name, "pod-identity.json")
        with open(config, "w", encoding="utf-8") as handle:
            json.dump({"identities": [{"namespace": "team-a", "serviceAccount": "pod-identity"}]},
                      handle)
        self.start_with_metrics("--watch-container-credentials-config", config)
        self.assertIn("patch", self.admit(review(pod("pod-identity"))))
        values = self.metrics()
        self.assertEqual(values['irsa_webhook_mutations_total{mode="container_credentials"}'], 1)
        self.assertEqual(values['irsa_webhook_mutations_total{mode="web_identity"}'], 0)

    def test_tls_settings(self):
        self.start("--tls-min-version", "1.3", "--metrics-port", "0")
        self.assertNotIn("serving metrics", self.log())
        old = ssl.create_default_context(cafile=os.path.join(self.certs, "ca.crt"))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with self.assertRaises(ssl.SSLError):
            self.tls_connect(context=old).close()
        modern = ssl.create_default_context(cafile=os.path.join(self.certs, "ca.crt"))
        modern.set_alpn_protocols(["h2", "http/1.1"])
        with self.tls_connect(context=modern) as conn:
            self.assertEqual(conn.version(), "TLSv1.3")
            self.assertEqual(conn.selected_alpn_protocol(), "http/1.1")
        self.assertIsNone(self.process.poll())

        done = subprocess.run(
            [BINARY, "--port", str(free_port()), "--bind-address", "127.0.0.1",
             "--tls-cert", os.path.join(self.certs, "tls.crt"),
             "--tls-key", os.path.join(self.certs, "tls.key"),
             "--service-accounts-file", self.service_accounts,
             "--tls-cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_NOT_A_SUITE"],
            capture_output=True, text=True, timeout=STOP_DEADLINE)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn('"TLS_NOT_A_SUITE"', done.stderr)
        self.assertIn("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", done.stderr)  # the known ones


if __name__ == "__main__":
    unittest.main()
