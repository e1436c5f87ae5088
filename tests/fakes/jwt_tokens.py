"""ServiceAccount tokens as kube-apiserver mints them, for the tests, made
without irsa-webhook and without jwcrypto (which tests/fakes/local_sts.py
verifies with), so that each checks the others:

- `Key`: a signing key pair made by `openssl genpkey` (RS256, ES256, ES384),
  its kid computed as kube-apiserver computes it (SHA-256 of the DER public
  key, base64url), and `mint(claims, header=None)`: a compact JWS signed by
  `openssl dgst` (any header, for tests of defects);
- `service_account_claims(...)`: the claims of a projected ServiceAccount
  token (iss, sub, aud, exp/iat/nbf, kubernetes.io)."""

import base64
import hashlib
import json
import os
import subprocess
import tempfile

TIMEOUT = 30

# `openssl genpkey` arguments for each algorithm kube-apiserver signs with.
GENPKEY_ARGS = {
    "RS256": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "ES256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ES384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
}


def openssl(*args, data=None):
    done = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode()}")
    return done.stdout


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value):
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def independent_kid(public_pem_path):
    """kube-apiserver's kid computed without irsa-webhook: openssl DER, SHA-256, base64url."""
    der = openssl("pkey", "-pubin", "-in", public_pem_path, "-outform", "DER")
    return b64url(hashlib.sha256(der).digest())


def der_integers(der):
    """The two INTEGERs of a DER ECDSA-Sig-Value."""
    def read_length(data, at):
        first = data[at]
        if first < 0x80:
            return first, at + 1
        count = first & 0x7F
        return int.from_bytes(data[at + 1:at + 1 + count], "big"), at + 1 + count
    assert der[0] == 0x30
    _, at = read_length(der, 1)
    values = []
    for _ in range(2):
        assert der[at] == 0x02
        length, at = read_length(der, at + 1)
        values.append(int.from_bytes(der[at:at + length], "big"))
        at += length
    return values


class Key:
    """A signing key pair in `directory` (NAME.key, NAME.pub), and our signer for it."""

    def __init__(self, directory, name, alg="RS256"):
        self.alg = alg
        self.private = os.path.join(directory, name + ".key")
        self.public = os.path.join(directory, name + ".pub")
        openssl("genpkey", *GENPKEY_ARGS[alg], "-out", self.private)
        openssl("pkey", "-in", self.private, "-pubout", "-out", self.public)
        self.kid = independent_kid(self.public)

    def sign(self, signing_input):
        digest = "-sha384" if self.alg == "ES384" else "-sha256"
        with tempfile.NamedTemporaryFile() as handle:
            handle.write(signing_input.encode())
            handle.flush()
            signature = openssl("dgst", digest, "-sign", self.private, handle.name)
        if self.alg == "RS256":
            return signature
        size = 48 if self.alg == "ES384" else 32
        r, s = der_integers(signature)
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def mint(self, claims, header=None):
        header = header if header is not None else {"alg": self.alg, "kid": self.kid}
        signing_input = b64url_json(header) + "." + b64url_json(claims)
        return signing_input + "." + b64url(self.sign(signing_input))


def service_account_claims(issuer, namespace, service_account, pod_name, issued, lifetime,
                           audience="sts.amazonaws.com"):
    """The claims kube-apiserver puts in a projected ServiceAccount token."""
    return {
        "aud": [audience],
        "exp": issued + lifetime,
        "iat": issued,
        "iss": issuer,
        "kubernetes.io": {
            "namespace": namespace,
            "pod": {"name": pod_name, "uid": "0d5b6a4e-1111-4000-8000-000000000001"},
            "serviceaccount": {"name": service_account, "uid": "5e6f7a8b-2222-4000-8000-000000000002"},
        },
        "nbf": issued,
        "sub": f"system:serviceaccount:{namespace}:{service_account}",
    }
