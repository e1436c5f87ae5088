"""Self-managed clusters: `issuer documents`, `trust-policy` and `explain`, driven
as users run them, with keys made by the openssl command and an independent
JWKS reader (python3-jwcrypto)."""

import base64
import hashlib
import json
import os
import http.server
import subprocess
import tempfile
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "fakes"))
from https_thread import HttpsThread  # noqa: E402
from jwt_tokens import Key, b64url, b64url_json, openssl, service_account_claims  # noqa: E402

BINARY = os.environ.get("IRSA_BINARY", "build/irsa-webhook")
TIMEOUT = 30
ISSUER = "https://oidc.example.com/cluster-1"
HOST_PATH = "oidc.example.com/cluster-1"
ACCOUNT = "111122223333"
ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"
NOW = 1714564800  # 2024-05-01T12:00:00Z
NOW_TEXT = "2024-05-01T12:00:00Z"


def run(*args):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=TIMEOUT)


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def kubernetes_claims(namespace="shop", name="orders", issued=NOW - 600, lifetime=86400):
    """The claims of a projected token of ServiceAccount `name`'s Pod."""
    return service_account_claims(ISSUER, namespace, name, name + "-6f7d8-x2k9p", issued, lifetime)


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority: {ca}
users:
- name: reader
  user:
    token: test-token
contexts:
- name: fake
  context: {{cluster: fake, user: reader}}
