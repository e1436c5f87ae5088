"""The check users run: `aws sts get-caller-identity` in a Pod the webhook
mutated. Debian's real AWS CLI v2 gets exactly the env of a Pod that
`irsa-webhook mutate` produced and a token minted as kube-apiserver mints it
for the kubelet (RS256 with the issuer's key, the kubernetes.io claims), laid
out at the injected mount path as the kubelet lays it out (`..data` symlink).
It talks to tests/fakes/local_sts.py over TLS (a throwaway CA, AWS_CA_BUNDLE),
which decides with the JWKS written by `irsa-webhook issuer documents` and the
policy written by `irsa-webhook trust-policy`, independently of `explain`.

Nothing can leave the machine: the test re-runs itself in a new network and
mount namespace (`unshare`; a user namespace too when not root) whose only
interface is lo and whose /etc/hosts sends the STS host names to 127.0.0.1.
Where the machine refuses that, or the CLI is missing, the test is skipped
with the reason."""

import concurrent.futures
import datetime
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

BINARY = os.path.abspath(os.environ.get("IRSA_BINARY", "build/irsa-webhook"))
SOURCE = os.path.abspath(os.environ.get("IRSA_SOURCE_DIR", os.getcwd()))
sys.path.insert(0, os.path.join(SOURCE, "tests", "fakes"))
from jwt_tokens import Key, service_account_claims  # noqa: E402

AWS = "/usr/bin/aws"  # Debian's awscli (make deps), not whatever else PATH has
INSIDE = "IRSA_AWS_CLI_TEST_INSIDE"
OUTER_DEADLINE = 240
CLI_TIMEOUT = 60  # about 1 s on an idle machine; far more when the cores are shared
ACCOUNT = "111122223333"
ISSUER = "https://oidc.example.com/cluster-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.example.com/cluster-1"
REGION = "us-west-2"
STS_HOSTS = ["sts.amazonaws.com", f"sts.{REGION}.amazonaws.com", "sts.us-east-1.amazonaws.com"]

SERVICE_ACCOUNTS = f"""
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: shop
  annotations:
    eks.amazonaws.com/role-arn: {ROLE_ARN}
    eks.amazonaws.com/sts-regional-endpoints: "true"
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: intruder
  namespace: shop
  annotations:
    eks.amazonaws.com/role-arn: {ROLE_ARN}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: elsewhere
  namespace: shop
  annotations:
    eks.amazonaws.com/role-arn: {ROLE_ARN}
    eks.amazonaws.com/audience: other.example.com
"""


