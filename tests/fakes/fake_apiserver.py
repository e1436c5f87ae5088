"""The fake Kubernetes API server program (tests/fakes, built as
`fake-apiserver` next to irsa-webhook) from python: the one launcher the
end-to-end tests (tests/e2e/test_kube.py, test_audit_cluster.py) and the
benchmark (bench/cluster_audit.py) share. It writes a test PKI, starts the
program on 127.0.0.1 with TLS and a bearer token (or client certificates),
waits (bounded) for its ready file, drives it over its admin API, writes a
kubeconfig for it, and kills it. Every wait is bounded."""

import http.client
import json
import os
import socket
import subprocess
import time

# The program: $IRSA_FAKE_APISERVER, else next to $IRSA_BINARY.
FAKE = os.environ.get("IRSA_FAKE_APISERVER",
                      os.path.join(os.path.dirname(os.path.abspath(os.environ.get("IRSA_BINARY",
                                                                                  "build/irsa-webhook"))),
                                   "fake-apiserver"))
DEADLINE = 20.0
PREFIX = "eks.amazonaws.com"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(check, deadline=DEADLINE, interval=0.05):
    """Polls check() until it returns a truthy value or the deadline passes."""
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(interval)
    return check()


def write_pki(directory, binary=FAKE):
    """A test CA, the server's certificate for 127.0.0.1 and a client certificate, in `directory`."""
    os.makedirs(directory, exist_ok=True)
    subprocess.run([binary, "--write-pki", directory], check=True, capture_output=True, timeout=60)
    return directory


def write_kubeconfig(path, port, ca_file, user, context="e2e", user_name="webhook", **cluster):
    """A kubeconfig for the fake on 127.0.0.1:`port`, trusting `ca_file`, as `user`
    ({"token": ...} or client-certificate fields); `cluster` adds cluster fields."""
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "contexts": [{"name": context, "context": {"cluster": "fake", "user": user_name}}],
        "clusters": [{"name": "fake", "cluster": {
            "server": f"https://127.0.0.1:{port}", "certificate-authority": ca_file, **cluster}}],
        "users": [{"name": user_name, "user": user}],
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    return path


class FakeApiServer:
    """The fake-apiserver program: started, driven over its admin API, killed."""

    def __init__(self, workdir, pki, *, token, binary=FAKE, port=None, client_ca=False, down=False,
                 initial_rv=1000, ready_deadline=DEADLINE, admin_timeout=30):
        self.workdir = workdir
        self.pki = pki
        self.port = port or free_port()
        self.ready_deadline = ready_deadline
        self.admin_timeout = admin_timeout
        self.args = [binary, "--tls-cert", os.path.join(pki, "server.crt"),
                     "--tls-key", os.path.join(pki, "server.key"),
                     "--port", str(self.port), "--bookmark-interval-ms", "200",
                     "--initial-resource-version", str(initial_rv)]
        if token:
            self.args += ["--token", token]
        if client_ca:
            self.args += ["--client-ca", os.path.join(pki, "ca.crt")]
        if down:
            self.args += ["--down"]
        self.process = None
        self.admin_port = None
        self.log = None

    def start(self):
        ready = os.path.join(self.workdir, f"fake-{self.port}-{time.monotonic_ns()}.ready")
        self.log = open(os.path.join(self.workdir, f"fake-{self.port}.log"), "a", encoding="utf-8")
        self.process = subprocess.Popen(self.args + ["--ready-file", ready],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        if not eventually(lambda: os.path.exists(ready) or self.process.poll() is not None,
                          self.ready_deadline):
            raise RuntimeError("fake-apiserver did not start")
        if self.process.poll() is not None:
            raise RuntimeError(f"fake-apiserver exited with {self.process.returncode}")
        with open(ready, encoding="utf-8") as handle:
            self.admin_port = json.load(handle)["admin_port"]
        return self

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process is not None:
            self.log.close()
        self.process = None

    def admin(self, method, path, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=self.admin_timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=payload)
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"admin {path}: {response.status} {data[:200]!r}")
            return json.loads(data) if data else None
        finally:
            connection.close()

    def put_sa(self, namespace, name, role=None):
        annotations = {f"{PREFIX}/role-arn": role} if role else {}
        return self.admin("POST", "/serviceaccounts",
                          {"namespace": namespace, "name": name, "annotations": annotations})

    def delete_sa(self, namespace, name):
        return self.admin("DELETE", f"/serviceaccounts/{namespace}/{name}")

    def stats(self):
        return self.admin("GET", "/stats")
