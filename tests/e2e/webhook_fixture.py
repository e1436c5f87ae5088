"""Shared fixture for end-to-end tests: dev certificates, a ServiceAccounts
file, the real binary started on a free 127.0.0.1 port, and an HTTPS client
that trusts the dev CA. Every wait is bounded."""

import base64
import copy
import http.client
import json
import os
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


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def role_arn(name):
    return f"arn:aws:iam::111122223333:role/{name}"


def service_account(name, namespace="team-a", role=None, annotations=None):
    """One ServiceAccount of a --service-accounts file, as YAML; `role`
    names the role of its eks.amazonaws.com/role-arn annotation."""
    annotations = dict(annotations or {})
    if role:
        annotations["eks.amazonaws.com/role-arn"] = role_arn(role)
    text = f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
    if annotations:
        text += "  annotations:\n" + "".join(f"    {key}: {json.dumps(value)}\n"
                                             for key, value in annotations.items())
    return text


def service_accounts(*documents):
    """A --service-accounts file of these service_account() documents."""
    return "---\n".join(documents)


def pod_of(name, containers, service_account="app", namespace="team-a", annotations=None, volumes=None):
    """A Pod as its controller creates it: `containers`, and `volumes` when given."""
    metadata = {"name": name, "namespace": namespace}
    if annotations is not None:
        metadata["annotations"] = annotations
    spec = {"serviceAccountName": service_account, "containers": containers}
    if volumes is not None:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


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


class WebhookTestCase(unittest.TestCase):
    """Starts the binary with SERVICE_ACCOUNTS (a class attribute) as its file."""

    SERVICE_ACCOUNTS = ""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.certs = os.path.join(cls.tmp.name, "certs")
        subprocess.run([os.path.join(SOURCE, "certs", "gen-dev-certs.sh"), cls.certs],
                       check=True, capture_output=True, timeout=60)
        cls.service_accounts = os.path.join(cls.tmp.name, "service-accounts.yaml")
        with open(cls.service_accounts, "w", encoding="utf-8") as handle:
            handle.write(cls.SERVICE_ACCOUNTS)
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
        # Tests run in parallel: no two may take the default metrics port.
        if "--metrics-port" not in extra:
            extra = ("--metrics-port", "0", *extra)
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
