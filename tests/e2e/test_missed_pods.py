"""`serve --report-missed-pods-interval`: the server's missed-Pod sweep
against the fake API server over TLS.

The fake holds Pods admitted with and without the webhook; the webhook reads
ServiceAccounts from it as usual and, with the flag, lists the Pods on an
interval: the gauges count the missed ones by namespace and reason, each gets
one IdentityNotInjected Event (never a second one, also after a restart of
the webhook), fixed Pods drop out, a 403 on Events or on Pods is reported
once and the rest goes on. Every wait is a bounded poll.
"""

import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_kube import BINARY, ROLE, SOURCE, TOKEN  # noqa: E402
from fake_apiserver import (FakeApiServer, eventually, free_port, write_kubeconfig,  # noqa: E402
                            write_pki)

WEB_ROLE = "arn:aws:iam::111122223333:role/web"
DEADLINE = 30.0


def spec(service_account):
    return {"serviceAccountName": service_account,
            "containers": [{"name": "app", "image": "registry.example/app:1.0"}]}


def injected(pod_spec, role=ROLE):
    pod_spec = json.loads(json.dumps(pod_spec))
    pod_spec["volumes"] = [{"name": "aws-iam-token", "projected": {"sources": [
        {"serviceAccountToken": {"audience": "sts.amazonaws.com", "expirationSeconds": 86400,
                                 "path": "token"}}]}}]
    for c in pod_spec["containers"]:
        c["env"] = [{"name": "AWS_ROLE_ARN", "value": role},
                    {"name": "AWS_WEB_IDENTITY_TOKEN_FILE",
                     "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}]
        c["volumeMounts"] = [{"name": "aws-iam-token", "readOnly": True,
                              "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"}]
    return pod_spec


def pod(namespace, name, pod_spec, uid, owner=None, labels=None, phase="Running"):
    metadata = {"namespace": namespace, "name": name, "uid": uid, "labels": labels or {}}
    if owner:
        kind, owner_name = owner
        metadata["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": owner_name,
                                        "uid": f"uid-{owner_name}", "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec,
            "status": {"phase": phase}}


UID_CART = "11111111-0000-4000-8000-000000000001"
UID_DEBUG = "11111111-0000-4000-8000-000000000002"
UID_DB = "11111111-0000-4000-8000-000000000003"
UID_WEB = "11111111-0000-4000-8000-000000000004"


def cluster():
    """Three missed Pods in shop (a Deployment's, a bare one, one whose
    ServiceAccount lost its role), one in other, and Pods that are fine."""
    rs = {"app": "cart", "pod-template-hash": "5d8f9c"}
    return [
        pod("shop", "cart-5d8f9c-aaaaa", spec("cart"), UID_CART, ("ReplicaSet", "cart-5d8f9c"), rs),
        pod("shop", "cart-5d8f9c-bbbbb", injected(spec("cart")),
            "11111111-0000-4000-8000-000000000010", ("ReplicaSet", "cart-5d8f9c"), rs),
        pod("shop", "debug", spec("cart"), UID_DEBUG),
        pod("shop", "db-0", injected(spec("gone")), UID_DB, ("StatefulSet", "db")),
        pod("shop", "backup-1-done", spec("cart"), "11111111-0000-4000-8000-000000000011",
            phase="Succeeded"),
        pod("shop", "plain", spec("legacy"), "11111111-0000-4000-8000-000000000012"),
        pod("other", "web-0", spec("web"), UID_WEB, ("StatefulSet", "web")),
    ]


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not match:
            continue
        labels = frozenset(re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        out[(match.group(1), labels)] = float(match.group(4))
    return out


class MissedPods(unittest.TestCase):
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
        self.webhook = None
        self.webhook_log = None
        self.fake = FakeApiServer(self.work, self.pki, token=TOKEN).start()
        self.fake.put_sa("shop", "cart", ROLE)
        self.fake.put_sa("shop", "legacy")
        self.fake.put_sa("shop", "gone")
        self.fake.put_sa("other", "web", WEB_ROLE)
        stored = self.fake.admin("POST", "/objects", {"objects": cluster()})
        self.assertEqual(stored["pods"], len(cluster()))
        self.config = os.path.join(self.work, "kubeconfig")
        write_kubeconfig(self.config, self.fake.port, os.path.join(self.pki, "ca.crt"),
                         {"token": TOKEN})

    def tearDown(self):
        self.stop_webhook()
        self.fake.kill()
        shutil.rmtree(self.work, ignore_errors=True)

    # --- helpers ---------------------------------------------------------

    def start_webhook(self, *extra):
        self.port = free_port()
        self.metrics_port = free_port()
        self.webhook_log_path = os.path.join(self.work, f"webhook-{self.port}.log")
        self.webhook_log = open(self.webhook_log_path, "w+", encoding="utf-8")
        self.webhook = subprocess.Popen(
            [BINARY, "--port", str(self.port), "--bind-address", "127.0.0.1",
             "--metrics-port", str(self.metrics_port),
             "--tls-cert", os.path.join(self.certs, "tls.crt"),
             "--tls-key", os.path.join(self.certs, "tls.key"),
             "--kubeconfig", self.config, "--in-cluster=false",
             "--report-missed-pods-interval", "1s", *extra],
            stdout=self.webhook_log, stderr=subprocess.STDOUT)
        ready = eventually(lambda: self.webhook.poll() is not None or self.metrics() is not None)
        self.assertIsNone(self.webhook.poll(), "webhook exited:\n" + self.log())
        self.assertTrue(ready, "no metrics:\n" + self.log())

    def stop_webhook(self):
        if self.webhook is not None and self.webhook.poll() is None:
            self.webhook.terminate()
            try:
                self.webhook.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.webhook.kill()
                self.webhook.wait(timeout=10)
        if self.webhook_log is not None:
            self.webhook_log.close()
            self.webhook_log = None

    def log(self):
        with open(self.webhook_log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def metrics(self):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=5)
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            body = response.read().decode()
            connection.close()
            return parse_metrics(body) if response.status == 200 else None
        except OSError:
            return None

    def value(self, name, **labels):
        metrics = self.metrics() or {}
        return metrics.get((name, frozenset(labels.items())), 0)

    def missed(self):
        """The gauge's series: {(namespace, reason): count}."""
        out = {}
        for (name, labels), value in (self.metrics() or {}).items():
            if name == "irsa_webhook_pods_missed_identity":
                labels = dict(labels)
                out[(labels["namespace"], labels["reason"])] = value
        return out

    def sweeps(self, result="ok"):
        return self.value("irsa_webhook_missed_pods_sweeps_total", result=result)

    def wait_sweeps(self, count, result="ok"):
        """Waits until `count` more sweeps have ended with `result`."""
        target = self.sweeps(result) + count
        self.assertTrue(eventually(lambda: self.sweeps(result) >= target, deadline=DEADLINE),
                        f"no {count} {result} sweeps:\n" + self.log())

    def events(self):
        return self.fake.admin("GET", "/events")

    # --- tests -----------------------------------------------------------

    EXPECTED = {("shop", "missing-token-volume"): 2, ("shop", "identity-removed"): 1,
                ("other", "missing-token-volume"): 1}

    def test_missed_pods_are_counted_and_each_gets_one_event(self):
        self.start_webhook()
        self.assertTrue(eventually(lambda: self.missed() == self.EXPECTED, deadline=DEADLINE),
                        f"gauges {self.missed()}:\n" + self.log())
        self.assertGreater(self.value("irsa_webhook_missed_pods_last_sweep_timestamp_seconds"), 0)
        self.assertTrue(eventually(lambda: len(self.events()) >= 4, deadline=DEADLINE),
                        f"events {self.events()}:\n" + self.log())
        events = {event["involvedObject"]["uid"]: event for event in self.events()}
        self.assertEqual(set(events), {UID_CART, UID_DEBUG, UID_DB, UID_WEB})
        for uid, event in events.items():
            self.assertEqual(event["type"], "Warning")
            self.assertEqual(event["reason"], "IdentityNotInjected")
            self.assertEqual(event["involvedObject"]["kind"], "Pod")
            self.assertEqual(event["metadata"]["namespace"], event["involvedObject"]["namespace"])
            self.assertEqual(event["source"]["component"], "irsa-webhook")
            self.assertEqual(event["reportingComponent"], "irsa-webhook")
            self.assertTrue(event["reportingInstance"])
        cart = events[UID_CART]
        self.assertEqual(cart["involvedObject"]["name"], "cart-5d8f9c-aaaaa")
        self.assertIn("no AWS identity token", cart["message"])
        self.assertIn(ROLE, cart["message"])
        self.assertIn("kubectl rollout restart deployment/cart -n shop", cart["message"])
        self.assertIn("kubectl delete pod debug -n shop", events[UID_DEBUG]["message"])
        self.assertIn("no longer gives", events[UID_DB]["message"])
        self.assertIn("kubectl rollout restart statefulset/db -n shop", events[UID_DB]["message"])
        self.assertIn("kubectl rollout restart statefulset/web -n other",
                      events[UID_WEB]["message"])
        self.assertEqual(self.value("irsa_webhook_missed_pods_events_total", result="posted"), 4)

        # Later sweeps post nothing again.
        self.wait_sweeps(2)
        self.assertEqual(len(self.events()), 4)
        # The Pods are listed page by page, without the finished ones.
        pod_lists = [r for r in self.fake.admin("GET", "/requests") if r["path"] == "/api/v1/pods"]
        self.assertTrue(pod_lists)
        for request in pod_lists:
            self.assertEqual(request["params"].get("fieldSelector"),
                             "status.phase!=Succeeded,status.phase!=Failed")
            self.assertIn("limit", request["params"])

        # Restarted (or another replica): the Events exist already (409), none twice.
        self.stop_webhook()
        self.start_webhook()
        self.assertTrue(eventually(
            lambda: self.value("irsa_webhook_missed_pods_events_total", result="exists") >= 4,
            deadline=DEADLINE), self.log())
        self.wait_sweeps(1)
        self.assertEqual(self.value("irsa_webhook_missed_pods_events_total", result="posted"), 0)
        self.assertEqual(len(self.events()), 4)

        # Fixed: the Deployment's Pod restarted (a new Pod) and other's too; the
        # namespace whose count fell to zero disappears from the gauge.
        fixed_cart = pod("shop", "cart-5d8f9c-aaaaa", injected(spec("cart")),
                         "11111111-0000-4000-8000-000000000020", ("ReplicaSet", "cart-5d8f9c"),
                         {"app": "cart", "pod-template-hash": "5d8f9c"})
        fixed_web = pod("other", "web-0", injected(spec("web"), WEB_ROLE),
                        "11111111-0000-4000-8000-000000000021", ("StatefulSet", "web"))
        self.fake.admin("POST", "/objects", {"objects": [fixed_cart, fixed_web]})
        expected = {("shop", "missing-token-volume"): 1, ("shop", "identity-removed"): 1}
        self.assertTrue(eventually(lambda: self.missed() == expected, deadline=DEADLINE),
                        f"gauges {self.missed()}:\n" + self.log())
        self.wait_sweeps(1)
        self.assertEqual(len(self.events()), 4)

    def test_events_refused_are_reported_once_and_the_gauges_still_count(self):
        self.fake.admin("POST", "/deny", {"resources": ["events"]})
        self.start_webhook()
        self.assertTrue(eventually(lambda: self.missed() == self.EXPECTED, deadline=DEADLINE),
                        f"gauges {self.missed()}:\n" + self.log())
        self.wait_sweeps(2)
        self.assertEqual(self.events(), [])
        self.assertGreaterEqual(
            self.value("irsa_webhook_missed_pods_events_total", result="forbidden"), 2)
        self.assertEqual(self.log().count("the API server refuses Events"), 1, self.log())
        # Once RBAC allows it, every missed Pod gets its Event.
        self.fake.admin("POST", "/deny", {"resources": []})
        self.assertTrue(eventually(lambda: len(self.events()) == 4, deadline=DEADLINE),
                        f"events {self.events()}:\n" + self.log())

    def test_a_refused_pod_list_is_logged_once_and_retried(self):
        self.fake.admin("POST", "/deny", {"resources": ["pods"]})
        self.start_webhook()
        self.wait_sweeps(2, result="error")
        self.assertEqual(self.missed(), {})
        log = self.log()
        self.assertEqual(log.count("cannot list Pods"), 1, log)
        self.assertIn("report-missed-pods", log)
        # Reviews are served meanwhile.
        self.assertEqual(self.value("irsa_webhook_missed_pods_sweeps_total", result="ok"), 0)
        self.fake.admin("POST", "/deny", {"resources": []})
        self.assertTrue(eventually(lambda: self.missed() == self.EXPECTED, deadline=DEADLINE),
                        f"gauges {self.missed()}:\n" + self.log())
        self.assertIn("listing Pods works again", self.log())

    def test_without_the_flag_nothing_lists_pods(self):
        self.start_webhook("--report-missed-pods-interval", "0")
        self.assertTrue(eventually(lambda: self.fake.stats()["watches"] >= 1))
        self.assertNotIn("irsa_webhook_pods_missed_identity",
                         {name for name, _ in (self.metrics() or {})})
        self.assertEqual(
            [r for r in self.fake.admin("GET", "/requests") if r["path"] == "/api/v1/pods"], [])

    def run_serve(self, *args):
        return subprocess.run(
            [BINARY, "--port", "0", "--metrics-port", "0",
             "--tls-cert", os.path.join(self.certs, "tls.crt"),
             "--tls-key", os.path.join(self.certs, "tls.key"), *args],
            capture_output=True, text=True, timeout=30)

    def test_the_flag_is_refused_with_a_service_accounts_file(self):
        accounts = os.path.join(self.work, "accounts.yaml")
        with open(accounts, "w", encoding="utf-8") as handle:
            handle.write("apiVersion: v1\nkind: ServiceAccount\n"
                         "metadata: {name: cart, namespace: shop}\n")
        result = self.run_serve("--service-accounts-file", accounts,
                                "--report-missed-pods-interval", "5m")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--report-missed-pods-interval", result.stderr)
        self.assertIn("--service-accounts-file", result.stderr)

    def test_bad_intervals_are_refused_with_a_clear_error(self):
        for value, words in [("soon", "wants a duration"), ("-5m", "at least 1s"),
                             ("500ms", "at least 1s")]:
            result = self.run_serve("--kubeconfig", self.config,
                                    "--report-missed-pods-interval", value)
            self.assertNotEqual(result.returncode, 0, value)
            self.assertIn("--report-missed-pods-interval", result.stderr, value)
            self.assertIn(words, result.stderr, value)
            self.assertNotIn("Traceback", result.stderr)


if __name__ == "__main__":
    unittest.main()
