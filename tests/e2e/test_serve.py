"""The real binary serving over real TLS on 127.0.0.1, driven as the API server does."""

import copy
import json
import os
import signal
import socket
import subprocess
import unittest

from webhook_fixture import (BINARY, STOP_DEADLINE, REQUEST_TIMEOUT, WebhookTestCase,
                             env_of, free_port, pod, review, service_account, service_accounts)

ROLE_ARN = "arn:aws:iam::111122223333:role/s3-reader"
MOUNT_PATH = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
SERVICE_ACCOUNTS = service_accounts(
    service_account("s3-reader", role="s3-reader"), service_account("plain"),
    service_account("custom", annotations={"example.com/role-arn": "arn:aws:iam::111122223333:role/custom"}))


class ServeOverTls(WebhookTestCase):
    SERVICE_ACCOUNTS = SERVICE_ACCOUNTS

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
        for name in ("plain", "nobody"):
            with self.subTest(service_account=name):
                response = self.admit(review(pod(name)))
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


ISSUE20_SERVICE_ACCOUNTS = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: regional
  namespace: team-a
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/regional
    eks.amazonaws.com/region: eu-central-1
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: typo
  namespace: team-a
  annotations:
    eks.amazonaws.com/rolearn: arn:aws:iam::111122223333:role/typo
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: short-arn
  namespace: team-a
  annotations:
    eks.amazonaws.com/role-arn: s3-reader
    eks.amazonaws.com/region: Frankfurt
    eks.amazonaws.com/token-expiration: tomorrow
