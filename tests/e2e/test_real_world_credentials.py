"""Static credentials as they are in the real world (issue #19, items 1-3):
keys for a non-AWS endpoint kept while the role is injected, a hostPath
.aws removed, and `audit` resolving Secrets among its inputs without ever
printing a value. The real binary over TLS, and the offline command."""

import json
import os
import subprocess
import tempfile
import unittest

from webhook_fixture import BINARY, WebhookTestCase, pod_of, review, service_account

SERVICE_ACCOUNTS = service_account("app", role="app")

SECRET_VALUE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def minio_pod(endpoint_env=None):
    endpoint_env = endpoint_env or {"name": "AWS_ENDPOINT_URL", "value": "http://minio.storage:9000"}
    return pod_of("backup-1", [{
        "name": "backup", "image": "backup:1",
        "env": [
            {"name": "AWS_ACCESS_KEY_ID", "value": "minio"},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": SECRET_VALUE},
            endpoint_env,
        ],
    }])


def env_names(container):
    return [e["name"] for e in container.get("env", [])]


class NonAwsEndpointThroughTheServer(WebhookTestCase):
    SERVICE_ACCOUNTS = SERVICE_ACCOUNTS

    def assert_kept_with_identity(self, response, obj):
        self.assertTrue(response["allowed"])
        mutated = self.patched(obj, response)
        names = env_names(mutated["spec"]["containers"][0])
        self.assertEqual(names[:3], ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                     obj["spec"]["containers"][0]["env"][2]["name"]])
        self.assertIn("AWS_ROLE_ARN", names)
        self.assertIn("AWS_WEB_IDENTITY_TOKEN_FILE", names)
        self.assertEqual([v["name"] for v in mutated["spec"]["volumes"]], ["aws-iam-token"])
        self.assertNotIn(SECRET_VALUE, json.dumps(response))
        return mutated

    def test_minio_keys_are_kept_while_the_role_is_injected(self):
        self.start()
        obj = minio_pod()
        response = self.admit(review(obj))
        self.assert_kept_with_identity(response, obj)
        self.assertEqual(response["auditAnnotations"],
                         {"static-credentials-non-aws-endpoint":
                          "backup/env/AWS_ACCESS_KEY_ID,backup/env/AWS_SECRET_ACCESS_KEY"})
        self.assertEqual(len(response["warnings"]), 2)
        for warning in response["warnings"]:
            self.assertTrue(warning.startswith(
                "kept (keys for a non-AWS endpoint, AWS_ENDPOINT_URL minio.storage): "
                "container backup: env AWS_"), warning)
            self.assertLess(len(warning), 120)
        self.assertNotIn(SECRET_VALUE, self.log())

    def test_deny_admits_minio_keys_with_a_warning(self):
        self.start("--static-credentials=deny")
        obj = minio_pod()
        response = self.admit(review(obj))
        self.assert_kept_with_identity(response, obj)
        self.assertEqual(len(response["warnings"]), 2)

    def test_an_endpoint_the_webhook_cannot_see_keeps_the_keys(self):
        self.start("--static-credentials=deny")
        obj = minio_pod({"name": "S3_ENDPOINT",
                         "valueFrom": {"configMapKeyRef": {"name": "storage", "key": "endpoint"}}})
        response = self.admit(review(obj))
        self.assert_kept_with_identity(response, obj)
        self.assertIn("kept (endpoint not verifiable, S3_ENDPOINT): container backup",
                      response["warnings"][0])

    def test_an_aws_endpoint_does_not_save_the_keys(self):
        self.start()
        obj = minio_pod({"name": "AWS_ENDPOINT_URL_S3", "value": "https://s3.eu-west-1.amazonaws.com"})
        response = self.admit(review(obj))
        mutated = self.patched(obj, response)
        self.assertEqual(env_names(mutated["spec"]["containers"][0])[:1], ["AWS_ENDPOINT_URL_S3"])
        self.assertIn("static-credentials-removed", response["auditAnnotations"])

    def test_unmanaged_deny_admits_minio_keys_with_a_warning(self):
        self.start("--static-credentials-unmanaged=deny")
        obj = minio_pod()
        obj["spec"]["serviceAccountName"] = "no-role"
        response = self.admit(review(obj))
        self.assertTrue(response["allowed"])
        self.assertNotIn("patch", response)
        self.assertEqual(len(response["warnings"]), 2)
        self.assertIn("static-credentials-non-aws-endpoint", response["auditAnnotations"])

    def test_unmanaged_allow_the_default_does_not_look(self):
        self.start()
        obj = minio_pod()
        obj["spec"]["serviceAccountName"] = "no-role"
        response = self.admit(review(obj))
        self.assertTrue(response["allowed"])
        self.assertNotIn("warnings", response)
        self.assertNotIn("auditAnnotations", response)

    def test_off_says_nothing(self):
        self.start("--static-credentials=off")
        response = self.admit(review(minio_pod()))
        self.assertNotIn("warnings", response)
        self.assertNotIn("auditAnnotations", response)

    def test_host_path_aws_is_removed_and_other_volumes_reported(self):
        self.start()
        obj = pod_of("node-creds", [{"name": "app", "image": "app:1", "volumeMounts": [
            {"name": "node-aws", "mountPath": "/root/.aws"},
            {"name": "cache", "mountPath": "/home/app/.aws"}]}],
            volumes=[{"name": "node-aws", "hostPath": {"path": "/root/.aws"}}, {"name": "cache", "emptyDir": {}}])
        response = self.admit(review(obj))
        mutated = self.patched(obj, response)
        self.assertEqual([m["name"] for m in mutated["spec"]["containers"][0]["volumeMounts"]],
                         ["cache", "aws-iam-token"])
        self.assertEqual([v["name"] for v in mutated["spec"]["volumes"]], ["cache", "aws-iam-token"])
        self.assertEqual(response["auditAnnotations"]["static-credentials-removed"],
                         "app/volumeMount/node-aws,volume/node-aws")
        self.assertEqual(response["auditAnnotations"]["static-credentials-found"],
                         "app/volumeMount/cache")
        self.assertTrue(any(w.startswith("not removed (volume kind strip keeps): container app: "
                                         "volume cache at /home/app/.aws")
                            for w in response["warnings"]), response["warnings"])