current-context: fake
"""


class FakeApiServer(HttpsThread):
    """Serves fixed JSON documents over TLS on 127.0.0.1, as kube-apiserver serves
    /.well-known/openid-configuration and /openid/v1/jwks."""

    def __init__(self, directory, documents):
        self.documents = documents
        self.requests = []
        self.authorized = True
        cert = os.path.join(directory, "apiserver.crt")
        key = os.path.join(directory, "apiserver.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                "-keyout", key, "-out", cert)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # pylint: disable=invalid-name
                outer.requests.append(self.path)
                outer.authorized &= self.headers.get("Authorization") == "Bearer test-token"
                body = outer.documents.get(self.path)
                data = json.dumps(body if body is not None else {"kind": "Status", "message": "not found"}).encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        super().__init__(Handler, cert, key)
        self.kubeconfig = os.path.join(directory, "fake.kubeconfig")
        with open(self.kubeconfig, "w", encoding="utf-8") as handle:
            handle.write(KUBECONFIG.format(port=self.port, ca=cert))


class OidcCommands(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.rsa = Key(d, "rsa", "RS256")
        cls.p256 = Key(d, "p256", "ES256")
        cls.p384 = Key(d, "p384", "ES384")
        cls.keys = [cls.rsa, cls.p256, cls.p384]
        cls.out = os.path.join(d, "site")
        done = run("issuer", "documents", "--issuer", ISSUER, "--out", cls.out,
                   *[arg for key in cls.keys for arg in ("--signing-key-pub", key.public)])
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        cls.jwks_path = os.path.join(cls.out, "keys.json")
        cls.policy_path = cls.write_static("policy.json", cls.trust_policy("--namespace", "shop",
                                                                            "--service-account", "orders"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def write_static(cls, name, text):
        path = os.path.join(cls.tmp.name, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    @classmethod
    def trust_policy(cls, *args):
        done = run("trust-policy", "--provider-arn", ARN, *args)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        return done.stdout

    def write(self, name, text):
        return self.write_static(name, text)

    def explain(self, token, policy=None, *extra):
        token_path = self.write("token", token)
        return run("explain", "--trust-policy", policy or self.policy_path, "--token", token_path,
                   "--jwks", self.jwks_path, "--now", NOW_TEXT, *extra)

    def assert_denied(self, done, reason):
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        last = done.stdout.rstrip("\n").splitlines()[-1]
        self.assertTrue(last.startswith("DENIED: "), done.stdout)
        self.assertIn(reason, last)

    def assert_bad_input(self, done, says):
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertEqual(done.stdout, "")
        lines = done.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertIn(says, lines[0])

    # issuer documents

    def test_discovery_document_is_what_kubernetes_serves(self):
        with open(os.path.join(self.out, ".well-known", "openid-configuration"), encoding="utf-8") as f:
            discovery = json.load(f)
        self.assertEqual(discovery, {
            "issuer": ISSUER,
            "jwks_uri": ISSUER + "/keys.json",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256", "ES384", "RS256"],
        })

    def test_every_kid_matches_an_independent_computation(self):
        with open(self.jwks_path, encoding="utf-8") as f:
            jwks = json.load(f)
        self.assertEqual([k["kid"] for k in jwks["keys"]], [key.kid for key in self.keys])
        self.assertEqual([k["alg"] for k in jwks["keys"]], ["RS256", "ES256", "ES384"])
        self.assertTrue(all(k["use"] == "sig" for k in jwks["keys"]))

    def test_pkcs1_public_key_gets_the_same_kid(self):
        pkcs1 = os.path.join(self.tmp.name, "rsa.pkcs1.pub")
        openssl("rsa", "-pubin", "-in", self.rsa.public, "-RSAPublicKey_out", "-out", pkcs1)
        with open(pkcs1, encoding="utf-8") as f:
            self.assertIn("BEGIN RSA PUBLIC KEY", f.read())
        out = os.path.join(self.tmp.name, "pkcs1-site")
        done = run("issuer", "documents", "--issuer", ISSUER, "--signing-key-pub", pkcs1, "--out", out,
                   "--jwks-path", "openid/v1/jwks", "--legacy-empty-kid")
        self.assertEqual(done.returncode, 0, done.stderr)
        with open(os.path.join(out, "openid", "v1", "jwks"), encoding="utf-8") as f:
            keys = json.load(f)["keys"]
        self.assertEqual([k["kid"] for k in keys], [self.rsa.kid, ""])
        with open(os.path.join(out, ".well-known", "openid-configuration"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["jwks_uri"], ISSUER + "/openid/v1/jwks")

    def test_jwcrypto_reads_the_jwks_and_verifies_our_tokens(self):
        try:
            from jwcrypto import jwk, jws  # pylint: disable=import-outside-toplevel
        except ImportError as error:
            print(f"\nSKIPPED the jwcrypto cross-check: cannot import jwcrypto ({error}); "
                  "apt-get install -y python3-jwcrypto")
            return
        with open(self.jwks_path, encoding="utf-8") as f:
            keyset = jwk.JWKSet.from_json(f.read())
        for key in self.keys:
            published = keyset.get_key(key.kid)
            self.assertIsNotNone(published, key.kid)
            self.assertEqual(published.thumbprint(), jwk.JWK.from_pem(read_bytes(key.public)).thumbprint())
            token = key.mint(kubernetes_claims())
            verifier = jws.JWS()
            verifier.deserialize(token)
            verifier.verify(published, alg=key.alg)
            self.assertEqual(json.loads(verifier.payload)["sub"], "system:serviceaccount:shop:orders")

    def test_bad_key_input_is_refused_in_one_line(self):
        with open(self.rsa.private, encoding="utf-8") as f:
            private_text = f.read()
        done = run("issuer", "documents", "--issuer", ISSUER, "--signing-key-pub", self.rsa.private,
                   "--out", os.path.join(self.tmp.name, "x"))
        self.assert_bad_input(done, "holds a private key")
        body = private_text.splitlines()[1]
        self.assertNotIn(body, done.stderr)

        malformed = self.write("malformed.pem", "-----BEGIN PUBLIC KEY-----\nnot base64 !\n-----END PUBLIC KEY-----\n")
        self.assert_bad_input(run("issuer", "documents", "--issuer", ISSUER, "--signing-key-pub", malformed,
                                  "--out", os.path.join(self.tmp.name, "x")), "not valid PEM")
        self.assert_bad_input(run("issuer", "documents", "--issuer", "http://oidc.example.com",
                                  "--signing-key-pub", self.rsa.public, "--out", os.path.join(self.tmp.name, "x")),
                              "not an https URL")
        self.assert_bad_input(run("issuer", "documents", "--issuer", ISSUER, "--signing-key-pub",
                                  os.path.join(self.tmp.name, "missing.pub"), "--out", os.path.join(self.tmp.name, "x")),
                              "missing.pub")

    def test_from_cluster_republishes_the_api_servers_issuer_and_keys(self):
        with open(self.jwks_path, encoding="utf-8") as f:
            cluster_jwks = json.load(f)
        cluster_jwks["keys"].append(dict(cluster_jwks["keys"][0], kid=""))  # a legacy copy survives
        with FakeApiServer(self.tmp.name, {
            "/.well-known/openid-configuration": {
                "issuer": ISSUER, "jwks_uri": "https://10.0.0.1:6443/openid/v1/jwks",
                "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256", "ES384", "RS256"]},
            "/openid/v1/jwks": cluster_jwks,
        }) as server:
            out = os.path.join(self.tmp.name, "from-cluster")
            done = run("issuer", "documents", "--from-cluster", "--kubeconfig", server.kubeconfig, "--out", out)
            self.assertEqual(done.returncode, 0, done.stderr)
            with open(os.path.join(out, ".well-known", "openid-configuration"), encoding="utf-8") as f:
                discovery = json.load(f)
            self.assertEqual(discovery["issuer"], ISSUER)
            self.assertEqual(discovery["jwks_uri"], ISSUER + "/keys.json")
            with open(os.path.join(out, "keys.json"), encoding="utf-8") as f:
                self.assertEqual([k["kid"] for k in json.load(f)["keys"]], [key.kid for key in self.keys] + [""])

            mismatch = run("issuer", "documents", "--from-cluster", "--kubeconfig", server.kubeconfig,
                           "--issuer", "https://elsewhere.example.com", "--out", out)
            self.assert_bad_input(mismatch, "the API server's issuer is " + ISSUER)
            self.assertTrue(all(path.startswith("/") for path in server.requests))
            self.assertTrue(server.authorized)

    def test_from_cluster_without_a_reachable_server_fails_in_one_line(self):
        kubeconfig = self.write("unreachable.kubeconfig", KUBECONFIG.format(port=1, ca=self.rsa.public))
        done = run("issuer", "documents", "--from-cluster", "--kubeconfig", kubeconfig,
                   "--out", os.path.join(self.tmp.name, "fc"))
        self.assertEqual(done.returncode, 2, done.stderr)

    # trust-policy

    def test_trust_policy_names_provider_action_sub_and_aud(self):
        policy = json.loads(self.trust_policy("--namespace", "shop", "--service-account", "orders"))
        statement = policy["Statement"][0]
        self.assertEqual(policy["Version"], "2012-10-17")
        self.assertEqual(statement["Principal"], {"Federated": ARN})
        self.assertEqual(statement["Action"], "sts:AssumeRoleWithWebIdentity")
        self.assertEqual(statement["Condition"], {"StringEquals": {
            HOST_PATH + ":sub": "system:serviceaccount:shop:orders",
            HOST_PATH + ":aud": "sts.amazonaws.com"}})
        same = run("trust-policy", "--issuer", ISSUER, "--account", ACCOUNT, "--namespace", "shop",
                   "--service-account", "orders")
        self.assertEqual(json.loads(same.stdout), policy)

    def test_trust_policy_lets_explain_allow_exactly_the_named_accounts(self):
        text = self.trust_policy("--namespace", "shop", "--service-account", "orders",
                                 "--service-account", "billing", "--namespace", "web",
                                 "--service-account", "frontend-*")
        policy = self.write("named.json", text)

        def verdict(account):
            return run("explain", "--trust-policy", policy, "--service-account", account).returncode

        for allowed in ("shop/orders", "shop/billing", "web/frontend-eu", "web/frontend-us"):
            self.assertEqual(verdict(allowed), 0, allowed)
        for denied in ("shop/orders-api", "shop/admin", "web/orders", "kube-system/orders",
                       "shop/frontend-eu", "web/backend"):
            self.assertEqual(verdict(denied), 1, denied)

        for key in self.keys:
            self.assertEqual(self.explain(key.mint(kubernetes_claims("shop", "billing")), policy).returncode, 0)
        self.assert_denied(self.explain(self.rsa.mint(kubernetes_claims("shop", "orders-api")), policy),
                           "sub is system:serviceaccount:shop:orders-api but the policy allows")
        self.assert_denied(self.explain(self.rsa.mint(kubernetes_claims("other", "orders")), policy),
                           "sub is system:serviceaccount:other:orders")

    def test_one_role_trusted_by_several_clusters(self):
        second_issuer = "https://oidc.example.com/cluster-2"
        done = run("trust-policy", "--issuer", ISSUER, "--issuer", second_issuer, "--account", ACCOUNT,
                   "--namespace", "shop", "--service-account", "orders")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr, "")
        policy = json.loads(done.stdout)
        self.assertEqual([s["Principal"]["Federated"] for s in policy["Statement"]],
                         [ARN, f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.example.com/cluster-2"])
        self.assertEqual(policy["Statement"][1]["Condition"], {"StringEquals": {
            "oidc.example.com/cluster-2:sub": "system:serviceaccount:shop:orders",
            "oidc.example.com/cluster-2:aud": "sts.amazonaws.com"}})
        # --provider-arn repeats the same way, and mixes with --issuer.
        mixed = run("trust-policy", "--provider-arn", ARN, "--issuer", second_issuer, "--account", ACCOUNT,
                    "--namespace", "shop", "--service-account", "orders")
        self.assertEqual(json.loads(mixed.stdout), policy)
        path = self.write("two-clusters.json", done.stdout)
        # explain takes the provider from the token's iss: both clusters' tokens pass.
        for issuer in (ISSUER, second_issuer):
            claims = kubernetes_claims()
            claims["iss"] = issuer
            result = self.explain(self.rsa.mint(claims), path)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertIn(f"iss {issuer}", result.stdout)
        claims = kubernetes_claims("shop", "billing")
        claims["iss"] = second_issuer
        self.assert_denied(self.explain(self.rsa.mint(claims), path), "system:serviceaccount:shop:billing")
        claims = kubernetes_claims()
        claims["iss"] = "https://oidc.example.com/cluster-3"
        self.assert_bad_input(self.explain(self.rsa.mint(claims), path), "is the issuer of none of")
        # Without a token there is nothing to choose by: --provider-arn picks.
        by_account = run("explain", "--trust-policy", path, "--service-account", "shop/orders")
        self.assert_bad_input(by_account, "pick one with --provider-arn")
        chosen = run("explain", "--trust-policy", path, "--service-account", "shop/orders",
                     "--provider-arn", f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.example.com/cluster-2")
        self.assertEqual(chosen.returncode, 0, chosen.stdout + chosen.stderr)
        # --issuer without --account says so.
        self.assert_bad_input(run("trust-policy", "--issuer", ISSUER, "--namespace", "shop",
                                  "--service-account", "orders"), "--issuer needs --account")

    def test_trust_policy_warns_when_iam_would_refuse_its_length(self):
        issuers = [f"https://oidc.eks.eu-west-1.amazonaws.com/id/{i:032X}" for i in range(12)]
        args = [arg for issuer in issuers for arg in ("--issuer", issuer)]
        accounts = ["--namespace", "shop", "--service-account", "orders", "--service-account", "billing"]

        def length(text):  # as IAM counts: white space excluded
            return len("".join(text.split()))

        few = run("trust-policy", *args[:4], "--account", ACCOUNT, *accounts)
        self.assertEqual(few.returncode, 0, few.stderr)
        self.assertLessEqual(length(few.stdout), 2048)
        self.assertEqual(few.stderr, "")
        some = run("trust-policy", *args[:12], "--account", ACCOUNT, *accounts)
        self.assertEqual(some.returncode, 0, some.stderr)
        self.assertGreater(length(some.stdout), 2048)
        self.assertLessEqual(length(some.stdout), 4096)
        self.assertEqual(len(json.loads(some.stdout)["Statement"]), 6)
        self.assertIn(f"the policy is {length(some.stdout)} characters", some.stderr)
        self.assertIn("over the default", some.stderr)
        many = run("trust-policy", *args, "--account", ACCOUNT, *accounts)
        self.assertEqual(many.returncode, 0, many.stderr)
        self.assertGreater(length(many.stdout), 4096)
        self.assertIn("IAM will refuse it.", many.stderr)
        self.assertEqual(len(many.stderr.strip().splitlines()), 1, many.stderr)

    def test_trust_policy_refuses_bad_names(self):
        self.assert_bad_input(run("trust-policy", "--provider-arn", ARN, "--namespace", "Shop",
                                  "--service-account", "orders"), "not a Kubernetes name")
        self.assert_bad_input(run("trust-policy", "--provider-arn", "arn:aws:iam::1:role/x",
                                  "--service-account", "shop/orders"), "provider ARN")

    # explain

    def test_explain_allows_the_happy_path_for_each_key_type(self):
        for key in self.keys:
            done = self.explain(key.mint(kubernetes_claims()))
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
            self.assertTrue(done.stdout.endswith("ALLOWED\n"), done.stdout)
            self.assertIn(f"the signature verifies with key {key.kid}", done.stdout)

    def test_explain_denies_each_single_defect_with_its_own_reason(self):
        rsa = self.rsa
        claims = kubernetes_claims
        token = rsa.mint(claims())
        head, payload, signature = token.split(".")
        tampered_claims = claims()
        tampered_claims["sub"] = "system:serviceaccount:shop:admin"
        sig_bytes = bytearray(base64.urlsafe_b64decode(signature + "=="))
        sig_bytes[100] ^= 0x01
        other_policy = self.write("other-provider.json", run(
            "trust-policy", "--provider-arn", f"arn:aws:iam::{ACCOUNT}:oidc-provider/other.example.com",
            "--namespace", "shop", "--service-account", "orders").stdout)
        deny = json.loads(read_bytes(self.policy_path))
        deny["Statement"].append({"Sid": "Freeze", "Effect": "Deny", "Principal": {"Federated": ARN},
                                  "Action": "sts:AssumeRoleWithWebIdentity"})
        deny_policy = self.write("deny.json", json.dumps(deny))
        wrong_aud = claims()
        wrong_aud["aud"] = ["vault"]
        wrong_iss = claims()
        wrong_iss["iss"] = "https://other.example.com"
        hmac_input = b64url_json({"alg": "HS256", "kid": rsa.kid}) + "." + payload
        import hmac  # pylint: disable=import-outside-toplevel
        hmac_token = hmac_input + "." + b64url(hmac.new(read_bytes(rsa.public), hmac_input.encode(),
                                                        hashlib.sha256).digest())
        cases = [
            ("wrong sub", rsa.mint(claims("shop", "orders-api")), None,
             "sub is system:serviceaccount:shop:orders-api but the policy allows system:serviceaccount:shop:orders"),
            ("wrong aud", rsa.mint(wrong_aud), None, "aud is [vault] but the provider's client id is sts.amazonaws.com"),
            ("expired", rsa.mint(claims(issued=NOW - 7200, lifetime=3600)), None, "the token expired at"),
            ("not yet valid", rsa.mint(claims(issued=NOW + 3600)), None, "the token is not valid before"),
            ("unknown kid", rsa.mint(claims(), {"alg": "RS256", "kid": "unknown-kid"}), None,
             "kid unknown-kid is not in the JWKS"),
            ("tampered payload", head + "." + b64url_json(tampered_claims) + "." + signature, None,
             "the signature does not verify"),
            ("tampered signature", head + "." + payload + "." + b64url(bytes(sig_bytes)), None,
             "the signature does not verify"),
            ("wrong issuer", rsa.mint(wrong_iss), None,
             f"iss is https://other.example.com but the provider's URL is {ISSUER}"),
            ("policy for another provider", token, other_policy, "the policy trusts arn:aws:iam::111122223333:"
             "oidc-provider/other.example.com, not " + ARN),
            ("explicit deny", token, deny_policy, "(Sid Freeze) is an explicit Deny"),
            ("alg none", b64url_json({"alg": "none"}) + "." + payload + ".", None, "alg is none"),
            ("hmac with the public key", hmac_token, None, "alg HS256 (HMAC) is refused"),
        ]
        reasons = set()
        for name, bad_token, policy, reason in cases:
            with self.subTest(name):
                extra = ("--provider-arn", ARN) if policy else ()
                done = self.explain(bad_token, policy, *extra)
                self.assert_denied(done, reason)
                reasons.add(done.stdout.splitlines()[-1])
        self.assertEqual(len(reasons), len(cases) - 1)  # both tamperings fail the signature

    def test_explain_is_unknown_when_a_condition_is_not_implemented(self):
        policy = json.loads(read_bytes(self.policy_path))
        policy["Statement"][0]["Condition"]["IpAddress"] = {"aws:SourceIp": "10.0.0.0/8"}
        done = self.explain(self.rsa.mint(kubernetes_claims()), self.write("ip.json", json.dumps(policy)))
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("[UNSUPPORTED]", done.stdout)
        self.assertTrue(done.stdout.splitlines()[-1].startswith("UNKNOWN: "), done.stdout)

    def test_explain_checks_time_against_the_clock_without_now(self):
        fresh = self.rsa.mint(kubernetes_claims(issued=int(time.time()) - 60))
        token_path = self.write("fresh", fresh)
        done = run("explain", "--trust-policy", self.policy_path, "--token", token_path, "--jwks", self.jwks_path)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_explain_refuses_unusable_input_in_one_line(self):
        token = self.rsa.mint(kubernetes_claims())
        token_path = self.write("good-token", token)
        empty_jwks = self.write("empty.json", '{"keys": []}')
        bad_json = self.write("bad.json", '{"Version": ')
        bad_token = self.write("bad-token", "this is not a jwt")

        def explain(policy, token_file, jwks):
            return run("explain", "--trust-policy", policy, "--token", token_file, "--jwks", jwks,
                       "--now", NOW_TEXT)

        self.assert_bad_input(explain(self.policy_path, token_path, empty_jwks), "has no keys")
        self.assert_bad_input(explain(bad_json, token_path, self.jwks_path), "not valid JSON")
        self.assert_bad_input(explain(self.policy_path, token_path, bad_json), "not valid JSON")
        self.assert_bad_input(explain(self.policy_path, bad_token, self.jwks_path), "not a compact JWS")
        self.assert_bad_input(explain(self.policy_path, token_path, self.rsa.public), "not valid JSON")
        self.assert_bad_input(run("explain", "--trust-policy", self.policy_path, "--token", token_path,
                                  "--jwks", self.jwks_path, "--now", "yesterday"), "RFC 3339")
        self.assert_bad_input(run("explain", "--trust-policy", self.policy_path, "--token", token_path,
                                  "--jwks", self.jwks_path, "--provider-arn", "arn:aws:iam::111122223333:"
                                  "oidc-provider/http://x"), "provider ARN")


if __name__ == "__main__":
    unittest.main()
