"""`irsa-webhook audit --from-cluster` against the fake API server over TLS.

The fake holds a small shop: Deployments whose Pods were admitted with and
without the webhook, a StatefulSet whose ServiceAccount lost its role, a
CronJob's Job, a bare Pod, static keys in a template and in a Secret read
whole, and ServiceAccounts with a mistyped annotation key and a role-arn that
is not a role. The audit must find exactly what is wrong, page by page,
through an expired continue token, and say what it cannot see when RBAC
refuses Secrets.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "fakes"))
from fake_apiserver import PREFIX, FakeApiServer, write_kubeconfig, write_pki  # noqa: E402
from test_kube import BINARY, ROLE, TOKEN  # noqa: E402

OLD_ROLE = "arn:aws:iam::111122223333:role/old"
RUN_TIMEOUT = 60


def container(name="app", env=None, env_from=None):
    out = {"name": name, "image": "registry.example/app:1.0"}
    if env:
        out["env"] = env
    if env_from:
        out["envFrom"] = env_from
    return out


def spec(service_account, containers=None):
    return {"serviceAccountName": service_account,
            "containers": containers or [container()]}


def injected(pod_spec, role=ROLE):
    """The spec as the webhook admits it."""
    pod_spec = json.loads(json.dumps(pod_spec))
    pod_spec.setdefault("volumes", []).append({
        "name": "aws-iam-token",
        "projected": {"sources": [{"serviceAccountToken": {
            "audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}}]}})
    for c in pod_spec["containers"]:
        c.setdefault("env", []).extend([
            {"name": "AWS_ROLE_ARN", "value": role},
            {"name": "AWS_WEB_IDENTITY_TOKEN_FILE",
             "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}])
        c.setdefault("volumeMounts", []).append({
            "name": "aws-iam-token", "readOnly": True,
            "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"})
    return pod_spec


def meta(namespace, name, labels=None, owner=None):
    out = {"namespace": namespace, "name": name, "labels": labels or {}}
    if owner:
        kind, owner_name = owner
        out["ownerReferences"] = [{
            "apiVersion": "batch/v1" if kind in ("Job", "CronJob") else "apps/v1",
            "kind": kind, "name": owner_name, "uid": f"uid-{owner_name}",
            "controller": True, "blockOwnerDeletion": True}]
    return out


def template_workload(kind, namespace, name, pod_spec, labels):
    api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    template = {"metadata": {"labels": labels}, "spec": pod_spec}
    body = {"selector": {"matchLabels": labels}, "template": template}
    if kind == "CronJob":
        body = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}
    return {"apiVersion": api, "kind": kind, "metadata": meta(namespace, name, labels), "spec": body}


def pod(namespace, name, pod_spec, labels, owner=None, phase="Running"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(namespace, name, labels, owner),
            "spec": pod_spec, "status": {"phase": phase}}


def deployment(namespace, name, service_account, pods, containers=None):
    """A Deployment, its ReplicaSet and Pods: `pods` maps a Pod name to
    whether the webhook mutated it."""
    labels = {"app": name}
    pod_spec = spec(service_account, containers)
    replica_set = f"{name}-5d8f9c"
    objects = [template_workload("Deployment", namespace, name, pod_spec, labels),
               {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": meta(namespace, replica_set, {**labels, "pod-template-hash": "5d8f9c"},
                                 ("Deployment", name)),
                "spec": {"template": {"metadata": {"labels": labels}, "spec": pod_spec}}}]
    for pod_name, mutated in pods.items():
        objects.append(pod(namespace, pod_name, injected(pod_spec) if mutated else pod_spec, labels,
                           ("ReplicaSet", replica_set)))
    return objects


def shop():
    keys = [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}]
    objects = []
    objects += deployment("shop", "cart", "cart", {"cart-5d8f9c-aaaaa": False,
                                                   "cart-5d8f9c-bbbbb": True})
    objects += deployment("shop", "fixed", "cart", {"fixed-5d8f9c-ccccc": True})
    objects += deployment("shop", "keys", "cart", {"keys-5d8f9c-ddddd": True},
                          [container(env=keys)])
    objects += deployment("shop", "envfrom", "legacy", {"envfrom-5d8f9c-eeeee": False},
                          [container(env_from=[{"secretRef": {"name": "aws-creds"}}])])
    objects += deployment("shop", "oldrole", "cart", {"oldrole-5d8f9c-fffff": False})
    objects[-1] = pod("shop", "oldrole-5d8f9c-fffff", injected(spec("cart"), OLD_ROLE),
                      {"app": "oldrole"}, ("ReplicaSet", "oldrole-5d8f9c"))
    objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta("shop", "aws-creds"),
                    "type": "Opaque",
                    "data": {"AWS_ACCESS_KEY_ID": "QUtJQUlPU0ZPRE5ON0VYQU1QTEU=",
                             "AWS_SECRET_ACCESS_KEY": "c2VjcmV0LXZhbHVlLW5ldmVyLXByaW50ZWQ="}})
    objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta("shop", "tls"),
                    "type": "kubernetes.io/tls", "data": {"tls.crt": "eA==", "tls.key": "eA=="}})
    # A StatefulSet whose ServiceAccount lost its role.
    objects.append(template_workload("StatefulSet", "shop", "db", spec("gone"), {"app": "db"}))
    objects.append(pod("shop", "db-0", injected(spec("gone")), {"app": "db"},
                       ("StatefulSet", "db")))
    # A CronJob's running Job's Pod, admitted while the webhook was down.
    objects.append(template_workload("CronJob", "shop", "backup", spec("cart"), {"app": "backup"}))
    objects.append({"apiVersion": "batch/v1", "kind": "Job",
                    "metadata": meta("shop", "backup-28000", {"app": "backup"},
                                     ("CronJob", "backup")),
                    "spec": {"template": {"spec": spec("cart")}}})
    objects.append(pod("shop", "backup-28000-xk2p9", spec("cart"), {"app": "backup"},
                       ("Job", "backup-28000")))
    # A finished one is not running: nothing to fix.
    objects.append(pod("shop", "backup-27999-done1", spec("cart"), {"app": "backup"},
                       ("Job", "backup-27999"), phase="Succeeded"))
    # A bare Pod.
    objects.append(pod("shop", "debug", spec("cart"), {"app": "debug"}))
    # Another namespace.
    objects += deployment("other", "web", "web", {"web-5d8f9c-ggggg": False})
    return objects


def service_accounts(fake):
    fake.put_sa("shop", "cart", ROLE)
    fake.put_sa("shop", "legacy")
    fake.put_sa("shop", "gone")
    fake.put_sa("other", "web", "arn:aws:iam::111122223333:role/web")
    fake.admin("POST", "/serviceaccounts", {
        "namespace": "shop", "name": "typo", "annotations": {f"{PREFIX}/rolearn": ROLE}})
    fake.admin("POST", "/serviceaccounts", {
        "namespace": "shop", "name": "badarn",
        "annotations": {f"{PREFIX}/role-arn": "arn:aws:iam::111122223333:user/bob"}})


class AuditCluster(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = write_pki(os.path.join(cls.tmp.name, "pki"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.work = tempfile.mkdtemp(dir=self.tmp.name)
        self.fake = FakeApiServer(self.work, self.pki, token=TOKEN).start()
        service_accounts(self.fake)
        stored = self.fake.admin("POST", "/objects", {"objects": shop()})
        self.assertEqual(stored["stored"], len(shop()))
        self.config = self.kubeconfig(self.fake.port)

    def tearDown(self):
        self.fake.kill()
        shutil.rmtree(self.work, ignore_errors=True)

    def kubeconfig(self, port):
        return write_kubeconfig(os.path.join(self.work, "kubeconfig"), port, os.path.join(self.pki, "ca.crt"),
                                {"token": TOKEN}, user_name="audit")

    def audit(self, *args, kubeconfig=True, env=None):
        command = [BINARY, "audit", *args]
        if kubeconfig:
            command[2:2] = ["--from-cluster", "--kubeconfig", self.config]
        return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                              env=env)

    def audit_json(self, *args):
        result = self.audit("--output", "json", *args)
        self.assertIn(result.returncode, (0, 1), result.stderr)
        return result.returncode, json.loads(result.stdout)

    @staticmethod
    def by_name(report):
        return {f'{w["kind"]} {w["namespace"]}/{w["name"]}': w for w in report["workloads"]}

    # --- what it finds ------------------------------------------------------

    def test_text_report_names_each_problem_and_its_fix(self):
        result = self.audit()
        self.assertEqual(result.returncode, 1, result.stderr)
        out = result.stdout
        self.assertIn("Deployment shop/cart (ServiceAccount cart)", out)
        self.assertIn("1 Pod missed its identity (missing-token-volume: 1)", out)
        self.assertIn("Pod cart-5d8f9c-aaaaa: missing-token-volume", out)
        self.assertIn("fix: kubectl rollout restart deployment/cart -n shop", out)
        self.assertNotIn("cart-5d8f9c-bbbbb", out)  # mutated: fine
        self.assertNotIn("shop/fixed", out)
        self.assertIn("CronJob shop/backup", out)
        self.assertNotIn("backup-27999-done1", out)  # finished
        self.assertIn("StatefulSet shop/db", out)
        self.assertIn("identity-removed", out)
        self.assertIn("kubectl rollout restart statefulset/db -n shop", out)
        self.assertIn("role-changed", out)
        self.assertIn(OLD_ROLE, out)
        self.assertIn("Pod shop/debug", out)
        self.assertIn("kubectl delete pod debug -n shop", out)
        self.assertIn("Deployment shop/keys", out)
        self.assertIn("static AWS credentials: strip", out)
        self.assertIn("AWS_SECRET_ACCESS_KEY", out)
        self.assertIn("Secret aws-creds holds AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY", out)
        self.assertIn("ServiceAccount shop/typo", out)
        self.assertIn("rolearn", out)
        self.assertIn("ServiceAccount shop/badarn", out)
        self.assertIn("Deployment other/web", out)
        # Values never appear.
        for value in ("AKIAIOSFODNN7EXAMPLE", "QUtJQUlPU0ZPRE5ON0VYQU1QTEU=",
                      "c2VjcmV0LXZhbHVlLW5ldmVyLXByaW50ZWQ=", "wJalrXUtnFEMI"):
            self.assertNotIn(value, out + result.stderr)
        self.assertRegex(out, r"\n10 Pods read; 2 workloads with static AWS credentials")

    def test_json_shape(self):
        code, report = self.audit_json()
        self.assertEqual(code, 1)
        self.assertEqual(set(report), {"workloads", "serviceAccounts", "unknown", "notes",
                                       "summary"})
        workloads = self.by_name(report)
        self.assertEqual(set(workloads), {
            "Deployment shop/cart", "Deployment shop/keys", "Deployment shop/envfrom",
            "Deployment shop/oldrole", "StatefulSet shop/db", "CronJob shop/backup", "Pod shop/debug",
            "Deployment other/web"})
        cart = workloads["Deployment shop/cart"]
        self.assertEqual(cart["serviceAccount"], "shop/cart")
        self.assertNotIn("staticCredentials", cart)
        missed = cart["missedIdentity"]
        self.assertEqual(missed["pods"], 1)
        self.assertEqual(missed["reasons"], {"missing-token-volume": 1})
        self.assertEqual(missed["examples"], [{"pod": "cart-5d8f9c-aaaaa",
                                               "reason": "missing-token-volume"}])
        self.assertEqual(missed["fix"], "kubectl rollout restart deployment/cart -n shop")
        self.assertEqual(workloads["StatefulSet shop/db"]["missedIdentity"]["reasons"],
                         {"identity-removed": 1})
        oldrole = workloads["Deployment shop/oldrole"]["missedIdentity"]
        self.assertEqual(oldrole["examples"][0]["carriedRole"], OLD_ROLE)
        keys = workloads["Deployment shop/keys"]["staticCredentials"]
        self.assertEqual(keys["action"], "strip")
        self.assertEqual({f["name"] for f in keys["findings"]},
                         {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"})
        envfrom = workloads["Deployment shop/envfrom"]
        # The webhook never reads Secrets: it does nothing about these.
        self.assertEqual(envfrom["staticCredentials"]["action"], "none")
        self.assertIn("--static-credentials-secret-names", envfrom["staticCredentials"]["why"])
        self.assertEqual(envfrom["staticCredentials"]["findings"][0]["keys"],
                         ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
        # legacy has no role: its Pod is not missing anything.
        self.assertNotIn("missedIdentity", envfrom)
        self.assertEqual({(s["namespace"], s["name"]) for s in report["serviceAccounts"]},
                         {("shop", "typo"), ("shop", "badarn")})
        self.assertEqual(report["unknown"], [])
        summary = report["summary"]
        self.assertEqual(summary["pods"], 10)
        self.assertEqual(summary["missedPods"], 6)
        self.assertEqual(summary["workloadsWithMissedPods"], 6)
        self.assertEqual(summary["withStaticCredentials"], 2)
        self.assertEqual(summary["serviceAccountsWithProblems"], 2)
        self.assertEqual(summary["listRestarts"], 0)

    def test_a_clean_cluster_exits_0(self):
        self.fake.kill()
        self.fake = FakeApiServer(self.work, self.pki, token=TOKEN).start()
        self.fake.put_sa("shop", "cart", ROLE)
        self.fake.admin("POST", "/objects", {"objects": deployment(
            "shop", "fixed", "cart", {"fixed-5d8f9c-a": True, "fixed-5d8f9c-b": True})})
        self.config = self.kubeconfig(self.fake.port)
        result = self.audit()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("2 Pods read; 0 workloads with static AWS credentials", result.stdout)

    # --- how it reads -------------------------------------------------------

    def test_keys_for_a_non_aws_endpoint_are_listed_apart(self):
        """As file audit: MinIO keys with their endpoint in the container are
        kept by the webhook, so they are listed apart, not under the strip."""
        self.fake.kill()
        self.fake = FakeApiServer(self.work, self.pki, token=TOKEN).start()
        self.fake.put_sa("shop", "cart", ROLE)
        minio = [{"name": "AWS_ACCESS_KEY_ID", "value": "minio-user"},
                 {"name": "AWS_SECRET_ACCESS_KEY", "value": "minio-secret-never-printed"},
                 {"name": "AWS_ENDPOINT_URL", "value": "http://minio.storage:9000"}]
        aws = [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"},
               {"name": "AWS_SECRET_ACCESS_KEY", "value": "aws-secret-never-printed"}]
        objects = deployment("shop", "mixed", "cart", {"mixed-5d8f9c-a": True},
                             [container("uploader", env=minio), container("app", env=aws)])
        self.fake.admin("POST", "/objects", {"objects": objects})
        self.config = self.kubeconfig(self.fake.port)

        code, report = self.audit_json()
        self.assertEqual(code, 1)
        credentials = self.by_name(report)["Deployment shop/mixed"]["staticCredentials"]
        self.assertEqual(credentials["action"], "strip")
        handling = {(f["container"], f["name"]): f["handling"] for f in credentials["findings"]}
        self.assertEqual(handling, {
            ("uploader", "AWS_ACCESS_KEY_ID"): "non-aws-endpoint",
            ("uploader", "AWS_SECRET_ACCESS_KEY"): "non-aws-endpoint",
            ("app", "AWS_ACCESS_KEY_ID"): "removable",
            ("app", "AWS_SECRET_ACCESS_KEY"): "removable"})
        endpoints = {f.get("endpoint") for f in credentials["findings"]
                     if f["container"] == "uploader"}
        self.assertEqual(endpoints, {"AWS_ENDPOINT_URL minio.storage"})
        self.assertEqual(report["summary"]["nonAwsEndpointFindings"], 2)

        result = self.audit()
        self.assertEqual(result.returncode, 1, result.stderr)
        out = result.stdout
        self.assertNotIn("never-printed", out + result.stderr)
        self.assertNotIn("minio-user", out + result.stderr)
        heading = "keys for a non-AWS endpoint (AWS_ENDPOINT_URL minio.storage): kept"
        self.assertIn(heading, out)
        # The AWS keys are under the action, the MinIO keys after the heading.
        before, after = out.split(heading, 1)
        self.assertIn("container app", before)
        self.assertNotIn("container uploader", before)
        self.assertIn("container uploader", after)
        self.assertNotIn("container app", after)
        self.assertIn("(4 findings, 2 for non-AWS endpoints)", out)

    def test_pages_and_an_expired_continue_token(self):
        _, whole = self.audit_json()
        before = len(self.fake.admin("GET", "/requests"))
        self.fake.admin("POST", "/expire-continues", {"count": 2})
        code, paged = self.audit_json("--page-size", "2")
        self.assertEqual(code, 1)
        self.assertEqual(paged["workloads"], whole["workloads"])
        self.assertEqual(paged["serviceAccounts"], whole["serviceAccounts"])
        self.assertGreaterEqual(paged["summary"]["listRestarts"], 1)
        self.assertEqual(paged["summary"]["pods"], 10)
        requests = self.fake.admin("GET", "/requests")[before:]
        pods = [r for r in requests if r["path"] == "/api/v1/pods"]
        self.assertGreaterEqual(len(pods), 5)
        self.assertTrue(all(r["params"].get("limit") == "2" for r in pods))
        self.assertTrue(any("continue" in r["params"] for r in pods))

    def test_a_continue_token_that_keeps_expiring_is_an_error(self):
        self.fake.admin("POST", "/expire-continues", {"count": 1000})
        result = self.audit("--page-size", "1")
        self.assertEqual(result.returncode, 2)
        self.assertIn("410 Gone", result.stderr)

    def test_secrets_forbidden_are_unknown_with_the_rule_to_grant(self):
        self.fake.admin("POST", "/deny", {"resources": ["secrets"]})
        result = self.audit()
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("Secrets: unknown: HTTP 403: secrets is forbidden", result.stdout)
        self.assertIn('resources: ["secrets"]', result.stdout)
        self.assertIn('verbs: ["list"]', result.stdout)
        self.assertIn("Secrets read whole: unknown (Secrets cannot be listed): aws-creds",
                      result.stdout)
        code, report = self.audit_json()
        self.assertEqual(report["unknown"][0]["resource"], "secrets")
        self.assertEqual(report["unknown"][0]["grant"],
                         {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]})
        envfrom = self.by_name(report)["Deployment shop/envfrom"]
        self.assertEqual(envfrom["unknownSecrets"], ["aws-creds"])
        self.assertNotIn("staticCredentials", envfrom)

    def test_pods_forbidden_is_an_error(self):
        self.fake.admin("POST", "/deny", {"resources": ["pods"]})
        result = self.audit()
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot list Pods: HTTP 403: pods is forbidden", result.stderr)
        self.assertEqual(result.stdout, "")

    def test_namespace_and_selector(self):
        _, report = self.audit_json("--namespace", "other")
        self.assertEqual(set(self.by_name(report)), {"Deployment other/web"})
        paths = {r["path"] for r in self.fake.admin("GET", "/requests")}
        self.assertIn("/api/v1/namespaces/other/pods", paths)
        self.assertNotIn("/api/v1/pods", paths)
        _, report = self.audit_json("--selector", "app in (cart,debug)")
        self.assertEqual(set(self.by_name(report)), {"Deployment shop/cart", "Pod shop/debug"})
        self.assertEqual(report["summary"]["pods"], 3)
        _, report = self.audit_json("--selector", "app!=cart,app notin (db,backup),app")
        self.assertEqual(set(self.by_name(report)), {
            "Deployment shop/keys", "Deployment shop/envfrom", "Deployment shop/oldrole",
            "Pod shop/debug", "Deployment other/web"})
        _, report = self.audit_json("--selector", "!app")
        self.assertEqual(report["workloads"], [])
        self.assertEqual(report["summary"]["pods"], 0)
        result = self.audit("--selector", "app in (cart")
        self.assertEqual(result.returncode, 2)
        self.assertIn("HTTP 400", result.stderr)

    def test_config_map_role_mapping(self):
        self.fake.admin("POST", "/configmaps", {
            "namespace": "irsa", "name": "pod-identity-webhook",
            "data": {"config": json.dumps({"shop/legacy": {"RoleARN": ROLE}})}})
        _, without = self.audit_json()
        self.assertNotIn("missedIdentity", self.by_name(without)["Deployment shop/envfrom"])
        _, mapped = self.audit_json("--watch-config-map", "--config-map-namespace", "irsa")
        envfrom = self.by_name(mapped)["Deployment shop/envfrom"]
        self.assertEqual(envfrom["missedIdentity"]["pods"], 1)
        self.assertEqual(envfrom["staticCredentials"]["why"].split(";")[0],
                         "its ServiceAccount has an AWS identity")
        # Named as a credentials Secret, the webhook's own decision strips it.
        _, named = self.audit_json("--watch-config-map", "--config-map-namespace", "irsa",
                                   "--static-credentials-secret-names", "aws-*")
        credentials = self.by_name(named)["Deployment shop/envfrom"]["staticCredentials"]
        self.assertEqual(credentials["action"], "strip")
        self.assertEqual([f["kind"] for f in credentials["findings"]], ["envFrom"])

    # --- bad input ----------------------------------------------------------

    def test_an_unreadable_pod_is_a_note_not_a_crash(self):
        broken = pod("shop", "broken\u001b[31m", {"serviceAccountName": "cart", "containers": "x"},
                     {"app": "broken"})
        self.fake.admin("POST", "/objects", {"objects": [broken]})
        code, report = self.audit_json()
        self.assertEqual(code, 1)
        self.assertEqual(len(report["notes"]), 1)
        self.assertIn("unreadable", report["notes"][0])
        self.assertIn("\\x1b", report["notes"][0])  # the control byte, escaped
        self.assertEqual(report["summary"]["pods"], 10)
        result = self.audit()
        self.assertIn("irsa-webhook audit: note: Pod", result.stderr)
        self.assertNotIn("\x1b", result.stderr)

    def test_bad_flags_are_clear_errors(self):
        cases = [
            (["--page-size", "0"], "--page-size must be a number from 1 to 10000"),
            (["--page-size", "x1"], "--page-size must be a number from 1 to 10000"),
            (["--output", "yaml"], "--output must be text or json"),
            (["-f", "x.yaml"], "-f and --service-account do not go with it"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                result = self.audit(*args)
                self.assertEqual(result.returncode, 2)
                self.assertIn(message, result.stderr)
        result = self.audit("-f", "x.yaml", "--namespace", "shop", kubeconfig=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--namespace needs --from-cluster", result.stderr)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        result = self.audit("--from-cluster", kubeconfig=False, env=env)
        self.assertEqual(result.returncode, 2)
        self.assertIn("no API server: pass --kubeconfig or --kube-api", result.stderr)

    def test_an_unreachable_server_is_exit_2(self):
        port = self.fake.port
        self.fake.kill()
        self.config = self.kubeconfig(port)
        result = self.audit()
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot list ServiceAccounts", result.stderr)
        self.assertIn(f"127.0.0.1:{port}", result.stderr)


if __name__ == "__main__":
    unittest.main()
