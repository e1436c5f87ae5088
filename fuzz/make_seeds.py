#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora, one folder per target, from what the
repository already has: the unit tests' inline JSON/YAML/PEM (raw string
literals), test data, examples/, manifests/, the conformance corpus in
../shared/conformance, plus generated inputs (deep nesting, huge lists, keys
and tokens made with the openssl command when it is installed). Nothing large
is committed; this runs at build/test time.

    make_seeds.py --source REPO --shared SHARED_DIR --out DIR

Python standard library only. Deterministic except for the keys openssl makes.
"""

import argparse
import base64
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TARGETS = ["admission_review", "manifest", "kubeconfig", "watch_stream", "list_page",
           "identity_config", "pem_keys", "jwks", "jwt", "trust_policy", "flags", "http_request"]


class Corpus:
    def __init__(self, root):
        self.root = root
        self.count = {t: 0 for t in TARGETS}
        if os.path.isdir(root):
            shutil.rmtree(root)
        for target in TARGETS:
            os.makedirs(os.path.join(root, target))

    def add(self, target, data, name=None):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        digest = hashlib.sha1(data).hexdigest()[:16]
        file_name = f"{name}-{digest}" if name else digest
        file_name = re.sub(r"[^A-Za-z0-9._-]", "_", file_name)[:80]
        path = os.path.join(self.root, target, file_name)
        if not os.path.exists(path):
            with open(path, "wb") as handle:
                handle.write(data)
            self.count[target] += 1

    def add_json(self, target, value, name=None, indent=None):
        self.add(target, json.dumps(value, indent=indent), name)


# --- routing of found texts ------------------------------------------------

def route(text):
    """The targets a text found in the tests is a plausible input for."""
    targets = set()
    if "AdmissionReview" in text:
        targets.add("admission_review")
    if re.search(r'"?kind"?\s*:', text) or "apiVersion" in text:
        targets.add("manifest")
    if '"items"' in text or "items:" in text:
        targets.add("list_page")
    if '"type"' in text and '"object"' in text:
        targets.add("watch_stream")
    if "-----BEGIN" in text:
        targets.add("pem_keys")
    if '"keys"' in text or '"kty"' in text:
        targets.add("jwks")
    if "Statement" in text or "Condition" in text:
        targets.add("trust_policy")
    if "identities" in text or "RoleARN" in text or re.search(r'"[a-z*-]+/[a-z-]+"\s*:\s*\{', text):
        targets.add("identity_config")
    if "current-context" in text or "clusters" in text:
        targets.add("kubeconfig")
    if re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", text.strip()):
        targets.add("jwt")
    return targets


RAW_STRING = re.compile(r'R"([^()\\\s]{0,16})\((.*?)\)\1"', re.S)


def unit_test_literals(source):
    for folder, _, files in os.walk(os.path.join(source, "tests")):
        for name in sorted(files):
            if not name.endswith((".cc", ".h")):
                continue
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            for match in RAW_STRING.finditer(text):
                yield name, match.group(2)


def files_under(path, extensions):
    if not os.path.isdir(path):
        return
    for folder, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            if name.endswith(extensions):
                yield os.path.join(folder, name)


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


# --- admission reviews -----------------------------------------------------

def review(obj, api_version="admission.k8s.io/v1", uid="0d7f5c6e-1111-4222-8333-444455556666",
           namespace="default", operation="CREATE"):
    return {
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": obj,
            "dryRun": False,
        },
    }


def pod(service_account="s3-reader", namespace="default", containers=None, **spec):
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "app-", "namespace": namespace, "labels": {"app": "x"}},
        "spec": {"serviceAccountName": service_account,
                 "containers": containers or [{"name": "app", "image": "nginx"}]},
    }
    body["spec"].update(spec)
    return body


def static_credentials_pod(service_account="s3-reader"):
    return pod(service_account, containers=[
        {"name": "app", "image": "app",
         "env": [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAEXAMPLE"},
                 {"name": "LOG_LEVEL", "value": "info"},
                 {"name": "AWS_SECRET_ACCESS_KEY",
                  "valueFrom": {"secretKeyRef": {"name": "aws", "key": "secret"}}},
                 {"name": "AWS_PROFILE", "value": "prod"},
                 {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/creds/credentials"}],
         "envFrom": [{"secretRef": {"name": "aws-keys"}}, {"configMapRef": {"name": "cfg"}}],
         "volumeMounts": [{"name": "aws", "mountPath": "/root/.aws"},
                          {"name": "creds", "mountPath": "/creds/credentials",
                           "subPath": "credentials"},
                          {"name": "data", "mountPath": "/data"}]},
        {"name": "sidecar", "image": "envoy",
         "volumeMounts": [{"name": "aws", "mountPath": "/home/app/.aws/credentials"}]},
    ], volumes=[{"name": "aws", "secret": {"secretName": "aws"}},
                {"name": "creds", "projected": {"sources": [{"secret": {"name": "creds"}}]}},
                {"name": "data", "emptyDir": {}}],
        initContainers=[{"name": "init", "image": "busybox",
                         "env": [{"name": "AWS_SESSION_TOKEN", "value": "x"}]}])


def hand_written_reviews(corpus):
    accounts = ["s3-reader", "default", "pod-identity-app", "plain", "unknown", "orders"]
    for api_version in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1"):
        for account in accounts:
            namespace = "shop" if account == "orders" else "default"
            corpus.add_json("admission_review", review(pod(account, namespace), api_version,
                                                       namespace=namespace), f"sa-{account}")
            corpus.add_json("admission_review",
                            review(static_credentials_pod(account), api_version),
                            f"static-{account}")
        windows = pod(nodeSelector={"kubernetes.io/os": "windows"})
        windows["metadata"]["annotations"] = {
            "eks.amazonaws.com/skip-containers": "init, app",
            "eks.amazonaws.com/token-expiration": "3600",
            "eks.amazonaws.com/keep-static-credentials": "true"}
        corpus.add_json("admission_review", review(windows, api_version), "windows")
        corpus.add_json("admission_review", review(pod(), api_version, operation="UPDATE"), "update")
        corpus.add_json("admission_review", review(None, api_version), "no-object")
        # Values the user set: an existing token volume, mount, role and region.
        existing = pod(containers=[{
            "name": "app", "image": "app",
            "env": [{"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::1:role/mine"},
                    {"name": "AWS_REGION", "value": "eu-west-1"}],
            "volumeMounts": [{"name": "aws-iam-token", "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}],
            volumes=[{"name": "aws-iam-token", "secret": {"secretName": "token"}}])
        corpus.add_json("admission_review", review(existing, api_version), "user-set")
        # A secret volume that happens to be called aws-iam-token, mounted at ~/.aws.
        clash = pod(containers=[{
            "name": "app", "image": "app",
            "volumeMounts": [{"name": "aws-iam-token", "mountPath": "/root/.aws"}]}],
            volumes=[{"name": "aws-iam-token", "secret": {"secretName": "aws"}}])
        corpus.add_json("admission_review", review(clash, api_version), "token-volume-clash")
    # Keys that need JSON Pointer escaping and labels absent/null.
    odd = pod("pod-identity-app")
    odd["metadata"]["labels"] = None
    odd["metadata"]["annotations"] = {"a/b~c": "d"}
    corpus.add_json("admission_review", review(odd), "escaping")
    no_meta = pod("pod-identity-app")
    del no_meta["metadata"]
    corpus.add_json("admission_review", review(no_meta), "no-metadata")


def conformance(corpus, shared):
    anchor = os.path.join(shared, "conformance", "anchor")
    for path in files_under(anchor, (".json",)):
        with open(path, encoding="utf-8") as handle:
            case = json.load(handle)
        name = os.path.basename(path)[:-5]
        request = case.get("request")
        if not isinstance(request, dict):
            continue
        obj = copy.deepcopy(request)
        if case.get("containerCredentials"):
            obj.setdefault("spec", {})["serviceAccountName"] = "pod-identity-app"
        for api_version in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1"):
            corpus.add_json("admission_review", review(obj, api_version), f"conf-{name}")
        corpus.add_json("manifest", request, f"conf-{name}", indent=2)
        if isinstance(case.get("serviceAccount"), dict):
            corpus.add_json("manifest", case["serviceAccount"], f"conf-sa-{name}")
            corpus.add_json("list_page", {"kind": "ServiceAccountList", "apiVersion": "v1",
                                          "metadata": {"resourceVersion": "7"},
                                          "items": [case["serviceAccount"]]}, f"conf-{name}")
            corpus.add("watch_stream", json.dumps({"type": "ADDED", "object": case["serviceAccount"]})
                       + "\n", f"conf-{name}")
        if case.get("containerCredentials"):
            corpus.add_json("identity_config", case["containerCredentials"], f"conf-{name}")
        if isinstance(case.get("expectedPod"), dict):
            corpus.add_json("admission_review", review(case["expectedPod"]), f"conf-mutated-{name}")


# --- streams and lists -----------------------------------------------------

SERVICE_ACCOUNTS = [
    {"apiVersion": "v1", "kind": "ServiceAccount",
     "metadata": {"name": "s3-reader", "namespace": "default", "resourceVersion": "11",
                  "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/s3",
                                  "other.example/x": "y"}}},
    {"apiVersion": "v1", "kind": "ServiceAccount",
     "metadata": {"name": "orders", "namespace": "shop", "resourceVersion": "12"}},
]


def streams(corpus):
    events = [{"type": t, "object": sa} for t in ("ADDED", "MODIFIED", "DELETED")
              for sa in SERVICE_ACCOUNTS]
    events.append({"type": "BOOKMARK", "object": {"kind": "ServiceAccount", "apiVersion": "v1",
                                                  "metadata": {"resourceVersion": "99"}}})
    events.append({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                                               "status": "Failure", "code": 410,
                                               "reason": "Expired", "message": "too old"}})
    corpus.add("watch_stream", "\n".join(json.dumps(e) for e in events) + "\n", "events")
    corpus.add("watch_stream", "".join(json.dumps(e, indent=1) for e in events), "pretty")
    corpus.add("watch_stream", json.dumps(events[0])[:-3], "truncated")
    corpus.add("watch_stream", '{"type":"ADDED","object":{"metadata":{"name":"a\\"}{"}}}\n',
               "escaped")
    page = {"kind": "ServiceAccountList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "42", "continue": "eyJ2IjoibWV0YSJ9"},
            "items": SERVICE_ACCOUNTS}
    corpus.add_json("list_page", page, "page")
    corpus.add_json("list_page", page, "page-pretty", indent=2)
    metadata_only = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                     "metadata": {"resourceVersion": "5"},
                     "items": [{"kind": "PartialObjectMetadata", "metadata": sa["metadata"]}
                               for sa in SERVICE_ACCOUNTS]}
    corpus.add_json("list_page", metadata_only, "partial")
    corpus.add_json("list_page", {"kind": "Status", "status": "Failure", "code": 410}, "status")


# --- configs, flags ----------------------------------------------------------

def configs(corpus, source):
    corpus.add_json("identity_config", {"identities": [
        {"namespace": "default", "serviceAccount": "default"},
        {"namespace": "shop", "serviceAccount": "orders"}]}, "identities")
    corpus.add_json("identity_config", {
        "default/default": {"RoleARN": "arn:aws:iam::1:role/a", "Audience": "sts.amazonaws.com",
                            "UseRegionalSTS": True, "TokenExpiration": 3600},
        "*/app": {"rolearn": "arn:aws:iam::1:role/b", "tokenexpiration": 100},
        "team-a/app": None, "nokey": {}}, "role-mapping")
    path = os.path.join(source, "examples", "container-credentials.json")
    if os.path.exists(path):
        corpus.add("identity_config", read(path), "example")


def flag_lists(corpus, source):
    lists = [
        ["--port", "8443", "--bind-address", "127.0.0.1", "--tls-cert", "certs/dev/tls.crt",
         "--tls-key", "certs/dev/tls.key", "--service-accounts-file",
         "examples/service-accounts.yaml", "--aws-default-region", "us-east-1", "-v", "3"],
        ["--annotation-prefix=eks.amazonaws.com", "--token-expiration=86400",
         "--sts-regional-endpoint", "--static-credentials=deny", "--read-timeout=1m30s",
         "--max-request-bytes", "1048576", "--in-cluster=false", "--kubeconfig", "/dev/null"],
        ["--v=4", "--logtostderr", "--watch-config-map", "--unknown-service-account", "deny",
         "--service-account-lookup-grace-period", "250ms", "--log-format", "json"],
        ["--port", "-1"], ["--token-expiration", "9223372036854775808"], ["--bogus"],
        ["--read-timeout", "1.5.5s"], ["--shutdown-grace", "-3h"], ["mutate", "--pod", "x"],
    ]
    deployment = os.path.join(source, "manifests", "base", "deployment.yaml")
    if os.path.exists(deployment):
        args = re.findall(r"^\s*- (--[^\s]+(?:=.*)?)$", read(deployment).decode(), re.M)
        if args:
            lists.append([a.strip('"') for a in args])
    for i, args in enumerate(lists):
        corpus.add("flags", "\0".join(args), f"flags{i}")


# --- keys, JWKS, tokens (openssl) ------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True,
                          timeout=60).stdout


def der_ecdsa_to_raw(der, size):
    # SEQUENCE { INTEGER r, INTEGER s }
    def integer(at):
        assert der[at] == 0x02
        length = der[at + 1]
        value = der[at + 2:at + 2 + length].lstrip(b"\0")
        return value.rjust(size, b"\0"), at + 2 + length
    at = 2 if der[1] < 0x80 else 3
    r, at = integer(at)
    s, _ = integer(at)
    return r + s


def jwk_of(public_pem, kid):
    text = openssl("pkey", "-pubin", "-noout", "-text", data=public_pem).decode()
    if "Modulus" in text:
        hexdigits = "".join(re.findall(r"^\s+([0-9a-f:]+)$", text.split("Exponent")[0], re.M))
        modulus = bytes.fromhex(hexdigits.replace(":", "")).lstrip(b"\0")
        exponent = int(re.search(r"Exponent: (\d+)", text).group(1))
        e = exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64url(modulus),
                "e": b64url(e)}
    pub = text.split("pub:")[1].split("ASN1 OID")[0]
    point = bytes.fromhex("".join(re.findall(r"[0-9a-f]{2}", pub)))
    size = (len(point) - 1) // 2
    curve = "P-256" if size == 32 else "P-384"
    return {"kty": "EC", "use": "sig", "crv": curve, "alg": "ES256" if size == 32 else "ES384",
            "kid": kid, "x": b64url(point[1:1 + size]), "y": b64url(point[1 + size:])}


def keys_and_tokens(corpus, work):
    try:
        openssl("version")
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        print("make_seeds: openssl not found; no key, JWKS or token seeds", file=sys.stderr)
        return
    made = {}
    for name, args in {"rsa": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                       "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                       "p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
                       "ed25519": ["-algorithm", "ED25519"]}.items():
        private_pem = openssl("genpkey", *args)
        public_pem = openssl("pkey", "-pubout", data=private_pem)
        key_file = os.path.join(work, name + ".key")
        with open(key_file, "wb") as handle:
            handle.write(private_pem)
        made[name] = (private_pem, public_pem, key_file)
        corpus.add("pem_keys", public_pem, f"{name}-public")
        corpus.add("pem_keys", private_pem, f"{name}-private")
    rsa_private, rsa_public, rsa_key = made["rsa"]
    corpus.add("pem_keys", openssl("rsa", "-pubin", "-RSAPublicKey_out", data=rsa_public),
               "pkcs1-public")
    cert = openssl("req", "-x509", "-new", "-key", rsa_key, "-subj", "/CN=fuzz", "-days", "2")
    corpus.add("pem_keys", cert, "certificate")
    corpus.add("pem_keys", rsa_public + made["p256"][1] + made["p384"][1], "bundle")

    jwks = {"keys": []}
    for name in ("rsa", "p256", "p384"):
        jwk = jwk_of(made[name][1], f"kid-{name}")
        jwks["keys"].append(jwk)
        corpus.add_json("jwks", {"keys": [jwk]}, f"jwks-{name}")
    corpus.add_json("jwks", jwks, "jwks-all")
    corpus.add_json("jwks", {"keys": jwks["keys"] + [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]},
                    "jwks-skipped")

    # Kubeconfigs with inline CA and client certificate data.
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {
            "server": "https://127.0.0.1:6443/base",
            "certificate-authority-data": base64.b64encode(cert).decode()}}],
        "users": [{"name": "u", "user": {
            "client-certificate-data": base64.b64encode(cert).decode(),
            "client-key-data": base64.b64encode(rsa_private).decode()}}]}
    corpus.add_json("kubeconfig", kubeconfig, "client-cert")

    now = 1700000000
    claims = {"iss": "https://oidc.example.com/cluster", "sub": "system:serviceaccount:shop:orders",
              "aud": ["sts.amazonaws.com"], "exp": now + 3600, "iat": now - 60, "nbf": now - 60,
              "kubernetes.io": {"namespace": "shop", "serviceaccount": {"name": "orders"}}}
    for name, alg, digest in (("rsa", "RS256", "-sha256"), ("p256", "ES256", "-sha256"),
                              ("p384", "ES384", "-sha384")):
        header = {"alg": alg, "kid": f"kid-{name}", "typ": "JWT"}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = openssl("dgst", digest, "-sign", made[name][2], data=signing_input.encode())
        if alg != "RS256":
            signature = der_ecdsa_to_raw(signature, 32 if alg == "ES256" else 48)
        corpus.add("jwt", signing_input + "." + b64url(signature), f"token-{name}")
    unsigned = b64url(b'{"alg":"none"}') + "." + b64url(json.dumps(claims).encode()) + "."
    corpus.add("jwt", unsigned, "alg-none")
    corpus.add("jwt", b64url(b'{"alg":"HS256","kid":"kid-rsa"}') + "." +
               b64url(json.dumps(claims).encode()) + ".c2lnbmF0dXJl", "hmac")


def kubeconfigs(corpus):
    base = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
            "clusters": [{"name": "k", "cluster": {"server": "https://[::1]:6443",
                                                    "insecure-skip-tls-verify": True}}],
            "users": [{"name": "u", "user": {"token": "abc", "tokenFile": "token"}}]}
    corpus.add_json("kubeconfig", base, "token")
    yaml_text = """apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: dev, user: dev, namespace: default}
