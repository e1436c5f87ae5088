#!/usr/bin/env python3
"""`irsa-webhook audit --from-cluster` against the fake API server holding a
large cluster: wall time and peak RSS.

The fake (tests/fakes, `fake-apiserver` next to irsa-webhook) is started on
127.0.0.1 with TLS and a bearer token and filled over its admin API with
--pods Pods in --namespaces namespaces, as kube-apiserver would return them
(labels, annotations, owner references, resources, probes, a status with
conditions and container statuses; about 4 KB each). Each namespace holds two
Deployments (a ReplicaSet each), a StatefulSet and a CronJob's Job, and
ServiceAccounts with and without a role. Every 20th namespace's first
Deployment was admitted without the webhook (its Pods missed their identity)
and every 50th Deployment's template carries static AWS keys. The audit runs
once (--output json, default page size 500); its peak RSS is the kernel's
ru_maxrss of the child (VmHWM), its wall time measured around it, and its
report is checked against what was generated.

    bench/cluster_audit.py --binary build/irsa-webhook [--pods 20000]
        [--namespaces 2000] [--page-size 500]

Goals (issue #19): <= 30 s and <= 100 MiB.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

# The launcher of the fake API server lives with the fake (tests/fakes), which
# the end-to-end tests start the same way.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "fakes"))
from fake_apiserver import FakeApiServer, write_kubeconfig, write_pki  # noqa: E402

TOKEN = "bench-token"
ROLE = "arn:aws:iam::111122223333:role/{ns}-app"
GOAL_SECONDS = 30.0
GOAL_MIB = 100.0
DEADLINE = 60.0


def container(name, image, env, mutated, role):
    out = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        "env": list(env),
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"cpu": "500m", "memory": "256Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                          "initialDelaySeconds": 10, "periodSeconds": 10,
                          "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080, "scheme": "HTTP"},
                           "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1,
                           "failureThreshold": 3},
        "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    if mutated:
        out["env"] += [{"name": "AWS_ROLE_ARN", "value": role},
                       {"name": "AWS_WEB_IDENTITY_TOKEN_FILE",
                        "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}]
        out["volumeMounts"].append({"name": "aws-iam-token", "readOnly": True,
                                    "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"})
    return out


def pod_spec(service_account, mutated, role, keys=False):
    env = [{"name": "LOG_LEVEL", "value": "info"},
           {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    if keys:
        env += [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"},
                {"name": "AWS_SECRET_ACCESS_KEY", "value": "bench-not-a-real-secret-value"}]
    spec = {
        "serviceAccountName": service_account, "serviceAccount": service_account,
        "containers": [container("app", "registry.example/team/app:1.4.2", env, mutated, role),
                       container("proxy", "registry.example/envoy:1.29", [], mutated, role)],
        "volumes": [{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler", "securityContext": {"fsGroup": 65534},
        "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 300}],
    }
    if mutated:
        spec["volumes"].append({"name": "aws-iam-token", "projected": {"sources": [
            {"serviceAccountToken": {"audience": "sts.amazonaws.com", "expirationSeconds": 86400,
                                     "path": "token"}}]}})
    return spec


def owner(kind, name):
    api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    return [{"apiVersion": api, "kind": kind, "name": name, "uid": f"0000-{name}",
             "controller": True, "blockOwnerDeletion": True}]


def pod(ns, name, labels, spec, owner_refs, index):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
                     "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-30T10:00:00Z",
                                     "prometheus.io/scrape": "true"},
                     "ownerReferences": owner_refs,
                     "generateName": name.rsplit("-", 1)[0] + "-"},
        "spec": {**spec, "nodeName": f"ip-10-0-{index % 250}-{index % 200}.ec2.internal"},
        "status": {"phase": "Running", "qosClass": "Burstable", "podIP": f"10.1.{index % 250}.{index % 200}",
                   "hostIP": f"10.0.{index % 250}.{index % 200}", "startTime": "2026-11-30T10:00:05Z",
                   "conditions": [{"type": t, "status": "True",
                                   "lastTransitionTime": "2026-11-30T10:00:09Z"}
                                  for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                   "containerStatuses": [{"name": c, "ready": True, "restartCount": 0, "started": True,
                                          "image": "registry.example/team/app:1.4.2",
                                          "imageID": "registry.example/team/app@sha256:" + "ab" * 32,
                                          "containerID": "containerd://" + "cd" * 32,
                                          "state": {"running": {"startedAt": "2026-11-30T10:00:07Z"}}}
                                         for c in ("app", "proxy")]},
    }


def workload(kind, ns, name, labels, spec, extra=None):
    api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    template = {"metadata": {"labels": labels}, "spec": spec}
    body = {"replicas": 1, "selector": {"matchLabels": labels}, "template": template}
    if kind == "CronJob":
        body = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}
    metadata = {"name": name, "namespace": ns, "labels": labels}
    metadata.update(extra or {})
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": body}


def generate(pods, namespaces):
    """Yields (objects of one namespace) and counts what should be found."""
    per_namespace = max(pods // namespaces, 4)
    expected = {"missed": 0, "keys": 0, "pods": 0}
    deployment_index = 0
    for n in range(namespaces):
        ns = f"team-{n:04d}"
        role = ROLE.format(ns=ns)
        objects = []
        sizes = [per_namespace - 3 - (per_namespace - 3) // 2, (per_namespace - 3) // 2, 2, 1]
        missed_namespace = n % 20 == 0
        index = n * per_namespace
        for d, size in enumerate(sizes[:2]):
            name = f"service-{d}"
            labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": ns}
            keys = deployment_index % 50 == 0
            deployment_index += 1
            expected["keys"] += keys
            mutated = not (missed_namespace and d == 0)
            objects.append(workload("Deployment", ns, name, labels, pod_spec("app", False, role, keys)))
            rs = f"{name}-6b8f7d9c4"
            objects.append(workload("ReplicaSet", ns, rs, {**labels, "pod-template-hash": "6b8f7d9c4"},
                                    pod_spec("app", False, role, keys),
                                    {"ownerReferences": owner("Deployment", name)}))
            for p in range(size):
                objects.append(pod(ns, f"{rs}-{p:05d}", labels, pod_spec("app", mutated, role, keys),
                                   owner("ReplicaSet", rs), index))
                index += 1
                expected["missed"] += not mutated
        labels = {"app.kubernetes.io/name": "db"}
        objects.append(workload("StatefulSet", ns, "db", labels, pod_spec("db", False, "")))
        for p in range(sizes[2]):
            objects.append(pod(ns, f"db-{p}", labels, pod_spec("db", False, ""), owner("StatefulSet", "db"), index))
            index += 1
        labels = {"app.kubernetes.io/name": "backup"}
        objects.append(workload("CronJob", ns, "backup", labels, pod_spec("app", False, role)))
        objects.append(workload("Job", ns, "backup-29000000", labels, pod_spec("app", False, role),
                                {"ownerReferences": owner("CronJob", "backup")}))
        objects.append(pod(ns, "backup-29000000-x7k2p", labels, pod_spec("app", True, role),
                           owner("Job", "backup-29000000"), index))
        expected["pods"] += per_namespace
        yield ns, role, objects, expected


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="build/irsa-webhook")
    parser.add_argument("--fake", default=None)
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    fake_binary = args.fake or os.path.join(os.path.dirname(binary), "fake-apiserver")
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")

    work = tempfile.mkdtemp(prefix="cluster-audit-bench-")
    fake = None
    try:
        pki = write_pki(os.path.join(work, "pki"), fake_binary)
        fake = FakeApiServer(work, pki, token=TOKEN, binary=fake_binary, ready_deadline=DEADLINE,
                             admin_timeout=120).start()
        port = fake.port

        started = time.monotonic()
        batch, expected, stored_bytes = [], None, 0
        for ns, role, objects, expected in generate(args.pods, args.namespaces):
            fake.admin("POST", "/serviceaccounts",
                  {"namespace": ns, "name": "app", "annotations": {"eks.amazonaws.com/role-arn": role}})
            fake.admin("POST", "/serviceaccounts", {"namespace": ns, "name": "db"})
            batch += objects
            if len(batch) >= 400:
                stored_bytes += len(json.dumps(batch))
                fake.admin("POST", "/objects", {"objects": batch})
                batch = []
        if batch:
            stored_bytes += len(json.dumps(batch))
            fake.admin("POST", "/objects", {"objects": batch})
        stats = fake.admin("GET", "/stats")
        print(f"filled the fake in {time.monotonic() - started:.1f} s: {expected['pods']} Pods, "
              f"{stats['serviceaccounts']} ServiceAccounts, {args.namespaces} namespaces, "
              f"{stored_bytes / 2**20:.0f} MiB of objects")

        kubeconfig = write_kubeconfig(os.path.join(work, "kubeconfig"), port, os.path.join(pki, "ca.crt"),
                                      {"token": TOKEN}, context="bench", user_name="bench")
        out_path = os.path.join(work, "report.json")
        with open(out_path, "w", encoding="utf-8") as out, \
                open(os.path.join(work, "audit.err"), "w", encoding="utf-8") as err:
            begin = time.monotonic()
            audit = subprocess.Popen([binary, "audit", "--from-cluster", "--kubeconfig", kubeconfig,
                                      "--page-size", str(args.page_size), "--output", "json"],
                                     stdout=out, stderr=err)
            _, status, usage = os.wait4(audit.pid, 0)
            wall = time.monotonic() - begin
            audit.returncode = os.waitstatus_to_exitcode(status)
        peak_mib = usage.ru_maxrss / 1024
        with open(out_path, encoding="utf-8") as handle:
            report = json.load(handle)
        summary = report["summary"]
        checks = [("Pods read", summary["pods"], expected["pods"]),
                  ("Pods that missed their identity", summary["missedPods"], expected["missed"]),
                  ("workloads with static keys", summary["withStaticCredentials"], expected["keys"])]
        print()
        print(f"{'measure':<34} {'value':>10} {'goal':>10}  verdict")
        print(f"{'wall time (s)':<34} {wall:>10.1f} {GOAL_SECONDS:>10.0f}  "
              f"{'ok' if wall <= GOAL_SECONDS else 'MISSED'}")
        print(f"{'peak RSS (MiB, VmHWM)':<34} {peak_mib:>10.1f} {GOAL_MIB:>10.0f}  "
              f"{'ok' if peak_mib <= GOAL_MIB else 'MISSED'}")
        print(f"{'CPU user+sys (s)':<34} {usage.ru_utime + usage.ru_stime:>10.1f}")
        for name, got, want in checks:
            print(f"{name:<34} {got:>10} {want:>10}  {'ok' if got == want else 'WRONG'}")
        print(f"exit status {audit.returncode} (1: findings), list restarts {summary['listRestarts']}")
        wrong = audit.returncode != 1 or any(got != want for _, got, want in checks)
        return 1 if wrong else 0
    finally:
        if fake is not None:
            fake.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