AUDITED = """\
apiVersion: v1
kind: Secret
metadata: {name: app-keys, namespace: shop}
stringData:
  AWS_ACCESS_KEY_ID: AKIAEXAMPLEVALUE0001
  AWS_SECRET_ACCESS_KEY: %(secret)s
---
apiVersion: v1
kind: Secret
metadata: {name: cloud-credentials, namespace: shop}
data:
  cloud: %(file_b64)s
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, namespace: shop}
spec:
  selector: {matchLabels: {app: orders}}
  template:
    metadata: {labels: {app: orders}}
    spec:
      containers:
      - name: orders
        image: orders:1
        envFrom: [{secretRef: {name: app-keys}}]
      - name: uploader
        image: uploader:1
        volumeMounts: [{name: creds, mountPath: /credentials}]
      volumes:
      - {name: creds, secret: {secretName: cloud-credentials}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: thumbnails, namespace: shop}
spec:
  selector: {matchLabels: {app: thumbnails}}
  template:
    metadata: {labels: {app: thumbnails}}
    spec:
      containers:
      - name: thumbnails
        image: thumbnails:1
        env:
        - {name: AWS_ACCESS_KEY_ID, value: minio}
        - {name: AWS_SECRET_ACCESS_KEY, valueFrom: {secretKeyRef: {name: app-keys, key: AWS_SECRET_ACCESS_KEY}}}
        - {name: AWS_ENDPOINT_URL_S3, value: "http://minio.storage:9000"}
      - name: reports
        image: reports:1
        env:
        - {name: AWS_ACCESS_KEY_ID, valueFrom: {secretKeyRef: {name: app-keys, key: AWS_ACCESS_KEY_ID}}}
"""


