"""One decision for serve, `mutate` and `audit` (issue 22): the same Pods,
under the same flags and ServiceAccounts, through the real server over TLS,
through `mutate`, and through `audit`, must get the same decision: admitted
or denied alike, the same patch from the server and `mutate`, and `audit`'s
verdict naming what the server did with the static credentials. The Pods are
hand-made edge cases (the keep-static-credentials opt-out, keys in a
container left out of the identity, ServiceAccounts with and without a role)
and every workload of the real-world corpus (tests/corpus/real-world/)."""

import base64
import collections
import glob
import json
import os
import subprocess
import unittest

import yaml

from webhook_fixture import (BINARY, SOURCE, WebhookTestCase, pod_of, review, service_account,
                             service_accounts)

CORPUS = os.path.join(SOURCE, "tests", "corpus", "real-world")
COMMAND_TIMEOUT = 30
SERVICE_ACCOUNTS = service_accounts(service_account("app", role="app"), service_account("legacy"))
KEY_ENV = [
    {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "k", "key": "id"}}},
    {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "k", "key": "s"}}},
]

# Each flag set is a webhook configuration; every Pod goes through each.
CONFIGURATIONS = {
    "default": [],
    "opt-out allowed, deny": ["--static-credentials=deny", "--allow-static-credentials-opt-out"],
    "opt-out allowed, strip": ["--allow-static-credentials-opt-out"],
    "warn, unmanaged warn": ["--static-credentials=warn", "--static-credentials-unmanaged=warn"],
    "deny, unmanaged deny": ["--static-credentials=deny", "--static-credentials-unmanaged=deny"],
    "off": ["--static-credentials=off"],
}


def keyed(name, service_account, annotations=None, extra_containers=()):
    return pod_of(name, [{"name": "app", "image": "app:1", "env": KEY_ENV}, *extra_containers],
                  service_account, annotations=annotations or {})


def hand_made_pods():
    return {
        "keys, role": keyed("a", "app"),
        # The regression of issue 22: audit said "strip" where the webhook,
        # honouring the opt-out, only warns.
        "keys, role, keep-static-credentials": keyed(
            "b", "app", {"eks.amazonaws.com/keep-static-credentials": "true"}),
        "keys only in a skipped container": keyed(
            "c", "app", {"eks.amazonaws.com/skip-containers": "app"},
            [{"name": "main", "image": "main:1"}]),
        "keys, no role": keyed("d", "legacy"),
        "keys, unknown ServiceAccount": keyed("e", "nobody"),
        "no keys, role": pod_of("f", [{"name": "app", "image": "app:1"}]),
    }


def corpus_pods():
    """Every workload of the corpus as the Pod its controller would create,
    in namespace team-a with ServiceAccount app (a role), so that the
    identity and the static credentials both apply."""
    pods = {}
    for path in sorted(glob.glob(os.path.join(CORPUS, "**", "*.yaml"), recursive=True)):
        with open(path, encoding="utf-8") as handle:
            documents = [d for d in yaml.safe_load_all(handle) if isinstance(d, dict)]
        for index, document in enumerate(documents):
            kind = document.get("kind")
            spec = document.get("spec") or {}
            if kind == "Pod":
                template = {"metadata": document.get("metadata") or {}, "spec": spec}
            elif kind == "CronJob":
                template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
            elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
                template = spec.get("template")
            else:
                continue
            if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
                continue
            metadata = dict(template.get("metadata") or {})
            metadata["name"] = f"corpus-{len(pods)}"
            metadata["namespace"] = "team-a"
            pod_spec = dict(template["spec"])
            pod_spec["serviceAccountName"] = "app"
            pod_spec.pop("serviceAccount", None)
            label = f"{os.path.relpath(path, CORPUS)}#{index} ({kind})"
            pods[label] = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}
    return pods


