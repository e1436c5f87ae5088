"""A newcomer's mistakes, each explained: --check-config checks what a start
checks (and fails alike), a value flag never swallows the next flag, every
command is discoverable from `help`, and the offline commands say why they
did nothing. Runs the real binary; every run is bounded in time."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webhook_fixture import BINARY, SOURCE  # noqa: E402

RUN_DEADLINE = 30.0


def run(*args, cwd=None):
    return subprocess.run([os.path.abspath(BINARY), *args], capture_output=True, text=True,
                          timeout=RUN_DEADLINE, cwd=cwd)


class FirstHourTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="irsa-first-hour-")
        subprocess.run(["bash", os.path.join(SOURCE, "certs/gen-dev-certs.sh"),
                        os.path.join(cls.work, "dev")], check=True, capture_output=True,
                       timeout=60)
        subprocess.run(["bash", os.path.join(SOURCE, "certs/gen-dev-certs.sh"),
                        os.path.join(cls.work, "other")], check=True, capture_output=True,
                       timeout=60)
        cls.cert = os.path.join(cls.work, "dev/tls.crt")
        cls.key = os.path.join(cls.work, "dev/tls.key")
        cls.accounts = os.path.join(SOURCE, "examples/service-accounts.yaml")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def check_config(self, *flags):
        return run("--check-config", *flags)

    def assert_refused_alike(self, flags, reason):
        """--check-config and a real start both exit 1 with the same message."""
        checked = self.check_config(*flags)
        self.assertEqual(checked.returncode, 1, checked.stdout + checked.stderr)
        self.assertIn(reason, checked.stderr)
        self.assertNotIn("configuration OK", checked.stdout)
        started = run("--port", "0", "--metrics-port", "0", *flags)
        self.assertEqual(started.returncode, 1, started.stderr)
        self.assertEqual(started.stderr, checked.stderr)

    def test_check_config_accepts_a_configuration_that_starts(self):
        done = self.check_config("--tls-cert", self.cert, "--tls-key", self.key,
                                 "--service-accounts-file", self.accounts,
                                 "--service-name", "irsa-webhook", "--namespace", "irsa-system")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "configuration OK\n")

    def test_check_config_refuses_swapped_certificate_and_key(self):
        self.assert_refused_alike(["--tls-cert", self.key, "--tls-key", self.cert,
                                   "--service-accounts-file", self.accounts],
                                  "no PEM certificate")

    def test_check_config_refuses_a_key_of_another_certificate(self):
        self.assert_refused_alike(["--tls-cert", self.cert,
                                   "--tls-key", os.path.join(self.work, "other/tls.key"),
                                   "--service-accounts-file", self.accounts],
                                  "does not match")

    def test_check_config_refuses_a_missing_kubeconfig(self):
        self.assert_refused_alike(["--tls-cert", self.cert, "--tls-key", self.key,
                                   "--kubeconfig", "/nope/config"],
                                  "cannot read /nope/config")

    def test_check_config_refuses_a_service_accounts_file_of_other_kinds(self):
        deployment = os.path.join(SOURCE, "tests/e2e/testdata/audit/apps/backup.yaml")
        self.assert_refused_alike(["--tls-cert", self.cert, "--tls-key", self.key,
                                   "--service-accounts-file", deployment],
                                  "expected kind ServiceAccount")

    def test_check_config_refuses_a_certificate_without_the_service_name(self):
        self.assert_refused_alike(["--tls-cert", self.cert, "--tls-key", self.key,
                                   "--service-accounts-file", self.accounts,
                                   "--service-name", "pod-identity-webhook",
                                   "--namespace", "kube-system"],
                                  "does not name pod-identity-webhook.kube-system.svc")

    def test_a_value_flag_followed_by_a_flag_is_refused_by_every_command(self):
        for args in (["--aws-default-region", "--check-config"],
                     ["--token-audience", "--check-config"],
                     ["--service-name", "--check-config"],
                     ["mutate", "--pod", "--service-account", self.accounts],
                     ["mutate", "--pod", os.path.join(SOURCE, "examples/pod.yaml"),
                      "--service-account", self.accounts, "--aws-default-region", "--output",
                      "yaml"],
                     ["audit", "-f", "--service-account", self.accounts],
                     ["trust-policy", "--provider-arn", "--namespace", "a"],
                     ["explain", "--trust-policy", "--token", "t"]):
            with self.subTest(args=args):
                done = run(*args)
                self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
                self.assertIn("needs a value", done.stderr)
                self.assertNotIn("configuration OK", done.stdout)

    def test_help_lists_every_command_and_each_usage(self):
        done = run("help")
        self.assertEqual(done.returncode, 0, done.stderr)
        for command in ("mutate", "audit", "issuer documents", "trust-policy", "explain",
                        "help [COMMAND]"):
            self.assertIn("irsa-webhook " + command, done.stdout)
        self.assertEqual(run("--help").stdout, done.stdout)
        for command, usage in (("mutate", "irsa-webhook mutate --pod FILE"),
                               ("audit", "irsa-webhook audit"),
                               ("issuer", "irsa-webhook issuer documents"),
                               ("trust-policy", "irsa-webhook trust-policy"),
                               ("explain", "irsa-webhook explain")):
            with self.subTest(command=command):
                one = run("help", command)
                self.assertEqual(one.returncode, 0, one.stderr)
                self.assertIn(usage, one.stdout)
        unknown = run("help", "nope")
        self.assertEqual(unknown.returncode, 2)
        self.assertIn('no command "nope"', unknown.stderr)

    def test_mutate_without_service_accounts_says_what_is_missing(self):
        done = run("mutate", "--pod", os.path.join(SOURCE, "examples/pod.yaml"))
        self.assertEqual(done.returncode, 2)
        self.assertEqual(done.stdout, "")
        self.assertIn("--service-account FILE is required", done.stderr)

    def test_mutate_names_the_service_account_found_in_another_namespace(self):
        accounts = os.path.join(self.work, "no-namespace.yaml")
        with open(accounts, "w", encoding="utf-8") as file:
            file.write("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: s3-reader\n"
                       "  annotations:\n"
                       "    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/r\n")
        pod = os.path.join(self.work, "pod.yaml")
        with open(pod, "w", encoding="utf-8") as file:
            file.write("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: team-a}\n"
                       "spec:\n  serviceAccountName: s3-reader\n"
                       "  containers: [{name: app, image: app}]\n")
        done = run("mutate", "--pod", pod, "--service-account", accounts)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.strip(), "[]")
        self.assertIn("only in another", done.stderr)
        self.assertIn("default/s3-reader", done.stderr)

    def test_explain_names_the_flag_of_a_file_that_is_not_json(self):
        token = os.path.join(self.work, "token")
        with open(token, "w", encoding="utf-8") as file:
            file.write("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
        done = run("explain", "--trust-policy", token, "--token", token, "--jwks", token)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--trust-policy " + token + " is not valid JSON", done.stderr)
        self.assertIn("looks like a token", done.stderr)

    def make(self, *args):
        return subprocess.run(["make", "--no-print-directory", "-s", *args], cwd=SOURCE,
                              capture_output=True, text=True, timeout=120)

    def test_make_deploy_says_what_is_missing_before_kubectl_does(self):
        if shutil.which("make") is None:
            self.skipTest("make is not installed")
        absent = self.make("check-cluster", "KUBECTL=/nonexistent/kubectl")
        self.assertNotEqual(absent.returncode, 0)
        self.assertIn("/nonexistent/kubectl is not installed", absent.stderr)
        no_context = os.path.join(self.work, "kubectl-no-context")
        with open(no_context, "w", encoding="utf-8") as file:
            file.write("#!/bin/sh\necho 'error: current-context is not set' >&2\nexit 1\n")
        os.chmod(no_context, 0o755)
        done = self.make("check-cluster", "KUBECTL=" + no_context)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("kubectl has no current context", done.stderr)
        unreachable = os.path.join(self.work, "kubectl-unreachable")
        with open(unreachable, "w", encoding="utf-8") as file:
            file.write('#!/bin/sh\nif [ "$1" = config ]; then echo lab; exit 0; fi\n'
                       "echo 'connection refused' >&2\nexit 1\n")
        os.chmod(unreachable, 0o755)
        done = self.make("check-cluster", "KUBECTL=" + unreachable)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn('context "lab" does not answer', done.stderr)

    def test_make_install_puts_the_binary_under_prefix(self):
        if shutil.which("make") is None:
            self.skipTest("make is not installed")
        prefix = os.path.join(self.work, "prefix")
        build_dir = os.path.dirname(os.path.abspath(BINARY))
        done = self.make("install", "PREFIX=" + prefix, "BUILD_DIR=" + build_dir)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        installed = os.path.join(prefix, "bin", "irsa-webhook")
        self.assertTrue(os.access(installed, os.X_OK))
        version = subprocess.run([installed, "--version"], capture_output=True, text=True,
                                 timeout=RUN_DEADLINE)
        self.assertTrue(version.stdout.startswith("irsa-webhook "), version.stdout)
        self.assertEqual(self.make("uninstall", "PREFIX=" + prefix).returncode, 0)
        self.assertFalse(os.path.exists(installed))

    def test_audit_counts_in_the_singular(self):
        done = run("audit", "-f", os.path.join(SOURCE, "examples/pod.yaml"))
        self.assertIn("1 workload scanned", done.stdout)


if __name__ == "__main__":
    unittest.main()