class AuditRealWorld(unittest.TestCase):
    def audit(self, *args):
        import base64
        credentials_file = "[default]\nAWS_Access_Key_Id = AKIAFILEVALUE0002\naws_secret_access_key=%s\n" % SECRET_VALUE
        text = AUDITED % {"secret": SECRET_VALUE,
                          "file_b64": base64.b64encode(credentials_file.encode()).decode()}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "shop.yaml")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            return subprocess.run([BINARY, "audit", "-f", path, *args],
                                  capture_output=True, text=True, timeout=30)

    def assert_no_value(self, done):
        for value in (SECRET_VALUE, "AKIAEXAMPLEVALUE0001", "AKIAFILEVALUE0002", "QUtJQ"):
            self.assertNotIn(value, done.stdout)
            self.assertNotIn(value, done.stderr)

    def test_secrets_among_the_inputs_are_resolved_without_printing_values(self):
        done = self.audit("-o", "json")
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assert_no_value(done)
        report = json.loads(done.stdout)
        by_name = {w["name"]: w for w in report["workloads"]}
        self.assertEqual(set(by_name), {"orders", "thumbnails"})  # Secrets are no workloads
        orders = by_name["orders"]
        self.assertEqual(orders["action"], "none")
        self.assertEqual([(f["container"], f["kind"], f["name"], f["handling"])
                          for f in orders["findings"]],
                         [("orders", "envFrom", "app-keys", "secret-content"),
                          ("uploader", "volumeMount", "creds", "secret-content")])
        self.assertEqual(orders["findings"][0]["reason"],
                         "Secret gives AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY")
        self.assertEqual(orders["findings"][1]["reason"],
                         "Secret cloud-credentials holds an AWS credentials file (cloud)")
        thumbnails = by_name["thumbnails"]
        self.assertEqual(thumbnails["action"], "strip")
        self.assertEqual([(f["container"], f["name"], f["handling"], f.get("endpoint"))
                          for f in thumbnails["findings"]],
                         [("thumbnails", "AWS_ACCESS_KEY_ID", "non-aws-endpoint",
                           "AWS_ENDPOINT_URL_S3 minio.storage"),
                          ("thumbnails", "AWS_SECRET_ACCESS_KEY", "non-aws-endpoint",
                           "AWS_ENDPOINT_URL_S3 minio.storage"),
                          ("reports", "AWS_ACCESS_KEY_ID", "removable", None)])
        self.assertEqual(report["summary"], {"scanned": 2, "withStaticCredentials": 2, "findings": 5,
                                             "nonAwsEndpointFindings": 2, "secretContentFindings": 2})

    def test_text_lists_them_apart(self):
        done = self.audit()
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assert_no_value(done)
        lines = done.stdout.splitlines()
        start = lines.index(next(l for l in lines if l.startswith("Deployment shop/thumbnails")))
        self.assertIn(": strip, assuming its ServiceAccount gets an IAM role", lines[start])
        self.assertEqual(lines[start + 1:start + 5], [
            "  container reports: env AWS_ACCESS_KEY_ID (static access key from a reference)",
            "  keys for a non-AWS endpoint (AWS_ENDPOINT_URL_S3 minio.storage): kept, the webhook warns:",
            "    container thumbnails: env AWS_ACCESS_KEY_ID (static access key as a literal value)",
            "    container thumbnails: env AWS_SECRET_ACCESS_KEY (static access key from a reference)",
        ])
        self.assertIn("  seen only in Secrets among the inputs: the webhook never reads Secrets and "
                      "does nothing; remove the reference and use the role:", lines)
        self.assertIn("    container orders: envFrom Secret app-keys (Secret gives AWS_ACCESS_KEY_ID, "
                      "AWS_SECRET_ACCESS_KEY)", lines)
        self.assertEqual(lines[-1], "2 workloads scanned, 2 with static AWS credentials (5 findings, "
                                    "2 for non-AWS endpoints, 2 only in Secrets)")


if __name__ == "__main__":
    unittest.main()
