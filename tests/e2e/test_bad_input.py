"""docs/bad-input.md, checked against the real binary: the table is parsed,
every row is driven (HTTP requests to a running webhook, or the binary run
with a bad flag or file) and its `answer` and `reason contains` columns are
checked. A row without a driver here, or a driver without a row, fails: the
document cannot drift from what the binary does. Every wait is bounded."""

import base64
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webhook_fixture import (BINARY, SOURCE, WebhookTestCase, free_port,  # noqa: E402
                             pod, review, service_account, service_accounts)

DOC = os.path.join(SOURCE, "docs", "bad-input.md")
SERVICE_ACCOUNTS = service_accounts(service_account("s3-reader", role="s3-reader"), service_account("default"))
RUN_DEADLINE = 30.0


def parse_table(path):
    """The rows of the table whose header starts with `| case |`, as dicts."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    rows, header = [], None
    for line in lines:
        if not line.startswith("|"):
            if header is not None and rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            if cells and cells[0] == "case":
                header = cells
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        rows.append(dict(zip(header, cells)))
    return rows


def unquote(cell):
    """`text` -> text; an em dash (or empty) -> None."""
    cell = cell.strip()
    if cell in ("", "—", "-"):
        return None
    match = re.fullmatch(r"`([^`]*)`", cell)
    return match.group(1) if match else cell


class Expectation:
    """The `answer` column, parsed."""

    def __init__(self, text):
        self.text = text
        self.kind = None
        if m := re.fullmatch(r"HTTP (\d{3})", text):
            self.kind, self.status = "http", int(m.group(1))
        elif m := re.fullmatch(r"HTTP 200, allowed: false, code (\d{3})", text):
            self.kind, self.code = "denied", int(m.group(1))
        elif m := re.fullmatch(r"HTTP 200, allowed: true, (patch|no patch)", text):
            self.kind, self.patch = "allowed", m.group(1) == "patch"
        elif text == "closed":
            self.kind = "closed"
        elif m := re.fullmatch(r"exit (\d+)", text):
            self.kind, self.exit = "exit", int(m.group(1))
        elif text == "serves":
            self.kind = "serves"
        else:
            raise ValueError(f"cannot read the answer {text!r}")


class BadInput(WebhookTestCase):
    SERVICE_ACCOUNTS = SERVICE_ACCOUNTS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rows = parse_table(DOC)
        cls.work = os.path.join(cls.tmp.name, "work")
        os.makedirs(cls.work)

    # --- the table itself --------------------------------------------------

    def test_every_row_has_a_check_and_every_check_a_row(self):
        self.assertGreaterEqual(len(self.rows), 20, "the table was not found in " + DOC)
        cases = [unquote(row["case"]) for row in self.rows]
        self.assertEqual(len(cases), len(set(cases)), "duplicate case names")
        drivers = {name[len("case_"):].replace("_", "-") for name in dir(self)
                   if name.startswith("case_")}
        self.assertEqual(set(cases) - drivers, set(), "rows without a check in this test")
        self.assertEqual(drivers - set(cases), set(), "checks without a row in the table")
        for row in self.rows:
            Expectation(row["answer"])  # every answer is in the documented grammar

    def test_http_rows(self):
        self.start()
        for row in self.rows:
            expectation = Expectation(row["answer"])
            if expectation.kind not in ("http", "denied", "allowed", "closed"):
                continue
            case = unquote(row["case"])
            with self.subTest(case=case):
                getattr(self, "case_" + case.replace("-", "_"))(
                    expectation, unquote(row["reason contains"]))
        # Whatever came before, the webhook still answers.
        self.assertEqual(self.request("GET", "/healthz")[0], 200)
        self.assertIsNone(self.process.poll(), "the webhook exited:\n" + self.log())

    def test_command_rows(self):
        for row in self.rows:
            expectation = Expectation(row["answer"])
            if expectation.kind not in ("exit", "serves"):
                continue
            case = unquote(row["case"])
            with self.subTest(case=case):
                getattr(self, "case_" + case.replace("-", "_"))(
                    expectation, unquote(row["reason contains"]))

    # --- checking an answer ----------------------------------------------------

    def check_http(self, expectation, reason, status, body):
        text = body.decode("utf-8", "replace")
        if expectation.kind == "http":
            self.assertEqual(status, expectation.status, text[:300])
            self.assertTrue(text.endswith("\n") and "\n" not in text[:-1],
                            "the reason is not one line: " + text[:300])
            if reason:
                self.assertIn(reason, text)
            return
        self.assertEqual(status, 200, text[:300])
        answer = json.loads(body)
        response = answer["response"]
        self.assertEqual(response["uid"], self.uid)
        if expectation.kind == "denied":
            self.assertFalse(response["allowed"], text[:300])
            self.assertEqual(response["status"]["code"], expectation.code)
            if reason:
                self.assertIn(reason, response["status"]["message"])
        else:
            self.assertTrue(response["allowed"], text[:300])
            self.assertEqual("patch" in response, expectation.patch, text[:300])
            if expectation.patch:
                patch = json.loads(base64.b64decode(response["patch"]))
                self.assertTrue(patch and all(op["op"] in ("add", "remove") for op in patch))

    def post_review(self, expectation, reason, body, content_type="application/json"):
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        status, _, answer = self.request("POST", "/mutate", body, content_type=content_type,
                                         timeout=60)
        self.check_http(expectation, reason, status, answer)

    def a_review(self, obj, kind="Pod"):
        self.uid = f"bad-input-{time.monotonic_ns()}"
        body = review(obj, uid=self.uid)
        body["request"]["kind"]["kind"] = kind
        return body

    def run_binary(self, expectation, reason, args, wrap=None):
        command = [BINARY, *args]
        if wrap:
            command = wrap + command
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_DEADLINE,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail(f"{' '.join(args)} did not finish within {RUN_DEADLINE}s (a hang)")
        self.assertEqual(done.returncode, expectation.exit, done.stderr)
        if reason:
            self.assertIn(reason, done.stderr)
        self.assertNotIn("terminate called", done.stderr)

    def serve_args(self, cert=None, key=None):
        return ["--port", str(free_port()), "--bind-address", "127.0.0.1", "--metrics-port", "0",
                "--in-cluster=false",
                "--tls-cert", cert or os.path.join(self.certs, "tls.crt"),
                "--tls-key", key or os.path.join(self.certs, "tls.key")]

    def file(self, name, content):
        path = os.path.join(self.work, name)
        with open(path, "wb") as handle:
            handle.write(content if isinstance(content, bytes) else content.encode())
        return path

    # --- HTTP rows ---------------------------------------------------------------

    def case_malformed_json(self, expectation, reason):
        self.post_review(expectation, reason, b'{"apiVersion":')

    def case_not_a_review(self, expectation, reason):
        self.post_review(expectation, reason, b'{"kind": "Pod"}')

    def case_no_uid(self, expectation, reason):
        body = self.a_review(pod())
        del body["request"]["uid"]
        self.post_review(expectation, reason, body)

    def case_non_pod_object(self, expectation, reason):
        self.post_review(expectation, reason,
                         self.a_review({"apiVersion": "v1", "kind": "Service", "spec": {}}))

    def case_non_pod_kind(self, expectation, reason):
        self.post_review(expectation, reason, self.a_review(
            {"apiVersion": "v1", "kind": "Service", "spec": {}}, kind="Service"))

    def case_pod_without_containers(self, expectation, reason):
        obj = pod()
        del obj["spec"]["containers"]
        self.post_review(expectation, reason, self.a_review(obj))

    def case_container_without_name(self, expectation, reason):
        obj = pod()
        del obj["spec"]["containers"][0]["name"]
        self.post_review(expectation, reason, self.a_review(obj))

    def case_wrong_json_type(self, expectation, reason):
        obj = pod()
        obj["spec"]["containers"] = "app"
        self.post_review(expectation, reason, self.a_review(obj))

    def case_wrong_type_windows_fields(self, expectation, reason):
        obj = pod()
        obj["spec"]["os"] = "windows"
        self.post_review(expectation, reason, self.a_review(obj))

    def case_wrong_type_affinity(self, expectation, reason):
        obj = pod()
        obj["spec"]["affinity"] = {"nodeAffinity": []}
        self.post_review(expectation, reason, self.a_review(obj))

    def case_wrong_type_security_context(self, expectation, reason):
        obj = pod()
        obj["spec"]["securityContext"] = "root"
        self.post_review(expectation, reason, self.a_review(obj))

    def case_huge_env(self, expectation, reason):
        obj = pod()
        obj["spec"]["containers"][0]["env"] = [{"name": f"VAR_{i}", "value": "v" * 20}
                                               for i in range(20000)]
        body = json.dumps(self.a_review(obj)).encode()
        self.assertGreater(len(body), 1 << 20)
        self.post_review(expectation, reason, body)

    def case_deeply_nested(self, expectation, reason):
        self.post_review(expectation, reason, b"[" * 100000 + b"]" * 100000)

    def case_deep_pod(self, expectation, reason):
        obj = pod()
        obj["spec"]["containers"][0]["x-unknown"] = "DEEP"
        text = json.dumps(self.a_review(obj)).replace('"DEEP"', "[" * 2000 + "]" * 2000)
        self.post_review(expectation, reason, text.encode())

    def case_invalid_utf8(self, expectation, reason):
        obj = pod()
        obj["metadata"]["name"] = "reader-MARK"
        body = json.dumps(self.a_review(obj)).encode().replace(b"MARK", b"\xff")
        self.post_review(expectation, reason, body)

    def case_duplicate_keys(self, expectation, reason):
        text = json.dumps(self.a_review(pod("s3-reader")))
        marker = '"serviceAccountName": "s3-reader"'
        self.assertIn(marker, text)
        text = text.replace(marker, marker + ', "serviceAccountName": "default"')
        self.post_review(expectation, reason, text.encode())

    def case_body_100mib(self, expectation, reason):
        size = 100 << 20
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as raw:
            with self.tls.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                conn.sendall(f"POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
                             .encode())
                chunk, sent = b" " * (1 << 20), 0
                try:
                    while sent < size:
                        conn.sendall(chunk)
                        sent += len(chunk)
                except OSError:
                    pass  # the server closed after answering: it did not read the body
                self.assertLess(sent, size, "the server read the whole 100 MiB body")
                reply = b""
                try:
                    while b"\r\n\r\n" not in reply or len(reply) < 400:
                        data = conn.recv(4096)
                        if not data:
                            break
                        reply += data
                except OSError:
                    pass
        head, _, body = reply.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
        self.assertIn(b"connection: close", head.lower())
        self.check_http(expectation, reason, status, body)

    def case_wrong_content_type(self, expectation, reason):
        self.post_review(expectation, reason, b"{}", content_type="text/plain")

    def case_wrong_method(self, expectation, reason):
        status, _, body = self.request("GET", "/mutate")
        self.check_http(expectation, reason, status, body)

    def case_unknown_path(self, expectation, reason):
        status, _, body = self.request("POST", "/other", b"{}")
        self.check_http(expectation, reason, status, body)

    def case_slow_loris(self, expectation, reason):
        request = (b"POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                   b"\r\nContent-Length: 2\r\n\r\n{}")
        started = time.monotonic()
        closed_after = None
        answer = b""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as raw:
            with self.tls.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                for index in range(len(request)):
                    if time.monotonic() - started > 25:
                        break
                    try:
                        conn.send(request[index:index + 1])
                    except OSError:
                        closed_after = time.monotonic() - started
                        break
                    if index == 3:  # meanwhile another client is served at once
                        before = time.monotonic()
                        self.assertEqual(self.request("GET", "/healthz")[0], 200)
                        self.assertLess(time.monotonic() - before, 2.0)
                    readable, _, _ = select.select([conn], [], [], 1.0)
                    if readable:
                        try:
                            data = conn.recv(4096)
                        except OSError:
                            data = b""
                        if not data:
                            closed_after = time.monotonic() - started
                            break
                        answer += data
        self.assertEqual(answer, b"", "the slow request got an answer")
        self.assertIsNotNone(closed_after, "a slow client kept its connection over 25 s")
        self.assertLess(closed_after, 15.0)  # --read-timeout 10s, plus scheduling

    def raw_exchange(self, request):
        """Sends `request` on a new TLS connection; returns (status, body,
        closed): the reply and whether the server then closed the connection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with self.tls.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
                conn.sendall(request)
                data = b""
                deadline = time.monotonic() + 10
                closed = False
                while time.monotonic() < deadline:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        closed = True
                        break
                    if not chunk:
                        closed = True
                        break
                    data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
        self.assertIn(b"\r\nConnection: close", head, head)
        return status, body, closed

    def check_refused_framing(self, expectation, reason, request):
        status, body, closed = self.raw_exchange(request)
        self.check_http(expectation, reason, status, body)
        self.assertTrue(closed, "the connection stayed open after an ambiguous request")

    FRAMING_HEAD = (b"POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\n")

    def case_content_length_and_chunked(self, expectation, reason):
        self.check_refused_framing(
            expectation, reason,
            self.FRAMING_HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    def case_two_content_lengths(self, expectation, reason):
        self.check_refused_framing(
            expectation, reason,
            self.FRAMING_HEAD + b"Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}")

    def case_chunked_identity(self, expectation, reason):
        self.check_refused_framing(
            expectation, reason,
            self.FRAMING_HEAD + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n")

    def case_too_many_headers(self, expectation, reason):
        fields = b"".join(b"X-Field-%d: v\r\n" % i for i in range(1000))
        self.check_refused_framing(expectation, reason, self.FRAMING_HEAD + fields + b"\r\n")

    def case_folded_header(self, expectation, reason):
        self.check_refused_framing(
            expectation, reason, self.FRAMING_HEAD + b"X-A: b\r\n  c\r\nContent-Length: 2\r\n\r\n{}")

    def case_stalled_handshake(self, expectation, reason):
        stalled = []
        try:
            for _ in range(300):
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                stalled.append(sock)
                sock.sendall(b"\x16\x03\x01\x02\x00")
            before = time.monotonic()
            self.uid = f"bad-input-{time.monotonic_ns()}"
            status, _, answer = self.request("POST", "/mutate",
                                             json.dumps(review(pod(), uid=self.uid)).encode(),
                                             timeout=10)
            self.assertEqual(status, 200, answer[:300])
            self.assertLess(time.monotonic() - before, 5.0)
            # Each is closed at --read-timeout (10 s) counted from accept.
            deadline = time.monotonic() + 25
            open_ones = list(stalled)
            while open_ones and time.monotonic() < deadline:
                readable, _, _ = select.select(open_ones, [], [], 1.0)
                for sock in readable:
                    try:
                        data = sock.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        open_ones.remove(sock)
            self.assertEqual(len(open_ones), 0, "stalled handshakes outlived --read-timeout")
        finally:
            for sock in stalled:
                sock.close()

    # --- command rows --------------------------------------------------------------

    def case_cert_missing(self, expectation, reason):
        self.run_binary(expectation, reason,
                        self.serve_args(cert=os.path.join(self.work, "absent.crt")) +
                        ["--service-accounts-file", self.service_accounts])

    def case_cert_unreadable(self, expectation, reason):
        path = os.path.join(self.work, "unreadable.crt")
        shutil.copy(os.path.join(self.certs, "tls.crt"), path)
        os.chmod(path, 0)
        wrap = None
        if os.geteuid() == 0:
            # root reads anything: run the binary without that power.
            setpriv = shutil.which("setpriv")
            if not setpriv:
                self.skipTest("running as root without setpriv")
            wrap = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]
        self.run_binary(expectation, reason, self.serve_args(cert=path) +
                        ["--service-accounts-file", self.service_accounts], wrap=wrap)

    def case_cert_not_pem(self, expectation, reason):
        path = self.file("not-pem.crt", "this is not a certificate\n")
        self.run_binary(expectation, reason, self.serve_args(cert=path) +
                        ["--service-accounts-file", self.service_accounts])

    def case_cert_fifo(self, expectation, reason):
        path = os.path.join(self.work, "fifo.crt")
        if not os.path.exists(path):
            os.mkfifo(path)
        self.run_binary(expectation, reason, self.serve_args(cert=path) +
                        ["--service-accounts-file", self.service_accounts])

    def case_metrics_port_in_use(self, expectation, reason):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            args = self.serve_args()
            args[args.index("--metrics-port") + 1] = str(taken.getsockname()[1])
            self.run_binary(expectation, reason, args +
                            ["--service-accounts-file", self.service_accounts])

    def case_metrics_port_is_port(self, expectation, reason):
        args = self.serve_args()
        args[args.index("--metrics-port") + 1] = args[args.index("--port") + 1]
        self.run_binary(expectation, reason, args +
                        ["--service-accounts-file", self.service_accounts])

    def case_kubeconfig_missing(self, expectation, reason):
        self.run_binary(expectation, reason, self.serve_args() +
                        ["--kubeconfig", os.path.join(self.work, "absent-kubeconfig")])

    def case_kubeconfig_not_yaml(self, expectation, reason):
        self.run_binary(expectation, reason, self.serve_args() +
                        ["--kubeconfig", self.file("comma-kubeconfig", ",")])

    def case_service_accounts_not_yaml(self, expectation, reason):
        self.run_binary(expectation, reason, self.serve_args() +
                        ["--service-accounts-file", self.file("comma-accounts.yaml", ",")])

    def case_mutate_not_yaml(self, expectation, reason):
        self.run_binary(expectation, reason, ["mutate", "--pod", self.file("comma-pod.yaml", ","),
                                              "--service-account", self.service_accounts])

    def case_mutate_nul_byte(self, expectation, reason):
        path = self.file("nul-pod.yaml", b"\x0e\x00\x00\x00{\"kind\": \"Pod\"}")
        self.run_binary(expectation, reason, ["mutate", "--pod", path,
                                              "--service-account", self.service_accounts])

    def case_mutate_not_a_pod(self, expectation, reason):
        path = self.file("service.yaml", "apiVersion: v1\nkind: Service\nspec: {}\n")
        self.run_binary(expectation, reason, ["mutate", "--pod", path,
                                              "--service-account", self.service_accounts])

    def case_audit_not_yaml(self, expectation, reason):
        self.run_binary(expectation, reason, ["audit", "-f", self.file("comma-audit.yaml", ", x")])

    def case_kubeconfig_nowhere(self, expectation, reason):
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        kubeconfig = self.file("nowhere-kubeconfig", json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
            "clusters": [{"name": "k", "cluster": {"server": f"https://127.0.0.1:{closed}",
                                                    "insecure-skip-tls-verify": True}}],
            "users": [{"name": "u", "user": {"token": "t"}}]}))
        self.port = free_port()
        self.log_path = os.path.join(self.work, "nowhere.log")
        self.log_file = open(self.log_path, "w+", encoding="utf-8")
        self.process = subprocess.Popen(
            [BINARY, "--port", str(self.port), "--bind-address", "127.0.0.1", "--metrics-port", "0",
             "--tls-cert", os.path.join(self.certs, "tls.crt"),
             "--tls-key", os.path.join(self.certs, "tls.key"),
             "--kubeconfig", kubeconfig, "--in-cluster=false", "-v", "3"],
            stdout=self.log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            healthy = False
            while time.monotonic() < deadline and not healthy:
                self.assertIsNone(self.process.poll(), "exited:\n" + self.log())
                try:
                    healthy = self.request("GET", "/healthz", timeout=1.0)[0] == 200
                except OSError:
                    time.sleep(0.1)
            self.assertTrue(healthy, self.log())
            self.assertEqual(self.request("GET", "/readyz")[0], 503)
            self.uid = "nowhere"
            status, _, body = self.request("POST", "/mutate",
                                           json.dumps(review(pod(), uid=self.uid)).encode())
            self.check_http(Expectation("HTTP 200, allowed: true, no patch"), None, status, body)
            self.assertIsNone(self.process.poll(), "exited:\n" + self.log())
            if reason:
                self.assertIn(reason, self.log())
        finally:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None
            self.log_file.close()
            self.log_file = None


if __name__ == "__main__":
    unittest.main()
