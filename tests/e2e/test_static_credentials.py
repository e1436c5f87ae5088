"""Static AWS credentials: each --static-credentials mode through the real
server, `mutate` showing the stripping, and `audit` on a directory."""

import json
import os
import subprocess
import tempfile
import unittest

from webhook_fixture import (BINARY, SOURCE, WebhookTestCase, pod_of, review, service_account,
                             service_accounts)

AUDIT_DATA = os.path.join(SOURCE, "tests", "e2e", "testdata", "audit")
SERVICE_ACCOUNTS = service_accounts(service_account("app", role="app"), service_account("legacy"))


def keyed_pod(service_account="app"):
    return pod_of("app-1", [{
        "name": "app", "image": "app:1",
        "env": [
            {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "k", "key": "id"}}},
            {"name": "KEEP", "value": "1"},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
        ],
        "volumeMounts": [{"name": "aws", "mountPath": "/root/.aws"}],
    }], service_account, volumes=[{"name": "aws", "secret": {"secretName": "aws"}}])


def env_names(container):
    return [e["name"] for e in container.get("env", [])]


class StaticCredentialModes(WebhookTestCase):
    SERVICE_ACCOUNTS = SERVICE_ACCOUNTS

    def test_strip_is_the_default_and_produces_one_consistent_patch(self):
        self.start()
        obj = keyed_pod()
        response = self.admit(review(obj))
        mutated = self.patched(obj, response)
        app = mutated["spec"]["containers"][0]
        self.assertEqual(env_names(app), ["KEEP", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"])
        self.assertEqual([m["name"] for m in app["volumeMounts"]], ["aws-iam-token"])
        self.assertEqual([v["name"] for v in mutated["spec"]["volumes"]], ["aws-iam-token"])
        self.assertEqual(response["auditAnnotations"]["static-credentials-removed"],
                         "app/env/AWS_ACCESS_KEY_ID,app/env/AWS_SECRET_ACCESS_KEY,app/volumeMount/aws,volume/aws")
        self.assertEqual(len(response["warnings"]), 4)
        for warning in response["warnings"]:
            self.assertLess(len(warning), 120)
            self.assertFalse(warning.startswith("Warning"))
        # Idempotent, and never a secret value in the answer or the log.
        again = self.admit(review(mutated))
        self.assertNotIn("patch", again)
        self.assertNotIn("wJalr", json.dumps(response))
        self.assertNotIn("wJalr", self.log())

    def test_warn_reports_and_changes_nothing_of_the_users(self):
        self.start("--static-credentials=warn")
        obj = keyed_pod()
        response = self.admit(review(obj))
        mutated = self.patched(obj, response)
        self.assertEqual(env_names(mutated["spec"]["containers"][0])[:3],
                         ["AWS_ACCESS_KEY_ID", "KEEP", "AWS_SECRET_ACCESS_KEY"])
        self.assertIn("static-credentials-found", response["auditAnnotations"])
        self.assertEqual(len(response["warnings"]), 4)

    def test_deny_rejects_with_the_list_and_the_fix(self):
        self.start("--static-credentials=deny")
        response = self.admit(review(keyed_pod(), api_version="admission.k8s.io/v1beta1"))
        self.assertFalse(response["allowed"])
        self.assertEqual(response["status"]["code"], 403)
        message = response["status"]["message"]
        self.assertIn("AWS_ACCESS_KEY_ID", message)
        self.assertIn("/root/.aws", message)
        self.assertIn("Remove them", message)

    def test_opt_out_needs_the_flag(self):
        obj = keyed_pod()
        obj["metadata"]["annotations"] = {"eks.amazonaws.com/keep-static-credentials": "true"}
        self.start("--static-credentials=deny", "--allow-static-credentials-opt-out")
        response = self.admit(review(obj))
        self.assertTrue(response["allowed"])
        mutated = self.patched(obj, response)
        self.assertIn("AWS_SECRET_ACCESS_KEY", env_names(mutated["spec"]["containers"][0]))

    def test_unmanaged_pods_are_never_stripped(self):
        self.start("--static-credentials-unmanaged=warn")
        obj = keyed_pod("legacy")
        response = self.admit(review(obj))
        self.assertTrue(response["allowed"])
        self.assertNotIn("patch", response)
        self.assertEqual(len(response["warnings"]), 4)

    def test_unmanaged_deny(self):
        self.start("--static-credentials-unmanaged=deny")
        response = self.admit(review(keyed_pod("legacy")))
        self.assertFalse(response["allowed"])
        self.assertIn("no IAM role", response["status"]["message"])

    def test_bad_mode_stops_the_start(self):
        done = subprocess.run([BINARY, "--static-credentials=maybe"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--static-credentials must be off, warn, strip or deny", done.stderr)


class OfflineCommands(unittest.TestCase):
    def run_binary(self, *args):
        return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=30)

    def test_mutate_shows_the_stripping(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "pod.json")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(keyed_pod(), handle)
            sa_file = os.path.join(tmp, "service-accounts.yaml")
            with open(sa_file, "w", encoding="utf-8") as handle:
                handle.write(SERVICE_ACCOUNTS)
            done = self.run_binary("mutate", "--pod", path, "--service-account", sa_file)
            self.assertEqual(done.returncode, 0, done.stderr)
            removed = [op["path"] for op in json.loads(done.stdout) if op["op"] == "remove"]
            self.assertEqual(sorted(removed), ["/spec/containers/0/env/0", "/spec/containers/0/env/2",
                                               "/spec/containers/0/volumeMounts/0", "/spec/volumes/0"])
            self.assertIn("removed container app: env AWS_ACCESS_KEY_ID", done.stderr)
            self.assertNotIn("wJalr", done.stderr)
            denied = self.run_binary("mutate", "--pod", path, "--service-account", sa_file,
                                     "--static-credentials=deny")
            self.assertEqual(denied.returncode, 1)
            self.assertEqual(denied.stdout, "")
            self.assertIn("would deny", denied.stderr)

    def test_audit_directory_text(self):
        done = self.run_binary("audit", "-f", AUDIT_DATA, "--service-account",
                               os.path.join(SOURCE, "examples", "service-accounts.yaml"),
                               "--static-credentials-secret-names", "*-aws-keys")
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("CronJob shop/nightly-report", done.stdout)
        self.assertIn("Deployment ops/backup", done.stdout)
        self.assertIn("StatefulSet default/worker", done.stdout)
        self.assertNotIn("DaemonSet", done.stdout)
        self.assertIn("4 workloads scanned, 3 with static AWS credentials (5 findings)", done.stdout)

    def test_audit_json_for_scripts(self):
        done = self.run_binary("audit", "-f", AUDIT_DATA, "--output", "json", "--service-account",
                               os.path.join(SOURCE, "examples", "service-accounts.yaml"))
        self.assertEqual(done.returncode, 1, done.stderr)
        report = json.loads(done.stdout)
        by_name = {w["name"]: w for w in report["workloads"]}
        self.assertEqual(by_name["nightly-report"]["action"], "strip")
        self.assertEqual(by_name["nightly-report"]["serviceAccount"], "shop/orders")
        self.assertEqual([f["name"] for f in by_name["nightly-report"]["findings"]],
                         ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
        backup = by_name["backup"]
        self.assertEqual(backup["action"], "allow")
        self.assertEqual(backup["findings"][0]["mountPath"], "/root/.aws/credentials")
        self.assertNotIn("worker", by_name)  # envFrom Secrets count only when named
        self.assertEqual(report["summary"], {"scanned": 4, "withStaticCredentials": 2, "findings": 4,
                                             "nonAwsEndpointFindings": 0,
                                             "secretContentFindings": 0})
        self.assertEqual({f["handling"] for f in backup["findings"]}, {"removable"})

    def test_audit_and_mutate_keep_keys_of_containers_left_out(self):
        manifest = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "mixed", "namespace": "shop"},
            "spec": {"template": {
                "metadata": {"annotations": {"eks.amazonaws.com/include-containers": "app",
                                             "eks.amazonaws.com/rolearn": "x"}},
                "spec": {"serviceAccountName": "orders", "containers": [
                    {"name": "app", "image": "a",
                     "env": [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAEXAMPLEEXAMPLE12"}]},
                    {"name": "legacy", "image": "b",
                     "env": [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAEXAMPLEEXAMPLE34"}]}]}}}}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "mixed.json")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(manifest, handle)
            sa_file = os.path.join(SOURCE, "examples", "service-accounts.yaml")
            text = self.run_binary("audit", "-f", path, "--service-account", sa_file)
            self.assertEqual(text.returncode, 1, text.stderr)
            self.assertIn("container app: env AWS_ACCESS_KEY_ID (", text.stdout)
            self.assertNotIn("container app: env AWS_ACCESS_KEY_ID (static access key as a literal "
                             "value) [kept", text.stdout)
            self.assertRegex(text.stdout, r"container legacy: env AWS_ACCESS_KEY_ID \(.*\) \[kept: "
                                          r"the container gets no AWS identity\]")
            # The Pod template's annotation problems, as notes on stderr.
            self.assertIn("note: Deployment shop/mixed", text.stderr)
            self.assertIn("Pod annotation eks.amazonaws.com/rolearn is unknown: did you mean "
                          "eks.amazonaws.com/role-arn?", text.stderr)
            report = json.loads(self.run_binary("audit", "-f", path, "--service-account", sa_file,
                                                "-o", "json").stdout)
            findings = report["workloads"][0]["findings"]
            self.assertEqual([(f["container"], f.get("kept", False)) for f in findings],
                             [("app", False), ("legacy", True)])

            pod = dict(manifest["spec"]["template"], apiVersion="v1", kind="Pod")
            pod["metadata"] = dict(pod["metadata"], name="mixed-1", namespace="shop")
            pod_path = os.path.join(tmp, "pod.json")
            with open(pod_path, "w", encoding="utf-8") as handle:
                json.dump(pod, handle)
            done = self.run_binary("mutate", "--pod", pod_path, "--service-account", sa_file,
                                   "--output", "pod")
            self.assertEqual(done.returncode, 0, done.stderr)
            mutated = json.loads(done.stdout)
            app, legacy = mutated["spec"]["containers"]
            self.assertNotIn("AWS_ACCESS_KEY_ID", env_names(app))
            self.assertIn("AWS_ROLE_ARN", env_names(app))
            self.assertEqual(env_names(legacy), ["AWS_ACCESS_KEY_ID"])
            self.assertIn("kept (container gets no AWS identity): container legacy", done.stderr)
            self.assertIn("did you mean eks.amazonaws.com/role-arn?", done.stderr)
            self.assertNotIn("AKIAEXAMPLE", done.stderr)

    def test_audit_exit_codes(self):
        clean = self.run_binary("audit", "-f", os.path.join(AUDIT_DATA, "clean.yaml"))
        self.assertEqual(clean.returncode, 0, clean.stderr)
        self.assertIn("1 workload scanned, 0 with static AWS credentials (0 findings)", clean.stdout)
        missing = self.run_binary("audit", "-f", "/nonexistent/manifests.yaml")
        self.assertEqual(missing.returncode, 2)
        self.assertIn("/nonexistent/manifests.yaml", missing.stderr)
        usage = self.run_binary("audit")
        self.assertEqual(usage.returncode, 2)
        self.assertIn("-f FILE|DIR is required", usage.stderr)


if __name__ == "__main__":
    unittest.main()
