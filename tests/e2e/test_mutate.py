"""The offline `irsa-webhook mutate` command, driven as users run it."""

import json
import os
import subprocess
import tempfile
import unittest

import jsonpatch

BINARY = os.environ.get("IRSA_BINARY", "build/irsa-webhook")
SOURCE = os.environ.get("IRSA_SOURCE_DIR", os.getcwd())
EXAMPLES = os.path.join(SOURCE, "examples")
TIMEOUT = 30


def run(*args):
    return subprocess.run([BINARY, "mutate", *args], capture_output=True, text=True, timeout=TIMEOUT)


def example(name):
    return os.path.join(EXAMPLES, name)


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


class MutateCommand(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def test_patch_applies_and_injects_identity(self):
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "reader", "namespace": "default"},
            "spec": {"serviceAccountName": "s3-reader",
                     "initContainers": [{"name": "fetch-config", "image": "x"}],
                     "containers": [{"name": "app", "image": "y", "env": [{"name": "LOG_LEVEL", "value": "info"}]}]},
        }
        path = self.write("pod.json", json.dumps(pod))
        done = run("--pod", path, "--service-account", example("service-accounts.yaml"),
                   "--aws-default-region", "eu-west-1")
        self.assertEqual(done.returncode, 0, done.stderr)
        mutated = jsonpatch.apply_patch(pod, json.loads(done.stdout))
        for container in mutated["spec"]["initContainers"] + mutated["spec"]["containers"]:
            env = env_of(container)
            self.assertEqual(env["AWS_ROLE_ARN"]["value"], "arn:aws:iam::111122223333:role/s3-reader")
            self.assertEqual(env["AWS_WEB_IDENTITY_TOKEN_FILE"]["value"],
                             "/var/run/secrets/eks.amazonaws.com/serviceaccount/token")
            self.assertEqual(env["AWS_REGION"]["value"], "eu-west-1")
            self.assertIn({"name": "aws-iam-token", "readOnly": True,
                           "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"},
                          container["volumeMounts"])
        self.assertEqual(mutated["spec"]["containers"][0]["env"][0], {"name": "LOG_LEVEL", "value": "info"})
        volume = mutated["spec"]["volumes"][0]
        self.assertEqual(volume["projected"]["sources"][0]["serviceAccountToken"],
                         {"audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"})

    def test_output_pod_and_yaml_are_the_mutated_pod(self):
        base = ["--pod", example("pod.yaml"), "--service-account", example("service-accounts.yaml")]
        as_json = run(*base, "--output", "pod")
        self.assertEqual(as_json.returncode, 0, as_json.stderr)
        pod = json.loads(as_json.stdout)
        self.assertEqual(env_of(pod["spec"]["containers"][0])["AWS_ROLE_ARN"]["value"],
                         "arn:aws:iam::111122223333:role/s3-reader")
        as_yaml = run(*base, "--output", "yaml")
        self.assertEqual(as_yaml.returncode, 0, as_yaml.stderr)
        self.assertIn("AWS_WEB_IDENTITY_TOKEN_FILE", as_yaml.stdout)
        self.assertIn("readOnly: true", as_yaml.stdout)
        # The YAML reads back (through mutate itself) as the same Pod: nothing more to do.
        again = run("--pod", self.write("mutated.yaml", as_yaml.stdout),
                    "--service-account", example("service-accounts.yaml"))
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(json.loads(again.stdout), [])

    def test_pod_annotations_and_service_account_annotations(self):
        pod = self.write("pod.yaml", """
apiVersion: v1
kind: Pod
metadata:
  name: orders-1
  namespace: shop
  annotations:
    eks.amazonaws.com/skip-containers: "istio-proxy, log-shipper"
spec:
  serviceAccountName: orders
  containers:
    - {name: app, image: app}
    - {name: istio-proxy, image: envoy}
    - {name: log-shipper, image: fluent-bit}
""")
        done = run("--pod", pod, "--service-account", example("service-accounts.yaml"), "--output", "pod")
        self.assertEqual(done.returncode, 0, done.stderr)
        mutated = json.loads(done.stdout)
        app, proxy, shipper = mutated["spec"]["containers"]
        env = env_of(app)
        self.assertEqual(env["AWS_STS_REGIONAL_ENDPOINTS"]["value"], "regional")
        self.assertEqual(env["AWS_ROLE_SESSION_NAME"]["valueFrom"], {"fieldRef": {"fieldPath": "metadata.name"}})
        self.assertNotIn("env", proxy)
        self.assertNotIn("env", shipper)
        token = mutated["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
        self.assertEqual(token["expirationSeconds"], 3600)

    def test_issue20_region_windows_fs_group_and_notes(self):
        sa_file = self.write("sa.yaml", """
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: default
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/app
    eks.amazonaws.com/region: ap-northeast-1
    eks.amazonaws.com/audience: ""
""")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default",
               "annotations": {"eks.amazonaws.com/skip-containers": '"side,car"'}},
               "spec": {"serviceAccountName": "app",
                        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchExpressions": [
                                {"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]}]}}},
                        "containers": [{"name": "app", "image": "x"}, {"name": "side,car", "image": "y"}]}}
        path = self.write("pod.json", json.dumps(pod))
        done = run("--pod", path, "--service-account", sa_file, "--aws-default-region", "us-east-1",
                   "--inject-fs-group", "1234", "--output", "pod")
        self.assertEqual(done.returncode, 0, done.stderr)
        mutated = json.loads(done.stdout)
        app, side = mutated["spec"]["containers"]
        self.assertEqual(env_of(app)["AWS_REGION"]["value"], "ap-northeast-1")
        self.assertEqual(env_of(app)["AWS_WEB_IDENTITY_TOKEN_FILE"]["value"],
                         "C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token")
        self.assertNotIn("env", side)  # the quoted name with a comma is skipped
        # Windows Pods may not set fsGroup: none is injected.
        self.assertNotIn("securityContext", mutated["spec"])
        # The empty audience annotation is reported on stderr.
        self.assertIn("ServiceAccount app: annotation eks.amazonaws.com/audience is empty", done.stderr)

        del pod["spec"]["affinity"]
        path = self.write("linux.json", json.dumps(pod))
        done = run("--pod", path, "--service-account", sa_file, "--inject-fs-group", "1234")
        self.assertEqual(done.returncode, 0, done.stderr)
        patch = json.loads(done.stdout)
        self.assertIn({"op": "add", "path": "/spec/securityContext", "value": {"fsGroup": 1234}}, patch)
        bad = run("--pod", path, "--service-account", sa_file, "--inject-fs-group", "root")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--inject-fs-group wants an integer", bad.stderr)

    def test_a_service_accounts_problem_is_reported_once(self):
        accounts = self.write("sa.yaml", """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: default,
           annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::111122223333:user/app"}}
""")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
               "spec": {"serviceAccountName": "app", "containers": [{"name": "a", "image": "x"}]}}
        done = run("--pod", self.write("pod.json", json.dumps(pod)), "--service-account", accounts)
        self.assertEqual(done.returncode, 0, done.stderr)
        mentions = [line for line in done.stderr.splitlines() if "not an IAM role ARN" in line]
        self.assertEqual(len(mentions), 1, done.stderr)

    def test_container_credentials_mode(self):
        pod = self.write("pod.json", json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"serviceAccountName": "pod-identity-app", "containers": [{"name": "app", "image": "x"}]}}))
        done = run("--pod", pod, "--service-account", example("service-accounts.yaml"),
                   "--container-credentials-config", example("container-credentials.json"),
                   "--jitter", "0.5", "--output", "pod")
        self.assertEqual(done.returncode, 0, done.stderr)
        mutated = json.loads(done.stdout)
        env = env_of(mutated["spec"]["containers"][0])
        self.assertEqual(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]["value"], "http://169.254.170.23/v1/credentials")
        self.assertEqual(mutated["metadata"]["labels"], {"eks.amazonaws.com/pod-identity": "enabled"})
        token = mutated["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
        self.assertEqual(token["expirationSeconds"], 82800)

    def test_unknown_or_unannotated_service_account_prints_empty_patch(self):
        pod = self.write("pod.json", json.dumps({
            "metadata": {"name": "p"}, "spec": {"serviceAccountName": "nobody", "containers": [{"name": "a"}]}}))
        done = run("--pod", pod, "--service-account", example("service-accounts.yaml"))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout), [])
        self.assertIn("not found", done.stderr)
        default_sa = run("--pod", pod, "--service-account", example("service-accounts.yaml"),
                         "--namespace", "default")
        self.assertEqual(json.loads(default_sa.stdout), [])

    def test_bad_input_exits_2_with_a_reason_and_no_stdout(self):
        bad_yaml = self.write("bad.yaml", "metadata:\n  name: [unclosed\n")
        not_pod = self.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        two = self.write("two.yaml", "kind: Pod\nspec: {containers: []}\n---\nkind: Pod\nspec: {containers: []}\n")
        sa = example("service-accounts.yaml")
        cases = [
            (["--pod", "/nonexistent/pod.yaml", "--service-account", sa], "/nonexistent/pod.yaml"),
            (["--pod", bad_yaml, "--service-account", sa], "line"),
            (["--pod", not_pod, "--service-account", sa], "not a Pod"),
            (["--pod", two, "--service-account", sa], "exactly one Pod"),
            (["--service-account", sa], "--pod FILE is required"),
            (["--pod", example("pod.yaml"), "--service-account", "/nonexistent/sa.yaml"], "/nonexistent/sa.yaml"),
            (["--pod", example("pod.yaml"), "--output", "xml"], "--output must be"),
            (["--pod", example("pod.yaml"), "--no-such-flag"], "unknown flag --no-such-flag"),
            (["--pod", example("pod.yaml"), "--annotation-prefix", "Not A Prefix"], "--annotation-prefix"),
            (["--pod", example("pod.yaml"), "--jitter", "2"], "--jitter"),
        ]
        for args, reason in cases:
            with self.subTest(args=args):
                done = run(*args)
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertEqual(done.stdout, "")
                self.assertIn(reason, done.stderr)

    def test_help_goes_to_stdout(self):
        done = run("--help")
        self.assertEqual(done.returncode, 0)
        self.assertIn("--output", done.stdout)


if __name__ == "__main__":
    unittest.main()
