"""Hostile and ambiguous input through the real server: duplicate JSON keys
are refused with their path, a reply over --max-response-bytes is refused with
its reason, and control bytes from a review come out escaped in both log
formats."""

import json
import unittest

from webhook_fixture import WebhookTestCase, pod, review, service_account

SERVICE_ACCOUNTS = service_account("s3-reader", role="s3-reader")

UID = "0d7f5c6e-1111-4222-8333-444455556666"


class AmbiguousInput(WebhookTestCase):
    SERVICE_ACCOUNTS = SERVICE_ACCOUNTS

    def post(self, body):
        """Posts raw bytes; returns (status, parsed reply or text)."""
        status, _, answer = self.request("POST", "/mutate", body)
        if status == 200:
            return status, json.loads(answer)
        return status, answer.decode("utf-8", errors="replace")

    def denied(self, body):
        status, out = self.post(body)
        self.assertEqual(status, 200, out)
        response = out["response"]
        self.assertEqual(response["uid"], UID)
        self.assertFalse(response["allowed"], response)
        self.assertNotIn("patch", response)
        return response["status"]

    def test_duplicate_keys_are_refused_with_their_path(self):
        self.start()
        text = json.dumps(review(pod("default")))
        marker = '"serviceAccountName": "default"'
        self.assertIn(marker, text)
        # The webhook would read "default" (no role), the API server "s3-reader".
        doubled = text.replace(marker, marker + ', "serviceAccountName": "s3-reader"')
        status = self.denied(doubled.encode())
        self.assertEqual(status["code"], 400)
        self.assertIn('duplicate key "serviceAccountName" at /request/object/spec',
                      status["message"])

        # Deep in a container too, and in deny mode for static credentials: a
        # clean first `containers` and a keyed last one is not admitted.
        self.stop_and_start("--static-credentials=deny")
        obj = pod()
        clean = json.dumps(obj["spec"]["containers"])
        keyed = json.dumps([{"name": "app", "image": "nginx",
                             "env": [{"name": "AWS_SECRET_ACCESS_KEY", "value": "x" * 40}]}])
        text = json.dumps(review(obj))
        marker = '"containers": ' + clean
        self.assertIn(marker, text)
        status = self.denied(text.replace(marker, marker + ', "containers": ' + keyed).encode())
        self.assertIn('duplicate key "containers" at /request/object/spec', status["message"])

        doubled_env = text.replace('"name": "LOG_LEVEL"', '"name": "LOG_LEVEL", "name": "X"')
        status = self.denied(doubled_env.encode())
        self.assertIn('duplicate key "name" at /request/object/spec/containers/0/env/0',
                      status["message"])

        # The envelope itself: no uid to answer with, so HTTP 400.
        envelope = '{"apiVersion":"admission.k8s.io/v1","apiVersion":"admission.k8s.io/v1beta1",' \
                   + text[1:]
        status, answer = self.post(envelope.encode())
        self.assertEqual(status, 400, answer)
        self.assertIn('duplicate key "apiVersion"', answer)
        self.assertEqual(answer.count("\n"), 1, answer)
        self.assertIsNone(self.process.poll(), "the webhook exited:\n" + self.log())

    def test_a_reply_over_the_budget_is_refused_with_its_reason(self):
        self.start("--max-response-bytes", "65536")
        big = pod()
        big["spec"]["containers"] = [{"name": f"c{i}", "image": "nginx"} for i in range(400)]
        status = self.denied(json.dumps(review(big)).encode())
        self.assertEqual(status["code"], 413)
        self.assertIn("--max-response-bytes", status["message"])
        self.assertIn("65536", status["message"])
        self.assertIn("response too large", self.log())
        # A usual Pod under the same budget is answered as ever.
        response = self.admit(review(pod()))
        self.assertTrue(response["allowed"])
        self.assertIn("patch", response)

    def test_control_bytes_in_a_review_are_escaped_in_the_text_log(self):
        self.start()
        self.check_escaped_log(json_format=False)

    def test_control_bytes_in_a_review_are_escaped_in_the_json_log(self):
        self.start("--log-format", "json")
        self.check_escaped_log(json_format=True)

    def check_escaped_log(self, json_format):
        obj = pod("evil\r\x1b[2J\x00\x7fname")
        response = self.admit(review(obj))
        self.assertTrue(response["allowed"])
        log = self.log()
        line = next((line for line in log.splitlines() if "admission review" in line), None)
        self.assertIsNotNone(line, log)
        for raw in ("\r", "\x1b", "\x00", "\x7f"):
            self.assertNotIn(raw, log)
        self.assertIn(r"evil\u000d\u001b[2J\u0000\u007fname", line)
        if json_format:
            self.assertEqual(json.loads(line)["serviceaccount"], "evil\r\x1b[2J\x00\x7fname")

    def stop_and_start(self, *extra):
        self.process.kill()
        self.process.wait(timeout=15)
        self.log_file.close()
        self.start(*extra)


if __name__ == "__main__":
    unittest.main()