clusters:
- name: dev
  cluster:
    server: 127.0.0.1:8443
    certificate-authority: empty
users:
- name: dev
  user:
    exec: {command: aws, args: [eks, get-token]}
"""
    corpus.add("kubeconfig", yaml_text, "exec")
    corpus.add("kubeconfig", yaml_text.replace("127.0.0.1:8443", "http://example.invalid/x/"),
               "http")
    named = json.loads(json.dumps(base))
    named["clusters"][0]["cluster"]["tls-server-name"] = "kubernetes.default.svc"
    corpus.add_json("kubeconfig", named, "tls-server-name")
    proxied = json.loads(json.dumps(base))
    proxied["clusters"][0]["cluster"]["proxy-url"] = "http://ops:p%40ss@proxy.corp:3128"
    corpus.add_json("kubeconfig", proxied, "proxy-url")
    corpus.add("kubeconfig", "https://kubernetes.default.svc:443/", "url")
    corpus.add("kubeconfig", "http://user:secret@[fd00::1]:3128/", "proxy-url-only")
    corpus.add("kubeconfig", "aGVsbG8gd29ybGQ=\n", "base64")


# --- hand-written trust policies -----------------------------------------------

def policies(corpus):
    provider = "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/cluster"
    corpus.add_json("trust_policy", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"oidc.example.com/cluster:sub":
                                       "system:serviceaccount:shop:orders",
                                       "oidc.example.com/cluster:aud": "sts.amazonaws.com"}}}]},
        "allow")
    corpus.add_json("trust_policy", {"Statement": [
        {"Effect": "Deny", "Principal": "*", "NotAction": ["s3:*"],
         "Condition": {"ForAnyValue:StringLike": {"oidc.example.com/cluster:amr": ["a*"]},
                       "StringNotEqualsIfExists": {"oidc.example.com/cluster:sub": "x"},
                       "NumericLessThan": {"aws:EpochTime": "1"}}},
        {"Effect": "Allow", "NotPrincipal": {"AWS": "*"}, "Action": "sts:*"}]}, "deny")
    for text in ("shop/orders", "*/orders-*", "https://oidc.example.com/cluster",
                 provider, "2024-05-01T12:00:00.123+02:00", "9999-12-31T23:59:59Z"):
        corpus.add("trust_policy", text, "text")


# --- generated hostile inputs (every target replays these in the smoke) -------

def hostile(corpus):
    deep = 100000
    corpus.add("admission_review", "[" * deep + "]" * deep, "deep-arrays")
    nested = '{"a":' * deep + "1" + "}" * deep
    corpus.add("admission_review", nested, "deep-objects")
    inside = review(pod())
    text = json.dumps(inside)
    corpus.add("admission_review", text.replace('"dryRun": false', '"dryRun": false, "x": '
                                                + "[" * 5000 + "]" * 5000), "deep-inside")
    corpus.add("manifest", "a:\n" + "".join("  " * i + "- \n" for i in range(1, 400)), "deep-yaml")
    corpus.add("manifest", "[" * 2000 + "]" * 2000, "deep-json-manifest")
    corpus.add("manifest", "x: " + "[" * 5000 + "]" * 5000, "deep-flow-yaml")
    aliases = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 12):
        aliases += f"{chr(97 + i)}: &{chr(97 + i)} [*{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}]\n"
    corpus.add("manifest", aliases, "billion-laughs")
    corpus.add("identity_config", "[" * deep + "]" * deep, "deep")
    corpus.add("trust_policy", '{"Statement":' + "[" * 3000 + "]" * 3000 + "}", "deep")
    corpus.add("list_page", '{"items":[' + "[" * deep + "]" * deep + "]}", "deep")
    corpus.add("watch_stream", '{"type":"ADDED","object":' + "[" * 50000 + "]" * 50000 + "}",
               "deep")

    big = pod(containers=[{"name": "app", "image": "x",
                           "env": [{"name": f"VAR_{i}", "value": "v" * 20} for i in range(20000)]}])
    corpus.add_json("admission_review", review(big), "huge-env")
    corpus.add("admission_review", json.dumps(review(pod())).replace("app-", "app-\udcff"),
               "invalid-utf8")
    duplicate = json.dumps(review(pod("plain")))
    duplicate = duplicate.replace('"serviceAccountName": "plain"',
                                  '"serviceAccountName": "plain", "serviceAccountName": "s3-reader"')
    corpus.add("admission_review", duplicate, "duplicate-keys")
    dup_uid = json.dumps(review(pod())).replace('"uid": ', '"uid": "first", "uid": ')
    corpus.add("admission_review", dup_uid, "duplicate-uid")
    corpus.add("admission_review", json.dumps(review(pod()))[:-10], "truncated")
    corpus.add("admission_review", b"\xef\xbb\xbf" + json.dumps(review(pod())).encode(), "bom")
    corpus.add("admission_review", b"\0" * 64, "nul")
    corpus.add("admission_review", json.dumps(review({"apiVersion": "v1", "kind": "Service",
                                                      "spec": {}})), "not-a-pod")
    corpus.add("admission_review", json.dumps(review({"kind": "Pod", "spec": {}})), "no-containers")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--shared", default="")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    corpus = Corpus(args.out)

    for name, text in unit_test_literals(args.source):
        for target in route(text):
            corpus.add(target, text, "unit-" + name.split(".")[0])
    for folder in ("tests", "examples", "manifests"):
        for path in files_under(os.path.join(args.source, folder),
                                (".json", ".yaml", ".yml", ".pem", ".crt")):
            data = read(path)
            if len(data) > 1 << 20:
                continue
            targets = route(data.decode("utf-8", "replace"))
            if path.endswith((".yaml", ".yml")) or "manifest" in folder:
                targets.add("manifest")
            for target in targets:
                corpus.add(target, data, os.path.basename(path))
    review_path = os.path.join(args.source, "examples", "admission-review.json")
    if os.path.exists(review_path):
        corpus.add("admission_review", read(review_path), "example")
    if args.shared:
        conformance(corpus, args.shared)
    hand_written_reviews(corpus)
    streams(corpus)
    configs(corpus, args.source)
    flag_lists(corpus, args.source)
    kubeconfigs(corpus)
    policies(corpus)
    hostile(corpus)
    with tempfile.TemporaryDirectory() as work:
        keys_and_tokens(corpus, work)
    total = sum(corpus.count.values())
    print(f"make_seeds: {total} seeds in {args.out}: " +
          ", ".join(f"{t} {n}" for t, n in corpus.count.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