class OneDecision(WebhookTestCase):
    SERVICE_ACCOUNTS = SERVICE_ACCOUNTS

    def run_command(self, *args):
        return subprocess.run([BINARY, *args], capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT, check=False)

    def server_decision(self, pod):
        response = self.admit(review(pod))
        patch = []
        if response.get("patch"):
            patch = json.loads(base64.b64decode(response["patch"], validate=True))
        return response["allowed"], patch, response.get("auditAnnotations", {})

    def mutate_decision(self, pod_file, flags):
        done = self.run_command("mutate", "--pod", pod_file, "--service-account",
                                self.service_accounts, "--jitter", "0", "--output", "patch", *flags)
        self.assertIn(done.returncode, (0, 1), done.stderr)
        if done.returncode == 1:
            self.assertIn("the webhook would deny this Pod", done.stderr)
            return False, []
        return True, json.loads(done.stdout)

    def audit_verdicts(self, folder, flags):
        done = self.run_command("audit", "-f", folder, "--service-account", self.service_accounts,
                                "--output", "json", *flags)
        self.assertIn(done.returncode, (0, 1), done.stderr)
        report = json.loads(done.stdout)
        return {entry["name"]: entry for entry in report["workloads"]}

    def check_configuration(self, flags, pods):
        folder = os.path.join(self.tmp.name, "pods-" + str(abs(hash(tuple(flags)))))
        os.makedirs(folder, exist_ok=True)
        files = {}
        for label, pod in pods.items():
            files[label] = os.path.join(folder, pod["metadata"]["name"] + ".json")
            with open(files[label], "w", encoding="utf-8") as handle:
                json.dump(pod, handle)
        verdicts = self.audit_verdicts(folder, flags)
        actions = collections.Counter()
        self.start(*flags)
        try:
            for label, pod in pods.items():
                with self.subTest(flags=" ".join(flags) or "(defaults)", pod=label):
                    allowed, patch, annotations = self.server_decision(pod)
                    offline_allowed, offline_patch = self.mutate_decision(files[label], flags)
                    self.assertEqual(allowed, offline_allowed)
                    self.assertEqual(patch, offline_patch)

                    entry = verdicts.get(pod["metadata"]["name"])
                    action = entry["action"] if entry else "none"
                    actions[action] += 1
                    if not allowed:
                        self.assertEqual(action, "deny", entry)
                    elif "static-credentials-removed" in annotations:
                        self.assertEqual(action, "strip", entry)
                        removed = annotations["static-credentials-removed"].split(",")
                        stripped = [f for f in entry["findings"] if not f.get("kept")
                                    and f.get("handling", "removable") == "removable"]
                        self.assertEqual(len(removed), len(stripped), (removed, stripped))
                    elif ("static-credentials-found" in annotations
                          or "static-credentials-non-aws-endpoint" in annotations):
                        # Warned of: found, or kept for a non-AWS endpoint.
                        self.assertEqual(action, "warn", entry)
                        found = [key for name in ("static-credentials-found",
                                                  "static-credentials-non-aws-endpoint")
                                 for key in annotations.get(name, "").split(",") if key]
                        self.assertEqual(len(found), len(entry["findings"]), (found, entry))
                    else:
                        # Found but not acted on (off, unmanaged allow), or none.
                        self.assertIn(action, ("none", "ignore", "allow"), entry)
                    if entry:
                        kept = [f for f in entry["findings"] if f.get("kept")]
                        if kept and action in ("strip", "warn"):
                            self.assertIn("static-credentials-found", annotations)
        finally:
            self.process.terminate()
            self.process.wait(timeout=15)
        return actions

    def test_hand_made_pods_get_one_decision_under_every_configuration(self):
        pods = hand_made_pods()
        seen = collections.Counter()
        for flags in CONFIGURATIONS.values():
            seen.update(self.check_configuration(flags, pods))
        # Every verdict was compared at least once.
        for action in ("none", "ignore", "allow", "warn", "strip", "deny"):
            self.assertGreater(seen[action], 0, (action, seen))

    def test_the_opt_out_is_a_warning_everywhere_not_a_strip(self):
        flags = CONFIGURATIONS["opt-out allowed, strip"]
        pod = hand_made_pods()["keys, role, keep-static-credentials"]
        pod_file = os.path.join(self.tmp.name, "opt-out.json")
        with open(pod_file, "w", encoding="utf-8") as handle:
            json.dump(pod, handle)
        verdict = self.audit_verdicts(pod_file, flags)["b"]
        self.assertEqual(verdict["action"], "warn")
        self.assertIn("keep-static-credentials", verdict["why"])
        self.start(*flags)
        allowed, patch, annotations = self.server_decision(pod)
        self.assertTrue(allowed)
        self.assertNotIn("static-credentials-removed", annotations)
        self.assertIn("static-credentials-found", annotations)
        self.assertFalse([op for op in patch if op["op"] == "remove"], patch)
        self.assertEqual(self.mutate_decision(pod_file, flags), (True, patch))

    def test_real_world_workloads_get_one_decision(self):
        pods = corpus_pods()
        self.assertGreater(len(pods), 20, "the corpus was not found or not read")
        actions = self.check_configuration(CONFIGURATIONS["default"], pods)
        # The corpus's workloads with AWS keys are stripped, the rest untouched.
        self.assertGreaterEqual(actions["strip"], 5, actions)
        self.assertGreaterEqual(actions["none"], 10, actions)
        actions = self.check_configuration(CONFIGURATIONS["deny, unmanaged deny"], pods)
        self.assertGreaterEqual(actions["deny"], 5, actions)


if __name__ == "__main__":
    unittest.main()