"""


class IdentityDetailsOverTls(WebhookTestCase):
    """Issue 20 over the wire: container lists, Windows, region, fsGroup, warnings."""

    SERVICE_ACCOUNTS = ISSUE20_SERVICE_ACCOUNTS

    def assert_warnings_fit(self, response):
        for warning in response.get("warnings", []):
            self.assertLess(len(warning), 120, warning)

    def test_include_containers_and_csv_skip_containers(self):
        self.start()
        obj = pod("regional")
        obj["metadata"]["annotations"] = {"eks.amazonaws.com/include-containers": "sidecar"}
        response = self.admit(review(obj))
        mutated = self.patched(obj, response)
        self.assertNotIn("AWS_ROLE_ARN", env_of(mutated["spec"]["initContainers"][0]))
        self.assertNotIn("AWS_ROLE_ARN", env_of(mutated["spec"]["containers"][0]))
        self.assertEqual(env_of(mutated["spec"]["containers"][1])["AWS_ROLE_ARN"],
                         "arn:aws:iam::111122223333:role/regional")
        self.assertNotIn("warnings", response)

        obj = pod("regional")
        obj["metadata"]["annotations"] = {"eks.amazonaws.com/skip-containers": '"fetch","sidecar"'}
        mutated = self.patched(obj, self.admit(review(obj)))
        self.assertNotIn("AWS_ROLE_ARN", env_of(mutated["spec"]["initContainers"][0]))
        self.assertIn("AWS_ROLE_ARN", env_of(mutated["spec"]["containers"][0]))
        self.assertNotIn("AWS_ROLE_ARN", env_of(mutated["spec"]["containers"][1]))

        # A space before a quote: not one CSV record; nothing is skipped, and kubectl says why.
        obj["metadata"]["annotations"] = {"eks.amazonaws.com/skip-containers": '"fetch", "sidecar"'}
        response = self.admit(review(obj))
        mutated = self.patched(obj, response)
        for container in mutated["spec"]["initContainers"] + mutated["spec"]["containers"]:
            self.assertIn("AWS_ROLE_ARN", env_of(container))
        self.assertEqual(response["warnings"],
                         ['eks.amazonaws.com/skip-containers is not valid CSV (bare " at line 1, '
                          'column 10): no container is skipped'])
        self.assert_warnings_fit(response)
        self.assertIn("pod identity configuration problem", self.log())

    def test_windows_by_os_and_node_affinity(self):
        self.start()
        windows_path = "C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token"
        by_os = pod("regional")
        by_os["spec"]["os"] = {"name": "windows"}
        by_affinity = pod("regional")
        term = {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]}
        by_affinity["spec"]["affinity"] = {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term, term]}}}
        mixed = copy.deepcopy(by_affinity)
        mixed["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"][1]["matchExpressions"][0]["values"] = ["linux"]
        for name, obj, path in (("os", by_os, windows_path), ("affinity", by_affinity, windows_path),
                                ("mixed", mixed, MOUNT_PATH + "/token")):
            with self.subTest(name):
                mutated = self.patched(obj, self.admit(review(obj)))
                self.assertEqual(env_of(mutated["spec"]["containers"][0])["AWS_WEB_IDENTITY_TOKEN_FILE"],
                                 path)

    def test_service_account_region_wins_over_the_flag(self):
        self.start("--aws-default-region", "us-west-2")
        mutated = self.patched(pod("regional"), self.admit(review(pod("regional"))))
        for container in mutated["spec"]["initContainers"] + mutated["spec"]["containers"]:
            self.assertEqual(env_of(container)["AWS_REGION"], "eu-central-1")
            self.assertEqual(env_of(container)["AWS_DEFAULT_REGION"], "eu-central-1")
        # A malformed region is ignored with a warning: the flag applies.
        response = self.admit(review(pod("short-arn")))
        mutated = self.patched(pod("short-arn"), response)
        self.assertEqual(env_of(mutated["spec"]["containers"][0])["AWS_REGION"], "us-west-2")
        self.assertTrue(any('region "Frankfurt" is not a region name' in w for w in response["warnings"]),
                        response["warnings"])

    def test_inject_fs_group(self):
        self.start("--inject-fs-group", "65534")
        mutated = self.patched(pod("regional"), self.admit(review(pod("regional"))))
        self.assertEqual(mutated["spec"]["securityContext"], {"fsGroup": 65534})
        obj = pod("regional")
        obj["spec"]["securityContext"] = {"runAsUser": 1000, "fsGroup": 7}
        mutated = self.patched(obj, self.admit(review(obj)))
        self.assertEqual(mutated["spec"]["securityContext"], {"runAsUser": 1000, "fsGroup": 7})
        again = self.admit(review(mutated, uid="again"))
        self.assertNotIn("patch", again)

    def test_inject_fs_group_is_validated_at_start(self):
        done = subprocess.run(
            [BINARY, "--port", str(free_port()), "--bind-address", "127.0.0.1",
             "--tls-cert", os.path.join(self.certs, "tls.crt"),
             "--tls-key", os.path.join(self.certs, "tls.key"),
             "--service-accounts-file", self.service_accounts, "--inject-fs-group=0"],
            capture_output=True, text=True, timeout=STOP_DEADLINE)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("--inject-fs-group must be a group ID from 1 to 2147483647", done.stderr)

    def test_broken_identity_gets_warnings_instead_of_a_silent_no_op(self):
        self.start()
        response = self.admit(review(pod("typo")))
        self.assertTrue(response["allowed"])
        self.assertNotIn("patch", response)
        self.assertEqual(response["warnings"],
                         ["ServiceAccount typo: annotation eks.amazonaws.com/rolearn is unknown: did you "
                          "mean eks.amazonaws.com/role-arn?"])
        response = self.admit(review(pod("short-arn")))
        self.assertIn("patch", response)  # kept, as AWS's webhook keeps it
        joined = "\n".join(response["warnings"])
        self.assertIn('role-arn "s3-reader" is not an IAM role ARN', joined)
        self.assertIn('token-expiration "tomorrow" is not an integer', joined)
        self.assert_warnings_fit(response)
        obj = pod("regional")
        obj["metadata"]["annotations"] = {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x",
                                          "eks.amazonaws.com/token-expiration": "1h"}
        response = self.admit(review(obj))
        self.assertEqual(response["warnings"], [
            "Pod annotation eks.amazonaws.com/role-arn belongs on the ServiceAccount: here it is ignored",
            'Pod annotation eks.amazonaws.com/token-expiration "1h" is not a valid number of seconds: '
            "ignored"])
        log = self.log()
        self.assertIn("pod identity configuration problem", log)
        self.assertIn("did you mean eks.amazonaws.com/role-arn?", log)


if __name__ == "__main__":
    unittest.main()
