"""AdmissionReview bodies the benchmarks post: realistic Pods of a chosen
size (2 KB, 4.4 KB, 10 KB) and the worst shape (as many bare containers as
fit under a byte limit)."""

import json

# A Pod with 2 containers and 1 init container: DESIGN's 4.4 KB reference.
REFERENCE_SHAPE = {"containers": 2, "env_count": 1, "mounts": 1, "labels": 3}


def container(name, image, env_count, mounts):
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--config=/etc/app/config.yaml", "--log-level=info"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": f"APP_SETTING_{i}", "value": f"value-{i}-" + "x" * 24}
                for i in range(env_count)]
        + [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"cpu": "1", "memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080},
                           "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                          "periodSeconds": 20},
        "volumeMounts": [{"name": f"data-{i}", "mountPath": f"/var/lib/app/{i}"}
                         for i in range(mounts)]
        + [{"name": "kube-api-access-abcde", "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False},
    }


def make_pod(containers, env_count, mounts, labels, namespace="payments",
             service_account="payments-api"):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "payments-api-7d9f8b6c5-",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "payments-api",
                       "pod-template-hash": "7d9f8b6c5",
                       **{f"team.example.com/label-{i}": f"value-{i}" for i in range(labels)}},
            "annotations": {"kubectl.kubernetes.io/default-container": "app"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "payments-api-7d9f8b6c5",
                                 "uid": "4b1f0a3e-5c7d-4e8f-9a0b-1c2d3e4f5a6b",
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "serviceAccountName": service_account,
            "initContainers": [container("migrate", "registry.example.com/payments/migrate:1.4.2",
                                         2, 0)],
            "containers": [container("app" if i == 0 else f"sidecar-{i}",
                                     f"registry.example.com/payments/app:{i}.2.3", env_count,
                                     mounts) for i in range(containers)],
            "volumes": [{"name": f"data-{i}", "emptyDir": {}} for i in range(mounts)]
            + [{"name": "kube-api-access-abcde", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    }


def make_review(pod, uid="705ab4f5-6393-11e8-b7cc-42010a800002"):
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": pod["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                         "uid": "a1b2c3d4", "groups": ["system:serviceaccounts",
                                                       "system:authenticated"]},
            "object": pod,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def reference_review(namespace="payments", service_account="payments-api"):
    """The ~4.4 KB review text (2 containers, 1 init container)."""
    return compact(make_review(make_pod(**REFERENCE_SHAPE, namespace=namespace,
                                        service_account=service_account)))


def worst_shape_review(limit_bytes, namespace, service_account):
    """A v1 review whose Pod has as many `{"name":"cN","image":"x"}`
    containers (no env) as fit in `limit_bytes`; returns (bytes, count).
    Every container gets the injected env and volume mount: the largest
    patch per request byte."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "wide", "namespace": namespace},
           "spec": {"serviceAccountName": service_account, "containers": []}}
    empty = compact(make_review(pod))
    marker = '"containers":[]'
    assert empty.count(marker) == 1
    budget = limit_bytes - len(empty)
    pieces = []
    count = 0
    while True:
        piece = ('{"name":"c%d","image":"x"}' % count)
        cost = len(piece) + (1 if pieces else 0)
        if cost > budget:
            break
        budget -= cost
        pieces.append(piece)
        count += 1
    text = empty.replace(marker, '"containers":[' + ",".join(pieces) + "]")
    data = text.encode()
    assert len(data) <= limit_bytes
    return data, count
