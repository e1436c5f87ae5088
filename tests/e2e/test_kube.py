"""The real binary reading ServiceAccounts from a fake Kubernetes API server.

The fake (tests/fakes, built as `fake-apiserver` next to irsa-webhook) speaks
the API server's wire format on 127.0.0.1 with TLS from a test CA and a bearer
token check (or client certificates), and is driven over its admin API.
"""

import base64
import http.client
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "fakes"))
from fake_apiserver import FakeApiServer, eventually, free_port, write_kubeconfig, write_pki  # noqa: E402

BINARY = os.environ.get("IRSA_BINARY", "build/irsa-webhook")
SOURCE = os.environ.get("IRSA_SOURCE_DIR", os.getcwd())
REQUEST_TIMEOUT = 10.0
TOKEN = "e2e-token-one"
ROLE = "arn:aws:iam::111122223333:role/e2e"


def pod(service_account, namespace="team"):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "app-", "namespace": namespace},
        "spec": {"serviceAccountName": service_account,
                 "containers": [{"name": "app", "image": "nginx"}]},
    }


def review(obj, uid="7a1b2c3d-1111-4222-8333-444455556666"):
    return {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": obj,
        },
    }


class ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT host:port), on 127.0.0.1, and
    records each CONNECT's target and Proxy-Authorization; answers 407 when
    the authorization is not `require`. Every wait is bounded."""

    def __init__(self, require=None):
        self.require = require
        self.tunnels = []
        self.stopping = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def stop(self):
        self.stopping.set()
        for thread in list(self.threads):
            thread.join(timeout=5)
        self.listener.close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, client):
        upstream = None
        try:
            client.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            headers = {k.strip().lower(): v.strip()
                       for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
            authorization = headers.get("proxy-authorization")
            self.tunnels.append((method, target, authorization))
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            if self.require is not None and authorization != self.require:
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                               b"Content-Length: 0\r\n\r\n")
                return
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            while not self.stopping.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.1)
                for side in ready:
                    data = side.recv(65536)
                    if not data:
                        return
                    (upstream if side is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


class KubeSource(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = write_pki(os.path.join(cls.tmp.name, "pki"))
        cls.certs = os.path.join(cls.tmp.name, "certs")
        subprocess.run([os.path.join(SOURCE, "certs", "gen-dev-certs.sh"), cls.certs],
                       check=True, capture_output=True, timeout=60)
        cls.tls = ssl.create_default_context(cafile=os.path.join(cls.certs, "ca.crt"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.work = tempfile.mkdtemp(dir=self.tmp.name)
        self.fakes = []
        self.webhook = None
        self.webhook_log = None

    def tearDown(self):
        if self.webhook is not None and self.webhook.poll() is None:
            self.webhook.kill()
            self.webhook.wait(timeout=10)
        if self.webhook_log is not None:
            self.webhook_log.close()
        for fake in self.fakes:
            fake.kill()
        shutil.rmtree(self.work, ignore_errors=True)

    # --- helpers ---------------------------------------------------------

    def fake(self, **options):
        options.setdefault("token", TOKEN)
        fake = FakeApiServer(self.work, self.pki, **options)
        self.fakes.append(fake)
        return fake

    def kubeconfig(self, port, user=None, name="kubeconfig", **cluster):
        return write_kubeconfig(os.path.join(self.work, name), port, os.path.join(self.pki, "ca.crt"),
                                {"token": TOKEN} if user is None else user, **cluster)

    def start_webhook(self, kubeconfig, *extra, wait_ready=True):
        self.port = free_port()
        # Tests run in parallel: no two may take the default metrics port.
        if "--metrics-port" not in extra:
            extra = ("--metrics-port", "0", *extra)
        self.webhook_log_path = os.path.join(self.work, "webhook.log")
        self.webhook_log = open(self.webhook_log_path, "w+", encoding="utf-8")
        self.webhook = subprocess.Popen(
            [BINARY, "--port", str(self.port), "--bind-address", "127.0.0.1",
             "--tls-cert", os.path.join(self.certs, "tls.crt"),
             "--tls-key", os.path.join(self.certs, "tls.key"),
             "--kubeconfig", kubeconfig, "--in-cluster=false", "-v", "3", *extra],
            stdout=self.webhook_log, stderr=subprocess.STDOUT)
        healthy = eventually(lambda: self.webhook.poll() is not None or self.status("/healthz") == 200)
        self.assertIsNone(self.webhook.poll(), "webhook exited:\n" + self.log())
        self.assertTrue(healthy, "webhook not healthy:\n" + self.log())
        if wait_ready:
            self.assertTrue(eventually(lambda: self.status("/readyz") == 200),
                            "webhook not ready:\n" + self.log())

    def log(self):
        with open(self.webhook_log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def request(self, method, path, body=None):
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls,
                                                 timeout=REQUEST_TIMEOUT)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def status(self, path):
        try:
            return self.request("GET", path)[0]
        except OSError:
            return None

    def admit(self, obj):
        status, body = self.request("POST", "/mutate", json.dumps(review(obj)).encode())
        self.assertEqual(status, 200, body)
        return json.loads(body)["response"]

    def role_of(self, service_account, namespace="team"):
        """The AWS_ROLE_ARN the webhook injects for a Pod of this ServiceAccount, or None."""
        response = self.admit(pod(service_account, namespace))
        self.assertTrue(response["allowed"], response)
        if "patch" not in response:
            return None
        for op in json.loads(base64.b64decode(response["patch"])):
            values = op["value"] if isinstance(op.get("value"), list) else [op.get("value")]
            for value in values:
                if isinstance(value, dict) and value.get("name") == "AWS_ROLE_ARN":
                    return value["value"]
                if isinstance(value, dict):
                    for env in value.get("env", []) if isinstance(value.get("env"), list) else []:
                        if env.get("name") == "AWS_ROLE_ARN":
                            return env["value"]
        return None

    # --- tests -----------------------------------------------------------

    def test_a_service_account_created_and_a_pod_reviewed_in_the_same_instant_is_mutated(self):
        fake = self.fake().start()
        self.start_webhook(self.kubeconfig(fake.port), "--service-account-lookup-grace-period", "3s")
        # The watch is held back: only the direct read can find the new one.
        fake.admin("POST", "/stall-watches", {"on": True})
        fake.put_sa("team", "fresh", ROLE)
        self.assertEqual(self.role_of("fresh"), ROLE, self.log())
        self.assertGreaterEqual(fake.stats()["gets"], 1)
        fake.admin("POST", "/stall-watches", {"on": False})
        # And with the watch flowing, create-then-review at once.
        fake.put_sa("team", "fresh2", ROLE)
        self.assertEqual(self.role_of("fresh2"), ROLE)

    def test_removing_the_annotation_or_deleting_the_service_account_stops_mutating(self):
        fake = self.fake().start()
        fake.put_sa("team", "app", ROLE)
        fake.put_sa("team", "other", ROLE)
        self.start_webhook(self.kubeconfig(fake.port))
        self.assertEqual(self.role_of("app"), ROLE)
        fake.put_sa("team", "app")
        self.assertTrue(eventually(lambda: self.role_of("app") is None))
        fake.delete_sa("team", "other")
        self.assertTrue(eventually(lambda: self.role_of("other") is None))

    def test_410_gone_and_an_api_server_restart_leave_the_cache_correct(self):
        port = free_port()
        fake = self.fake(port=port).start()
        fake.put_sa("team", "keeps", ROLE)
        fake.put_sa("team", "loses", ROLE)
        metrics_port = free_port()
        self.start_webhook(self.kubeconfig(port), "--metrics-port", str(metrics_port))
        self.assertEqual(self.role_of("loses"), ROLE)
        # 410: the watch is held back while the state changes and history is compacted.
        fake.admin("POST", "/stall-watches", {"on": True})
        fake.put_sa("team", "loses")
        fake.put_sa("team", "gains", ROLE)
        fake.admin("POST", "/expire")
        fake.admin("POST", "/stall-watches", {"on": False})
        self.assertTrue(eventually(lambda: self.role_of("loses") is None), self.log())
        self.assertEqual(self.role_of("gains"), ROLE)
        # A restart: a new API server process with a newer state on the same port.
        fake.kill()
        restarted = self.fake(port=port, initial_rv=5000).start()
        restarted.put_sa("team", "keeps")
        restarted.put_sa("team", "gains", ROLE)
        restarted.put_sa("team", "loses", ROLE)
        self.assertTrue(eventually(lambda: self.role_of("keeps") is None and
                                   self.role_of("loses") == ROLE), self.log())
        self.assertEqual(self.status("/readyz"), 200)
        # Each relist counts as a watch restart in /metrics.
        connection = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request("GET", "/metrics")
            scrape = connection.getresponse().read().decode()
        finally:
            connection.close()
        restarts = [float(line.rsplit(" ", 1)[1]) for line in scrape.splitlines()
                    if line.startswith('irsa_webhook_watch_restarts_total{resource="serviceaccounts"}')]
        self.assertEqual(len(restarts), 1, scrape)
        self.assertGreaterEqual(restarts[0], 2)

    def test_api_server_down_at_start_then_ready_when_it_comes_up(self):
        port = free_port()
        self.start_webhook(self.kubeconfig(port), wait_ready=False)
        self.assertEqual(self.status("/healthz"), 200)
        self.assertEqual(self.status("/readyz"), 503)
        self.assertTrue(eventually(lambda: "list failed" in self.log()))  # it keeps trying
        self.assertEqual(self.status("/readyz"), 503)
        fake = self.fake(port=port).start()
        fake.put_sa("team", "app", ROLE)
        self.assertTrue(eventually(lambda: self.status("/readyz") == 200), self.log())
        self.assertEqual(self.role_of("app"), ROLE)

    def test_kubeconfig_with_client_certificates(self):
        fake = self.fake(token=None, client_ca=True).start()
        fake.put_sa("team", "app", ROLE)
        kubeconfig = self.kubeconfig(fake.port, {
            "client-certificate": os.path.join(self.pki, "client.crt"),
            "client-key": os.path.join(self.pki, "client.key")})
        self.start_webhook(kubeconfig)
        self.assertEqual(self.role_of("app"), ROLE)

    def test_kubeconfig_tls_server_name_is_the_name_the_certificate_must_carry(self):
        # The fake's certificate names kubernetes.irsa.test, which never
        # resolves: the webhook connects to 127.0.0.1 and checks that name.
        fake = self.fake().start()
        fake.put_sa("team", "app", ROLE)
        self.start_webhook(self.kubeconfig(fake.port, **{"tls-server-name": "kubernetes.irsa.test"}))
        self.assertEqual(self.role_of("app"), ROLE)
        self.webhook.kill()
        self.webhook.wait(timeout=10)
        self.webhook_log.close()
        self.webhook_log = None
        self.start_webhook(self.kubeconfig(fake.port, name="other",
                                           **{"tls-server-name": "other.irsa.test"}),
                           wait_ready=False)
        self.assertTrue(eventually(lambda: "does not name" in self.log()
                                   and "other.irsa.test" in self.log()), self.log())
        self.assertNotEqual(self.status("/readyz"), 200)

    def test_kubeconfig_proxy_url_tunnels_through_an_http_proxy(self):
        fake = self.fake().start()
        fake.put_sa("team", "app", ROLE)
        require = "Basic " + base64.b64encode(b"ops:p@ss word").decode()
        proxy = ConnectProxy(require)
        self.addCleanup(proxy.stop)
        self.start_webhook(self.kubeconfig(
            fake.port, **{"proxy-url": f"http://ops:p%40ss%20word@127.0.0.1:{proxy.port}"}))
        self.assertEqual(self.role_of("app"), ROLE)
        self.assertTrue(proxy.tunnels)
        for method, target, authorization in proxy.tunnels:
            self.assertEqual((method, target, authorization),
                             ("CONNECT", f"127.0.0.1:{fake.port}", require))
        self.assertNotIn("p@ss word", self.log())
        self.assertNotIn("p%40ss", self.log())

    def test_kubeconfig_with_a_token_file_that_rotates(self):
        fake = self.fake().start()
        fake.put_sa("team", "app", ROLE)
        token_file = os.path.join(self.work, "token")
        with open(token_file, "w", encoding="utf-8") as handle:
            handle.write(TOKEN + "\n")
        self.start_webhook(self.kubeconfig(fake.port, {"tokenFile": token_file}))
        self.assertEqual(self.role_of("app"), ROLE)
        # Rotate: only the new token is accepted from now on; the webhook re-reads the file.
        with open(token_file + ".new", "w", encoding="utf-8") as handle:
            handle.write("e2e-token-two\n")
        os.replace(token_file + ".new", token_file)
        fake.admin("POST", "/tokens", {"tokens": ["e2e-token-two"]})
        unauthorized = fake.stats()["unauthorized"]
        fake.admin("POST", "/drop-watches")
        fake.put_sa("team", "after-rotation", ROLE)
        self.assertTrue(eventually(lambda: self.role_of("after-rotation") == ROLE), self.log())
        self.assertEqual(fake.stats()["unauthorized"], unauthorized)

    def test_a_broken_kubeconfig_fails_at_start_with_a_clear_error(self):
        cases = [
            ({"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}},
             "exec"),
            ({"client-certificate": os.path.join(self.pki, "client.crt")}, "needs its key"),
            ({"tokenFile": os.path.join(self.work, "no-such-token")}, "no-such-token"),
        ]
        for user, expected in cases:
            with self.subTest(expected=expected):
                kubeconfig = self.kubeconfig(free_port(), user, name="broken")
                done = subprocess.run(
                    [BINARY, "--port", str(free_port()), "--bind-address", "127.0.0.1",
                     "--tls-cert", os.path.join(self.certs, "tls.crt"),
                     "--tls-key", os.path.join(self.certs, "tls.key"),
                     "--kubeconfig", kubeconfig],
                    capture_output=True, text=True, timeout=30)
                self.assertNotEqual(done.returncode, 0)
                self.assertIn(expected, done.stderr)
                self.assertIn("kubeconfig", done.stderr)
        missing = subprocess.run(
            [BINARY, "--port", str(free_port()), "--tls-cert", os.path.join(self.certs, "tls.crt"),
             "--tls-key", os.path.join(self.certs, "tls.key"),
             "--kubeconfig", os.path.join(self.work, "absent")],
            capture_output=True, text=True, timeout=30)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("absent", missing.stderr)

    def test_unknown_service_account_deny_asks_the_controller_to_retry(self):
        fake = self.fake().start()
        self.start_webhook(self.kubeconfig(fake.port), "--unknown-service-account", "deny")
        response = self.admit(pod("ghost"))
        self.assertFalse(response["allowed"])
        self.assertIn("team/ghost was not found yet", response["status"]["message"])
        fake.put_sa("team", "plain")
        self.assertTrue(eventually(lambda: self.admit(pod("plain"))["allowed"]))

    def test_unknown_service_account_admit_is_the_default(self):
        fake = self.fake().start()
        self.start_webhook(self.kubeconfig(fake.port))
        response = self.admit(pod("ghost"))
        self.assertTrue(response["allowed"])
        self.assertNotIn("patch", response)

    def test_watch_config_map_maps_service_accounts_and_annotations_win(self):
        fake = self.fake().start()
        fake.admin("POST", "/configmaps", {"namespace": "eks", "name": "pod-identity-webhook", "data": {
            "config": json.dumps({"team/mapped": {"RoleARN": "arn:aws:iam::111122223333:role/cm"},
                                  "*/annotated": {"RoleARN": "arn:aws:iam::111122223333:role/cm"}})}})
        fake.put_sa("team", "mapped")
        fake.put_sa("team", "annotated", ROLE)
        self.start_webhook(self.kubeconfig(fake.port), "--watch-config-map", "--namespace", "eks")
        self.assertEqual(self.role_of("mapped"), "arn:aws:iam::111122223333:role/cm")
        self.assertEqual(self.role_of("annotated"), ROLE)

    def test_container_credentials_config_follows_the_volume_symlink_swap(self):
        fake = self.fake().start()
        fake.put_sa("team", "app", ROLE)
        volume = os.path.join(self.work, "volume")
        os.makedirs(os.path.join(volume, "..v1"))
        with open(os.path.join(volume, "..v1", "config.json"), "w", encoding="utf-8") as handle:
            json.dump({"identities": []}, handle)
        os.symlink("..v1", os.path.join(volume, "..data"))
        os.symlink("..data/config.json", os.path.join(volume, "config.json"))
        self.start_webhook(self.kubeconfig(fake.port), "--watch-container-credentials-config",
                           os.path.join(volume, "config.json"))
        self.assertEqual(self.role_of("app"), ROLE)

        def swap(version, content):
            os.makedirs(os.path.join(volume, version))
            with open(os.path.join(volume, version, "config.json"), "w", encoding="utf-8") as handle:
                handle.write(content)
            os.symlink(version, os.path.join(volume, "..data_tmp"))
            os.replace(os.path.join(volume, "..data_tmp"), os.path.join(volume, "..data"))

        def container_credentials():
            response = self.admit(pod("app"))
            return "patch" in response and b"AWS_CONTAINER_CREDENTIALS_FULL_URI" in \
                base64.b64decode(response["patch"])

        swap("..v2", json.dumps({"identities": [{"namespace": "team", "serviceAccount": "app"}]}))
        self.assertTrue(eventually(container_credentials), self.log())
        swap("..v3", "{broken")  # a bad file keeps the last good one
        self.assertTrue(eventually(lambda: "rejected" in self.log()))
        self.assertTrue(container_credentials())


if __name__ == "__main__":
    unittest.main()