def unshare_command():
    command = ["unshare", "--net", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        command[1:1] = ["--user", "--map-root-user"]
    return command


def isolation_problem():
    """None when this machine lets the test isolate itself and has the CLI; else why not."""
    if not os.path.exists(AWS):
        return f"{AWS} is missing: `make deps` installs Debian's awscli"
    if shutil.which("unshare") is None:
        return "no unshare command (util-linux) to make a private network namespace"
    try:
        probe = subprocess.run(unshare_command() + ["true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare failed: {error}"
    if probe.returncode != 0:
        return ("this machine refuses a private network and mount namespace "
                f"({' '.join(unshare_command())}: {probe.stderr.strip()})")
    return None


# --- inside the namespace: isolation -------------------------------------------------------

def loopback_up():
    """`ip link set lo up`, without needing iproute2: SIOCGIFFLAGS / SIOCSIFFLAGS."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def mount(*args):
    done = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"mount {' '.join(args)}: {done.stderr.strip()}")


def make_directory_in_namespace(path, keep_clear_of):
    """Makes `path` exist in this mount namespace only: a tmpfs over its deepest
    existing ancestor (the host's /run stays as it is)."""
    real = os.path.realpath(path)
    ancestor = real
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if ancestor == real:
        return
    for kept in keep_clear_of:
        if ancestor == "/" or os.path.realpath(kept).startswith(ancestor.rstrip("/") + "/"):
            raise RuntimeError(f"cannot lay out {path}: a tmpfs on {ancestor} would hide {kept}")
    mount("-t", "tmpfs", "-o", "mode=0755,size=1m", "tmpfs", ancestor)
    os.makedirs(real, exist_ok=True)


def project_token(directory, name, token):
    """Writes `token` into `directory` as the kubelet's atomic writer lays out a
    projected volume: ..<timestamp>/<name>, ..data -> ..<timestamp>, <name> -> ..data/<name>."""
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + str(time.time_ns() % 10**9)
    os.makedirs(os.path.join(directory, stamp), 0o755)
    with open(os.path.join(directory, stamp, name), "w", encoding="utf-8") as handle:
        handle.write(token)
    os.chmod(os.path.join(directory, stamp, name), 0o644)
    os.symlink(stamp, os.path.join(directory, "..data_tmp"))
    os.rename(os.path.join(directory, "..data_tmp"), os.path.join(directory, "..data"))
    os.symlink(os.path.join("..data", name), os.path.join(directory, name))


# Runs in a mount namespace of its own (nested in the test's): the case's
# token directory over the Pod's mount path, HOME read-only when asked, then
# the CLI. So cases run at once, each seeing its own token at the same path.
CASE_SCRIPT = """mount --bind "$1" "$2" || exit 125
if [ -n "$3" ]; then mount --bind "$3" "$3" && mount -o remount,bind,ro "$3" || exit 125; fi
shift 3
exec "$@"
"""


# --- keys, certificates, tokens --------------------------------------------------------------

def kube_apiserver_claims(pod, audience, lifetime, issued):
    """The claims kube-apiserver puts in the projected token of `pod`."""
    return service_account_claims(ISSUER, pod["metadata"]["namespace"], pod["spec"]["serviceAccountName"],
                                  pod["metadata"]["name"], issued, lifetime, audience)


def make_tls(directory):
    """A throwaway CA and a certificate for every STS host name, signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "irsa-webhook test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, STS_HOSTS[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in STS_HOSTS]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {name: os.path.join(directory, name) for name in ("ca.crt", "sts.crt", "sts.key")}
    with open(paths["ca.crt"], "wb") as handle:
        handle.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["sts.crt"], "wb") as handle:
        handle.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(paths["sts.key"], "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return paths


def run_binary(*args):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=30)


class MutatedPod:
    """What `irsa-webhook mutate` made of a Pod: the container's env as the
    kubelet resolves it, and where and how its token is projected."""

    def __init__(self, pod, stderr):
        self.pod = pod
        self.stderr = stderr
        container = pod["spec"]["containers"][0]
        self.env = {}
        for entry in container.get("env", []):
            if "value" in entry:
                self.env[entry["name"]] = entry["value"]
                continue
            field = entry["valueFrom"]["fieldRef"]["fieldPath"]
            self.env[entry["name"]] = {"metadata.name": pod["metadata"]["name"],
                                       "metadata.namespace": pod["metadata"]["namespace"]}[field]
        token_file = self.env["AWS_WEB_IDENTITY_TOKEN_FILE"]
        for volume in pod["spec"].get("volumes", []):
            for source in volume.get("projected", {}).get("sources", []):
                if "serviceAccountToken" not in source:
                    continue
                mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
                if os.path.normpath(os.path.join(mount["mountPath"], source["serviceAccountToken"]["path"])) \
                        == os.path.normpath(token_file):
                    self.mount_path = mount["mountPath"]
                    self.token_name = source["serviceAccountToken"]["path"]
                    self.audience = source["serviceAccountToken"]["audience"]
                    self.lifetime = source["serviceAccountToken"]["expirationSeconds"]
                    return
        raise AssertionError(f"no projected token volume mounted at {token_file}")


class Case:
    """One run of `aws sts get-caller-identity` in a mutated Pod's environment."""

    def __init__(self, mutated, token, env_changes=None, read_only_home=False):
        self.mutated = mutated
        self.token = token
        self.env = dict(mutated.env)
        self.env.update(env_changes or {})
        self.session = self.env["AWS_ROLE_SESSION_NAME"]
        self.read_only_home = read_only_home
        self.done = None
        self.seconds = None


LONG_NAME = "statefulset-of-a-very-long-name-for-the-orders-database-replica-0"


class AwsCliGetsTheRolesCredentials(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.environ.get(INSIDE) != "1":
            raise unittest.SkipTest(isolation_problem() or "run this file directly: it isolates itself first")
        from local_sts import LocalSts, Provider, Role, StsServer
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        # Isolation first: nothing below may reach another machine.
        loopback_up()
        hosts = os.path.join(d, "hosts")
        with open(hosts, "w", encoding="utf-8") as handle:
            handle.write("127.0.0.1 localhost\n127.0.0.1 " + " ".join(STS_HOSTS) + "\n")
        mount("--bind", hosts, "/etc/hosts")

        cls.key = Key(d, "issuer")
        cls.stranger = Key(d, "stranger")
        site = os.path.join(d, "site")
        done = run_binary("issuer", "documents", "--issuer", ISSUER, "--signing-key-pub", cls.key.public,
                          "--out", site)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        with open(os.path.join(site, "keys.json"), encoding="utf-8") as handle:
            jwks = handle.read()
        done = run_binary("trust-policy", "--provider-arn", PROVIDER_ARN, "--namespace", "shop",
                          "--service-account", "app")
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        cls.sts = LocalSts(ACCOUNT, [Provider(ACCOUNT, ISSUER, ["sts.amazonaws.com"], jwks)],
                           [Role(ROLE_ARN, done.stdout)])
        tls = make_tls(d)
        cls.ca = tls["ca.crt"]
        cls.service_accounts = os.path.join(d, "service-accounts.yaml")
        with open(cls.service_accounts, "w", encoding="utf-8") as handle:
            handle.write(SERVICE_ACCOUNTS)

        regional = ("--aws-default-region", REGION, "--inject-role-session-name")
        now = int(time.time())
        cases = {}
        happy = cls.mutate("orders-7d9f", "app", *regional)
        cases["happy"] = Case(happy, cls.kubelet_token(happy))
        # The trust policy's sub names shop/app; this Pod runs as shop/intruder.
        intruder = cls.mutate("intruder-1", "intruder", *regional)
        cases["sub"] = Case(intruder, cls.kubelet_token(intruder))
        # The provider's client ID is sts.amazonaws.com; this ServiceAccount asks for another.
        elsewhere = cls.mutate("elsewhere-1", "elsewhere", *regional)
        cases["aud"] = Case(elsewhere, cls.kubelet_token(elsewhere))
        stranger = cls.mutate("stranger-1", "app", *regional)
        cases["key"] = Case(stranger, cls.kubelet_token(stranger, key=cls.stranger))
        late = cls.mutate("late-1", "app", *regional)
        cases["expired"] = Case(late, cls.kubelet_token(late, issued=now - late.lifetime - 60))
        long = cls.mutate(LONG_NAME, "app", *regional)
        cases["long"] = Case(long, cls.kubelet_token(long))
        # What the downward API gave before: the whole name, which STS refuses.
        uncut = cls.mutate(LONG_NAME[:-1] + "1", "app", *regional)
        cases["uncut"] = Case(uncut, cls.kubelet_token(uncut), {"AWS_ROLE_SESSION_NAME": uncut.pod["metadata"]["name"]})
        unregioned = cls.mutate("global-1", "app", "--inject-role-session-name")
        cases["no region"] = Case(unregioned, cls.kubelet_token(unregioned))
        read_only = cls.mutate("read-only-home-1", "app", *regional)
        cases["read-only HOME"] = Case(read_only, cls.kubelet_token(read_only), read_only_home=True)
        cls.cases = cases

        mount_paths = {case.mutated.mount_path for case in cases.values()}
        for path in mount_paths:
            make_directory_in_namespace(path, [d, BINARY, AWS, sys.executable])
        began = time.monotonic()
        with StsServer(cls.sts, "127.0.0.1", 443, tls["sts.crt"], tls["sts.key"]), \
                concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            for future in [pool.submit(cls.run_case, name, case) for name, case in cases.items()]:
                future.result()
        cls.seconds = time.monotonic() - began
        print(f"\n{len(cases)} AWS CLI runs in {cls.seconds:.1f} s (4 at a time): " +
              ", ".join(f"{name} {case.seconds:.1f} s" for name, case in cases.items()), file=sys.stderr)
        for name, case in cases.items():  # what a user would see, case by case
            said = case.done.stderr.strip().splitlines() or [""]
            if case.done.returncode == 0:
                said = [json.loads(case.done.stdout).get("Arn", "")]
            print(f"  {name}: exit {case.done.returncode}: {said[-1]}", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def mutate(cls, name, service_account, *flags):
        """`irsa-webhook mutate` of a plain Pod: the Pod as the API server stores it."""
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "shop"},
               "spec": {"serviceAccountName": service_account,
                        "containers": [{"name": "main", "image": "amazon/aws-cli",
                                        "env": [{"name": "LOG_LEVEL", "value": "info"}]}]}}
        path = os.path.join(cls.tmp.name, f"pod-{name}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(pod, handle)
        done = run_binary("mutate", "--pod", path, "--service-account", cls.service_accounts, "-o", "pod",
                          *flags)
        if done.returncode != 0:
            raise RuntimeError(f"mutate {name}: {done.stderr}")
        return MutatedPod(json.loads(done.stdout), done.stderr)

    @classmethod
    def kubelet_token(cls, mutated, key=None, issued=None):
        """The token kube-apiserver mints for the kubelet for this Pod's projected volume."""
        issued = int(time.time()) if issued is None else issued
        claims = kube_apiserver_claims(mutated.pod, mutated.audience, mutated.lifetime, issued)
        return (key or cls.key).mint(claims)

    @classmethod
    def run_case(cls, name, case):
        """The CLI with the Pod's env, a fresh HOME (no credential cache from
        another case), the test CA, and nothing else; its token at the Pod's
        mount path, laid out as the kubelet lays it out."""
        directory = tempfile.mkdtemp(dir=cls.tmp.name, prefix="case-")
        token_dir = os.path.join(directory, "token")
        project_token(token_dir, case.mutated.token_name, case.token)
        home = os.path.join(directory, "home")
        os.mkdir(home)
        env = dict(case.env)
        env.update({"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "AWS_CA_BUNDLE": cls.ca})
        command = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", CASE_SCRIPT, "sh",
                   token_dir, case.mutated.mount_path, home if case.read_only_home else "",
                   AWS, "sts", "get-caller-identity", "--output", "json"]
        began = time.monotonic()
        case.done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT)
        case.seconds = time.monotonic() - began
        if case.done.returncode == 125:
            raise RuntimeError(f"case {name}: could not lay out its mounts: {case.done.stderr}")

    def requests(self, case):
        return [r for r in self.sts.requests if r.get("session") == case.session]

    def assert_refused(self, name, code):
        case = self.cases[name]
        self.assertNotEqual(case.done.returncode, 0, case.done.stdout)
        self.assertIn(f"An error occurred ({code}) when calling the AssumeRoleWithWebIdentity operation",
                      case.done.stderr)
        requests = self.requests(case)
        self.assertTrue(requests, "the CLI never reached the local STS: " + case.done.stderr)
        self.assertEqual({(r["action"], r["code"]) for r in requests}, {("AssumeRoleWithWebIdentity", code)})
        return case

    # --- cases ------------------------------------------------------------------------------

    def test_nothing_can_leave_the_machine(self):
        # (/sys/class/net would show the host's: sysfs was mounted outside.)
        self.assertEqual([name for _, name in socket.if_nameindex()], ["lo"])
        for host in STS_HOSTS:
            self.assertEqual({a[4][0] for a in socket.getaddrinfo(host, 443, socket.AF_INET)}, {"127.0.0.1"})
        with socket.socket() as sock, self.assertRaises(OSError):
            sock.settimeout(2)
            sock.connect(("192.0.2.1", 443))

    def test_happy_path_prints_the_roles_assumed_role_arn_with_the_pods_name(self):
        case = self.cases["happy"]
        self.assertEqual(case.env["AWS_ROLE_SESSION_NAME"], "orders-7d9f")
        self.assertEqual(case.env["LOG_LEVEL"], "info")
        self.assertEqual(case.done.returncode, 0, case.done.stderr)
        identity = json.loads(case.done.stdout)
        self.assertEqual(identity["Arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/app/orders-7d9f")
        self.assertEqual(identity["Account"], ACCOUNT)
        requests = self.requests(case)
        # Regional STS, as the ServiceAccount asked: both calls went to us-west-2.
        self.assertEqual([(r["action"], r["host"], r["code"]) for r in requests],
                         [("AssumeRoleWithWebIdentity", f"sts.{REGION}.amazonaws.com", None),
                          ("GetCallerIdentity", f"sts.{REGION}.amazonaws.com", None)])
        # The SigV4 check can fail: the same signed request with one byte more is refused.
        signed = requests[1]
        status, _ = self.sts.handle(signed["host"], "POST", "/", signed["headers"], signed["body"] + b"&")
        self.assertEqual((status, self.sts.requests[-1]["code"]), (403, "SignatureDoesNotMatch"))
        status, _ = self.sts.handle(signed["host"], "POST", "/", signed["headers"], signed["body"])
        self.assertEqual((status, self.sts.requests[-1]["code"]), (200, None))

    def test_a_token_of_another_service_account_is_access_denied(self):
        self.assert_refused("sub", "AccessDenied")

    def test_a_token_for_another_audience_is_an_invalid_identity_token(self):
        self.assertEqual(self.cases["aud"].mutated.audience, "other.example.com")
        case = self.assert_refused("aud", "InvalidIdentityToken")
        self.assertIn("Incorrect token audience", case.done.stderr)

    def test_a_token_signed_by_a_key_not_in_the_jwks_is_an_invalid_identity_token(self):
        case = self.assert_refused("key", "InvalidIdentityToken")
        self.assertIn("verification key", case.done.stderr)

    def test_an_expired_token_is_an_expired_token_exception(self):
        case = self.assert_refused("expired", "ExpiredTokenException")
        self.assertIn("Token expired", case.done.stderr)

    def test_a_pod_name_of_65_characters_still_gets_credentials(self):
        case = self.cases["long"]
        self.assertEqual(len(LONG_NAME), 65)
        self.assertIn("65 characters", case.mutated.stderr)
        self.assertEqual(len(case.session), 64)
        self.assertTrue(case.session.startswith(LONG_NAME[:55] + "-"))
        self.assertEqual(case.done.returncode, 0, case.done.stderr)
        self.assertEqual(json.loads(case.done.stdout)["Arn"],
                         f"arn:aws:sts::{ACCOUNT}:assumed-role/app/{case.session}")
        # The whole name, as the downward API gave it before, is refused by STS.
        uncut = self.cases["uncut"]
        self.assertEqual(len(uncut.session), 65)
        self.assertNotEqual(uncut.done.returncode, 0)
        self.assertIn("An error occurred (ValidationError) when calling the AssumeRoleWithWebIdentity",
                      uncut.done.stderr)

    def test_regional_sts_without_a_region_is_warned_and_goes_global(self):
        case = self.cases["no region"]
        self.assertIn("regional STS without a region", case.mutated.stderr)
        self.assertEqual(case.env["AWS_STS_REGIONAL_ENDPOINTS"], "regional")
        self.assertNotIn("AWS_REGION", case.env)
        # The CLI v2 ignores AWS_STS_REGIONAL_ENDPOINTS: without a region it calls global STS.
        requests = self.requests(case)
        self.assertTrue(requests, case.done.stderr)
        self.assertEqual(requests[0]["action"], "AssumeRoleWithWebIdentity")
        self.assertEqual({r["host"] for r in requests}, {"sts.amazonaws.com"}, case.done.stderr)

    def test_a_read_only_home_fails_after_sts_answered(self):
        case = self.cases["read-only HOME"]
        self.assertNotEqual(case.done.returncode, 0, case.done.stdout)
        self.assertEqual([(r["action"], r["code"]) for r in self.requests(case)],
                         [("AssumeRoleWithWebIdentity", None)])
        self.assertIn("Read-only file system", case.done.stderr)

    def test_pod_identity_mode(self):
        self.skipTest("EKS Pod Identity (container credentials) cannot be checked with Debian's awscli 2.9.19: "
                      "it predates AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, so it would send no token")


def main():
    if os.environ.get(INSIDE) != "1":
        problem = isolation_problem()
        if problem is None:
            env = dict(os.environ, **{INSIDE: "1"})
            try:
                done = subprocess.run(unshare_command() + [sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
                                      env=env, timeout=OUTER_DEADLINE)
            except subprocess.TimeoutExpired:
                print(f"test_aws_cli: no result within {OUTER_DEADLINE} s", file=sys.stderr)
                sys.exit(1)
            sys.exit(done.returncode)
        print(f"test_aws_cli: SKIPPED: {problem}", file=sys.stderr)
    unittest.main()


if __name__ == "__main__":
    main()
