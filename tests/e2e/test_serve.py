"""The real binary serving over real TLS on 127.0.0.1, driven as the API server does."""

import base64
import copy
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import jsonpatch

BINARY = os.environ.get("IRSA_BINARY", "build/irsa-webhook")
SOURCE = os.environ.get("IRSA_SOURCE_DIR", os.getcwd())
READY_DEADLINE = 20.0
STOP_DEADLINE = 15.0
REQUEST_TIMEOUT = 10.0

ROLE_ARN = "arn:aws:iam::111122223333:role/s3-reader"
MOUNT_PATH = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
SERVICE_ACCOUNTS = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: s3-reader
  namespace: team-a
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/s3-reader
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: plain
  namespace: team-a
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: custom
  namespace: team-a
  annotations:
    example.com/role-arn: arn:aws:iam::111122223333:role/custom
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pod(service_account="s3-reader"):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "reader-", "namespace": "team-a", "labels": {"app": "reader"}},
        "spec": {
            "serviceAccountName": service_account,
            "initContainers": [{"name": "fetch", "image": "busybox"}],
            "containers": [
                {"name": "app", "image": "nginx", "env": [{"name": "LOG_LEVEL", "value": "info"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "sidecar", "image": "envoy"},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }


def review(obj, api_version="admission.k8s.io/v1", uid="0d7f5c6e-1111-4222-8333-444455556666"):
    return {
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "team-a",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": obj,
            "dryRun": False,
        },
    }


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


class ServeOverTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.certs = os.path.join(cls.tmp.name, "certs")
        subprocess.run([os.path.join(SOURCE, "certs", "gen-dev-certs.sh"), cls.certs],
                       check=True, capture_output=True, timeout=60)
        cls.service_accounts = os.path.join(cls.tmp.name, "service-accounts.yaml")
        with open(cls.service_accounts, "w", encoding="utf-8") as handle:
            handle.write(SERVICE_ACCOUNTS)
        cls.tls = ssl.create_default_context(cafile=os.path.join(cls.certs, "ca.crt"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.process = None
        self.log_file = None

    def tearDown(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_DEADLINE)
        if self.log_file is not None:
            self.log_file.close()

    # --- helpers ---------------------------------------------------------

    def start(self, *extra):
        self.port = free_port()
        self.log_path = os.path.join(self.tmp.name, f"server-{self.port}.log")
        self.log_file = open(self.log_path, "w+", encoding="utf-8")
        self.process = subprocess.Popen(
            [BINARY, "--port", str(self.port), "--bind-address", "127.0.0.1",
             "--tls-cert", os.path.join(self.certs, "tls.crt"),
             "--tls-key", os.path.join(self.certs, "tls.key"),
             "--service-accounts-file", self.service_accounts, "--in-cluster=false",
             "-v", "3", *extra],
            stdout=self.log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_DEADLINE
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"server exited with {self.process.returncode} before it was healthy:\n"
                          + self.log())
            try:
                status, _, body = self.request("GET", "/healthz", timeout=1.0)
                if status == 200 and body == b"ok\n":
                    return
                last_error = f"status {status}"
            except OSError as error:
                last_error = error
            time.sleep(0.05)
        self.fail(f"server not healthy within {READY_DEADLINE}s ({last_error}):\n" + self.log())

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def request(self, method, path, body=None, content_type="application/json",
                timeout=REQUEST_TIMEOUT):
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls,
                                                 timeout=timeout)
        try:
            headers = {"Content-Type": content_type} if content_type else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def admit(self, body):
        """Posts a review; returns its response object after the envelope checks."""
        raw = json.dumps(body).encode()
        status, headers, answer = self.request("POST", "/mutate?timeout=10s", raw)
        self.assertEqual(status, 200, answer)
        self.assertTrue(headers.get("Content-Type", "").startswith("application/json"), headers)
        out = json.loads(answer)
        self.assertEqual(out["apiVersion"], body["apiVersion"])
        self.assertEqual(out["kind"], "AdmissionReview")
        self.assertEqual(out["response"]["uid"], body["request"]["uid"])
        return out["response"]

    def patched(self, obj, response):
        self.assertTrue(response["allowed"])
        self.assertEqual(response["patchType"], "JSONPatch")
        patch = json.loads(base64.b64decode(response["patch"], validate=True))
        self.assertIsInstance(patch, list)
        return jsonpatch.apply_patch(copy.deepcopy(obj), patch)

    def assert_identity_injected(self, mutated, role_arn=ROLE_ARN, region=None):
        volumes = {v["name"]: v for v in mutated["spec"]["volumes"]}
        self.assertIn("data", volumes)
        self.assertEqual(volumes["aws-iam-token"]["projected"]["sources"],
                         [{"serviceAccountToken": {"audience": "sts.amazonaws.com",
                                                   "expirationSeconds": 86400, "path": "token"}}])
        containers = mutated["spec"]["initContainers"] + mutated["spec"]["containers"]
        self.assertEqual(len(containers), 3)
        for container in containers:
            self.assertIn({"name": "aws-iam-token", "mountPath": MOUNT_PATH, "readOnly": True},
                          container["volumeMounts"], container["name"])
            env = env_of(container)
            self.assertEqual(env["AWS_ROLE_ARN"], role_arn, container["name"])
            self.assertEqual(env["AWS_WEB_IDENTITY_TOKEN_FILE"], MOUNT_PATH + "/token")
            if region:
                self.assertEqual(env["AWS_REGION"], region)
                self.assertEqual(env["AWS_DEFAULT_REGION"], region)
        app = mutated["spec"]["containers"][0]
        self.assertEqual(app["env"][0], {"name": "LOG_LEVEL", "value": "info"})
        self.assertEqual(app["volumeMounts"][0], {"name": "data", "mountPath": "/data"})

    # --- tests -----------------------------------------------------------

    def test_mutates_pods_in_v1_and_v1beta1_and_only_once(self):
        self.start("--aws-default-region", "us-west-2")
        for version in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1"):
            with self.subTest(version=version):
                response = self.admit(review(pod(), version))
                mutated = self.patched(pod(), response)
                self.assert_identity_injected(mutated, region="us-west-2")
                again = self.admit(review(mutated, version, uid="second-look"))
                self.assertTrue(again["allowed"])
                self.assertNotIn("patch", again)
                self.assertNotIn("patchType", again)
        log = self.log()
        self.assertIn("decision=mutated", log)
        self.assertIn("pod=reader-", log)
        self.assertNotIn(ROLE_ARN, log, "env values must not be logged")

    def test_unannotated_or_unknown_service_account_gets_no_patch(self):
        self.start()
        for service_account in ("plain", "nobody"):
            with self.subTest(service_account=service_account):
                response = self.admit(review(pod(service_account)))
                self.assertTrue(response["allowed"])
                self.assertNotIn("patch", response)

    def test_annotation_prefix_flag(self):
        self.start("--annotation-prefix", "example.com")
        mutated = self.patched(pod("custom"), self.admit(review(pod("custom"))))
        self.assert_identity_injected(mutated, role_arn="arn:aws:iam::111122223333:role/custom")
        self.assertNotIn("patch", self.admit(review(pod("s3-reader"))))

    def test_bad_requests_get_4xx_and_the_server_survives(self):
        self.start()
        valid = json.dumps(review(pod())).encode()

        status, headers, body = self.request("GET", "/mutate")
        self.assertEqual(status, 405, body)
        self.assertEqual(headers.get("Allow"), "POST")
        self.assertEqual(body.count(b"\n"), 1)

        status, _, body = self.request("POST", "/mutate", valid, content_type="text/plain")
        self.assertEqual(status, 415, body)
        status, _, _ = self.request("POST", "/mutate", valid,
                                    content_type="application/json; charset=utf-8")
        self.assertEqual(status, 200)

        for garbage in (b"garbage", valid[: len(valid) // 2], b"", b"[]",
                        b'{"apiVersion":"v1","kind":"Pod"}'):
            with self.subTest(body=garbage[:40]):
                status, headers, body = self.request("POST", "/mutate", garbage)
                self.assertEqual(status, 400, body)
                self.assertTrue(headers.get("Content-Type", "").startswith("text/plain"))
                self.assertEqual(body.count(b"\n"), 1, body)

        status, _, body = self.request("POST", "/mutate", b" " * (10 * 1024 * 1024))
        self.assertEqual(status, 413, body)

        status, _, body = self.request("GET", "/nowhere")
        self.assertEqual(status, 404, body)

        not_a_pod = review({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}})
        response = self.admit(not_a_pod)
        self.assertFalse(response["allowed"])
        self.assertEqual(response["status"]["code"], 400)
        self.assertTrue(response["status"]["message"])
        self.assertNotIn("patch", response)

        self.assertIsNone(self.process.poll(), "the server died:\n" + self.log())
        status, _, _ = self.request("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertIsNotNone(self.admit(review(pod())).get("patch"))

    def test_oversize_body_is_refused_before_it_is_sent(self):
        self.start()
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=REQUEST_TIMEOUT)
        with self.tls.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            conn.sendall(b"POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head)
        self.assertIsNone(self.process.poll())

    def test_sigterm_stops_with_exit_code_zero(self):
        self.start()
        self.assertIsNotNone(self.admit(review(pod())).get("patch"))
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.fail(f"still running {STOP_DEADLINE}s after SIGTERM:\n" + self.log())
        self.assertEqual(code, 0, self.log())

    def test_missing_service_account_source_is_a_startup_error(self):
        done = subprocess.run(
            [BINARY, "--port", str(free_port()), "--bind-address", "127.0.0.1",
             "--tls-cert", os.path.join(self.certs, "tls.crt"),
             "--tls-key", os.path.join(self.certs, "tls.key"), "--in-cluster=false"],
            capture_output=True, text=True, timeout=STOP_DEADLINE)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("--service-accounts-file", done.stderr)


if __name__ == "__main__":
    unittest.main()
