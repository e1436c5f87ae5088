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

from webhook_fixture import (BINARY, SOURCE, STOP_DEADLINE, REQUEST_TIMEOUT, WebhookTestCase,
                             env_of, free_port, pod, review)

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
