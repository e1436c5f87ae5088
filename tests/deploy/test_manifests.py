"""manifests/: every overlay renders, every object is valid against the strict
schemas in ../shared/schemas, the Deployment's flags are accepted by the
binary, the webhook configuration points at the Service and the binary's
route, and the self-signed overlay's certificates form a chain that the
binary serves for the Service's DNS name.

Runs on a copy of manifests/ and certs/ in a temporary directory, so the
self-signed overlay's generate.sh never writes into the source tree.
Environment: IRSA_BINARY, IRSA_SOURCE_DIR, IRSA_SHARED_DIR (set by CTest).
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE = os.path.abspath(os.environ.get("IRSA_SOURCE_DIR", os.getcwd()))
BINARY = os.path.abspath(os.environ.get("IRSA_BINARY", os.path.join(SOURCE, "build", "irsa-webhook")))
SHARED = os.path.abspath(os.environ.get("IRSA_SHARED_DIR", os.path.join(SOURCE, "..", "shared")))
SCHEMAS = os.path.join(SHARED, "schemas")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import yaml
except ImportError:  # Debian's python3-yaml (make deps)
    yaml = None
try:
    import jsonschema
except ImportError:  # Debian's python3-jsonschema (make deps)
    jsonschema = None
if yaml is not None:
    import render

OVERLAYS = ["cert-manager", "self-signed"]
# Each on top of the self-signed overlay, alone or with the ones it pairs with.
COMPONENT_SETS = [("watch-config-map",), ("exclude-kube-system",), ("fail-closed",), ("opt-in-pods",),
                  ("opt-in-pods", "fail-closed"), ("host-network",), ("host-network", "fail-closed"),
                  ("audit-reader",), ("report-missed-pods",)]
# What `irsa-webhook audit --from-cluster` reads (src/cli/audit_cluster.cc):
# the audit-reader component's ClusterRoles grant exactly this.
AUDIT_READER_RULES = [
    {"apiGroups": [""], "resources": ["serviceaccounts", "pods"], "verbs": ["list"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"],
     "verbs": ["list"]},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["pod-identity-webhook"],
     "verbs": ["get"]},
]
AUDIT_SECRETS_RULES = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]
# What the missed-Pod sweep (--report-missed-pods-interval, src/sweep/) needs:
# the report-missed-pods component grants exactly this, to the webhook.
MISSED_PODS_RULES = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
                     {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]
# How docs/operating.md tells a user to move the hostNetwork port: the
# variant "self-signed+host-network+port-11443" renders it.
HOST_PORT_PATCH = """\
  - target:
      kind: Deployment
      name: irsa-webhook
    patch: |-
      - op: test
        path: /spec/template/spec/containers/0/args/0
        value: --port=10443
      - op: replace
        path: /spec/template/spec/containers/0/args/0
        value: --port=11443
      - op: test
        path: /spec/template/spec/containers/0/ports/0/name
        value: https
      - op: replace
        path: /spec/template/spec/containers/0/ports/0/containerPort
        value: 11443
"""
OPT_IN_LABEL = "eks.amazonaws.com/inject-identity"
CERT_DIR = "/etc/webhook/certs"
SKIP_LABEL = "eks.amazonaws.com/skip-pod-identity-webhook"
READY_DEADLINE = 20.0
STOP_DEADLINE = 15.0


def note(message):
    print(f"[manifests] {message}", file=sys.stderr, flush=True)


def kubectl_available():
    if shutil.which("kubectl") is None:
        return False, "kubectl not on PATH"
    try:
        result = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True,
                                timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"kubectl version --client failed: {error}"
    if result.returncode != 0:
        return False, f"kubectl version --client failed: {result.stderr.strip()[:200]}"
    return True, result.stdout.strip().replace("\n", "; ")


KUBECTL, KUBECTL_WHY = kubectl_available()


def kubectl_render(directory):
    result = subprocess.run(["kubectl", "kustomize", directory], capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(objects, kind):
    return [obj for obj in objects if obj.get("kind") == kind]


def one(objects, kind):
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def flag_values(args):
    """{--name: value} for --name=value and --name value arguments."""
    values = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if eq:
            values[name.lstrip("-")] = value
        elif i + 1 < len(args) and not args[i + 1].startswith("-"):
            values[name.lstrip("-")] = args[i + 1]
            i += 1
        else:
            values[name.lstrip("-")] = "true"
        i += 1
    return values


def selects(selector, labels):
    """A label selector's matchExpressions (In, NotIn, Exists, DoesNotExist) on `labels`."""
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def normalize(objects):
    """kubectl's rendering, comparable with ours: generated names lose their
    content hash, base64 data loses its line breaks, objects are sorted."""
    text = json.dumps(objects, sort_keys=True)
    text = re.sub(r'"(irsa-webhook-tls)-[a-z0-9]{10}"', r'"\1"', text)
    objects = json.loads(text)
    for obj in objects:
        if obj.get("kind") == "Secret":
            obj["data"] = {k: "".join(v.split()) for k, v in obj.get("data", {}).items()}
    return sorted(objects, key=lambda o: (o.get("kind", ""), o.get("metadata", {}).get("namespace", ""),
                                          o["metadata"]["name"]))


class ServiceNameConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port, verifying the certificate for another name,
    as the API server does for <service>.<namespace>.svc."""

    def __init__(self, port, server_name, context):
        super().__init__("127.0.0.1", port, timeout=10)
        self._server_name = server_name
        self._context = context

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)


@unittest.skipIf(yaml is None, "PyYAML is not installed (Debian: python3-yaml; `make deps` installs it)")
class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="irsa-manifests-")
        cls.root = cls.tmp.name
        shutil.copytree(os.path.join(SOURCE, "manifests"), os.path.join(cls.root, "manifests"),
                        ignore=shutil.ignore_patterns("generated"))
        shutil.copytree(os.path.join(SOURCE, "certs"), os.path.join(cls.root, "certs"),
                        ignore=shutil.ignore_patterns("dev"))
        cls.manifests = os.path.join(cls.root, "manifests")
        cls.generate = os.path.join(cls.manifests, "overlays", "self-signed", "generate.sh")
        cls.generated = os.path.join(cls.manifests, "overlays", "self-signed", "generated")
        result = subprocess.run([cls.generate], capture_output=True, text=True, timeout=120,
                                cwd=cls.root)
        if result.returncode != 0:
            raise AssertionError(f"generate.sh failed:\n{result.stdout}{result.stderr}")
        cls.generate_output = result.stdout
        # Every component on top of the self-signed overlay, one at a time.
        cls.variants = {name: os.path.join(cls.manifests, "overlays", name) for name in OVERLAYS}
        def variant(components, extra=""):
            name = "+".join(["self-signed", *components])
            directory = os.path.join(cls.manifests, "overlays", "test-" + name.replace("+", "-"))
            os.makedirs(directory)
            listed = ", ".join(f"../../components/{c}" for c in components if not c.startswith("port-"))
            with open(os.path.join(directory, "kustomization.yaml"), "w", encoding="utf-8") as handle:
                handle.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                             f"resources: [../self-signed]\ncomponents: [{listed}]\n{extra}")
            cls.variants[name] = directory

        for components in COMPONENT_SETS:
            variant(components)
        variant(("host-network", "port-11443"), "patches:\n" + HOST_PORT_PATCH)
        note(f"kubectl: {KUBECTL_WHY}" if KUBECTL else
             f"kubectl kustomize SKIPPED ({KUBECTL_WHY}); rendering with tests/deploy/render.py")
        cls.rendered = {}
        for name, directory in cls.variants.items():
            cls.rendered[name] = kubectl_render(directory) if KUBECTL else render.render(directory)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    # --- files and rendering -------------------------------------------------

    def test_every_yaml_file_parses_and_every_reference_exists(self):
        count = 0
        for directory, _, files in os.walk(os.path.join(SOURCE, "manifests")):
            if "generated" in directory.split(os.sep):
                continue
            for name in files:
                path = os.path.join(directory, name)
                if name.endswith((".yaml", ".yml")):
                    with open(path, encoding="utf-8") as handle:
                        docs = list(yaml.safe_load_all(handle))
                    self.assertTrue(any(docs), f"{path} is empty")
                    count += 1
                if name == "kustomization.yaml":
                    data = render.load_kustomization(directory) if yaml else {}
                    refs = list(data.get("resources", [])) + list(data.get("components", []))
                    refs += [p["path"] for p in data.get("patches", []) if "path" in p]
                    for ref in refs:
                        if ref.startswith("generated/"):
                            continue  # written by generate.sh
                        self.assertTrue(os.path.exists(os.path.join(directory, ref)),
                                        f"{path} names {ref}, which does not exist")
        self.assertGreater(count, 5)

    def test_generated_files_are_ignored_by_git(self):
        with open(os.path.join(SOURCE, "manifests", "overlays", "self-signed", ".gitignore"),
                  encoding="utf-8") as handle:
            self.assertIn("/generated/", handle.read().split())
        if shutil.which("git") and os.path.isdir(os.path.join(SOURCE, ".git")):
            probe = "manifests/overlays/self-signed/generated/tls.key"
            result = subprocess.run(["git", "check-ignore", "-q", probe], cwd=SOURCE, timeout=30)
            self.assertEqual(result.returncode, 0, f"git does not ignore {probe}")

    def test_every_overlay_renders_the_expected_objects(self):
        for name, objects in self.rendered.items():
            with self.subTest(variant=name):
                kinds = sorted({obj["kind"] for obj in objects})
                for kind in ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                             "Service", "Deployment", "PodDisruptionBudget",
                             "MutatingWebhookConfiguration"]:
                    self.assertIn(kind, kinds)
                # The TLS Secret comes from the overlay, never from the base.
                if name.startswith("self-signed"):
                    self.assertEqual(len(by_kind(objects, "Secret")), 1)
                else:
                    self.assertEqual(by_kind(objects, "Secret"), [])
                    self.assertEqual(len(by_kind(objects, "Certificate")), 2)
                    self.assertEqual(len(by_kind(objects, "Issuer")), 2)

    def test_builtin_renderer_agrees_with_kubectl(self):
        if not KUBECTL:
            self.skipTest(f"kubectl unavailable: {KUBECTL_WHY}")
        for name, directory in self.variants.items():
            with self.subTest(variant=name):
                ours = normalize(render.render(directory))
                theirs = normalize(self.rendered[name])
                self.assertEqual(json.dumps(ours, indent=1, sort_keys=True),
                                 json.dumps(theirs, indent=1, sort_keys=True))

    def test_rendered_objects_match_the_strict_schemas(self):
        if jsonschema is None:
            self.skipTest("python3-jsonschema is not installed (`make deps` installs it)")
        if not os.path.isdir(SCHEMAS):
            self.skipTest(f"no schemas at {SCHEMAS} (set IRSA_SHARED_DIR)")
        checked, unchecked = 0, set()
        for name, objects in self.rendered.items():
            for obj in objects:
                group, _, version = obj["apiVersion"].rpartition("/")
                file = (f"{obj['kind'].lower()}-{group.split('.')[0]}-{version}.json" if group
                        else f"{obj['kind'].lower()}-{version}.json")
                path = os.path.join(SCHEMAS, file)
                if not os.path.exists(path):
                    unchecked.add(f"{obj['apiVersion']} {obj['kind']}")
                    continue
                with open(path, encoding="utf-8") as handle:
                    validator = jsonschema.Draft7Validator(json.load(handle))
                errors = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}"
                          for e in validator.iter_errors(obj)]
                self.assertEqual(errors, [], f"{name}: {obj['kind']}/{obj['metadata']['name']}")
                checked += 1
        note(f"schema-checked {checked} objects"
             + (f"; without a schema, not checked: {sorted(unchecked)}" if unchecked else ""))
        self.assertGreater(checked, 0)

    # --- the Deployment and the binary ---------------------------------------

    def container(self, objects):
        deployment = one(objects, "Deployment")
        containers = deployment["spec"]["template"]["spec"]["containers"]
        self.assertEqual(len(containers), 1)
        return deployment, containers[0]

    def test_deployment_args_are_accepted_by_the_binary(self):
        if not os.access(BINARY, os.X_OK):
            self.skipTest(f"no binary at {BINARY} (set IRSA_BINARY)")
        for name, objects in self.rendered.items():
            with self.subTest(variant=name):
                _, container = self.container(objects)
                self.assertNotIn("command", container, "the image's ENTRYPOINT is the binary")
                args = [arg.replace(CERT_DIR + "/", self.generated + "/") for arg in container["args"]]
                # --check-config checks the ServiceAccount source a start would
                # use: in a Pod the in-cluster config, which exists only there;
                # --kube-api (read, never connected to) stands in for it.
                args.append("--kube-api=https://kubernetes.default.svc")
                result = subprocess.run([BINARY, *args, "--check-config"], capture_output=True,
                                        text=True, timeout=30)
                self.assertEqual(result.returncode, 0, f"{args}: {result.stderr}")
                self.assertEqual(result.stdout.strip(), "configuration OK")
        # --check-config is no rubber stamp: a bad value or a missing file fails.
        _, container = self.container(self.rendered["self-signed"])
        for bad in (["--port=99999"], ["--no-such-flag"]):
            result = subprocess.run([BINARY, *container["args"], *bad, "--check-config"],
                                    capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 2, f"{bad} was accepted")
        result = subprocess.run([BINARY, *container["args"], "--tls-cert=/nonexistent/tls.crt",
                                 "--check-config"], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn("/nonexistent/tls.crt", result.stderr)

    def test_deployment_ports_probes_and_cert_paths_agree_with_its_flags(self):
        for name, objects in self.rendered.items():
            with self.subTest(variant=name):
                deployment, container = self.container(objects)
                flags = flag_values(container["args"])
                ports = {p["name"]: p["containerPort"] for p in container["ports"]}
                self.assertEqual(ports["https"], int(flags["port"]))
                self.assertGreaterEqual(ports["https"], 1024, "non-root cannot bind below 1024")
                self.assertEqual(ports["metrics"], int(flags.get("metrics-port", 9999)))
                self.assertEqual(ports["metrics"], 9999)
                for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    get = container[probe]["httpGet"]
                    self.assertEqual(get["path"], path)
                    self.assertEqual(get["scheme"], "HTTPS")
                    self.assertIn(get["port"], ("https", ports["https"]))
                annotations = deployment["spec"]["template"]["metadata"]["annotations"]
                self.assertEqual(annotations["prometheus.io/scrape"], "true")
                self.assertEqual(annotations["prometheus.io/port"], str(ports["metrics"]))
                # The certificate files live in the mounted Secret.
                mounts = {m["name"]: m for m in container["volumeMounts"]}
                volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
                for flag in ("tls-cert", "tls-key"):
                    self.assertTrue(flags[flag].startswith(CERT_DIR + "/"), flags[flag])
                certs = [m for m in mounts.values() if m["mountPath"] == CERT_DIR]
                self.assertEqual(len(certs), 1)
                self.assertTrue(certs[0]["readOnly"])
                secret_name = volumes[certs[0]["name"]]["secret"]["secretName"]
                if name.startswith("self-signed"):
                    secret = one(objects, "Secret")
                    self.assertEqual(secret["metadata"]["name"], secret_name)
                    self.assertEqual(secret["type"], "kubernetes.io/tls")
                    self.assertEqual(set(secret["data"]), {"tls.crt", "tls.key"})
                else:
                    served = [c for c in by_kind(objects, "Certificate")
                              if c["spec"]["secretName"] == secret_name]
                    self.assertEqual(len(served), 1, "no Certificate writes the mounted Secret")

    def test_deployment_is_hardened_and_highly_available(self):
        for name, objects in self.rendered.items():
            with self.subTest(variant=name):
                deployment, container = self.container(objects)
                spec = deployment["spec"]
                pod = spec["template"]["spec"]
                self.assertEqual(spec["replicas"], 2)
                host_network = "+host-network" in name
                # On the host network a surge replica would need a node
                # without one (the port): one at a time instead.
                self.assertEqual(spec["strategy"]["rollingUpdate"],
                                 {"maxUnavailable": 1, "maxSurge": 0} if host_network
                                 else {"maxUnavailable": 0, "maxSurge": 1})
                self.assertEqual(pod["priorityClassName"], "system-cluster-critical")
                self.assertEqual(pod["serviceAccountName"], one(objects, "ServiceAccount")["metadata"]["name"])
                spread = [c for c in pod["topologySpreadConstraints"]
                          if c["topologyKey"] == "kubernetes.io/hostname"]
                self.assertEqual(len(spread), 1)
                self.assertEqual(spread[0]["labelSelector"]["matchLabels"], spec["selector"]["matchLabels"])
                pod_sc, sc = pod["securityContext"], container["securityContext"]
                self.assertTrue(pod_sc["runAsNonRoot"])
                self.assertEqual(pod_sc["runAsUser"], 65532)
                self.assertEqual(pod_sc["seccompProfile"]["type"], "RuntimeDefault")
                self.assertTrue(sc["readOnlyRootFilesystem"])
                self.assertFalse(sc["allowPrivilegeEscalation"])
                self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
                self.assertNotIn("add", sc["capabilities"])
                self.assertEqual(sc.get("runAsUser", 65532), 65532)
                resources = container["resources"]
                self.assertIn("cpu", resources["requests"])
                self.assertIn("memory", resources["requests"])
                self.assertIn("memory", resources["limits"])
                image = container["image"]
                self.assertFalse(image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1],
                                 f"image {image} has no pinned tag")
                self.assertEqual(pod.get("hostNetwork", False), host_network)
                self.assertEqual(pod.get("dnsPolicy", "ClusterFirst"),
                                 "ClusterFirstWithHostNet" if host_network else "ClusterFirst")
                enforce = one(objects, "Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
                self.assertEqual(enforce, "privileged" if host_network else "restricted")
                pdb = one(objects, "PodDisruptionBudget")
                self.assertEqual(pdb["spec"]["selector"]["matchLabels"], spec["selector"]["matchLabels"])
                self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
                labels = spec["template"]["metadata"]["labels"]
                for key, value in spec["selector"]["matchLabels"].items():
                    self.assertEqual(labels[key], value)

    # --- the webhook configuration ------------------------------------------

    def test_webhook_calls_the_service_and_the_binary_route(self):
        for name, objects in self.rendered.items():
            with self.subTest(variant=name):
                (hook,) = one(objects, "MutatingWebhookConfiguration")["webhooks"]
                service = one(objects, "Service")
                target = hook["clientConfig"]["service"]
                self.assertEqual(target["name"], service["metadata"]["name"])
                self.assertEqual(target["namespace"], service["metadata"]["namespace"])
                self.assertEqual(target["path"], "/mutate")  # the binary's route
                (port,) = [p for p in service["spec"]["ports"] if p["port"] == target.get("port", 443)]
                _, container = self.container(objects)
                container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
                target_port = port["targetPort"]
                self.assertEqual(container_ports.get(target_port, target_port),
                                 int(flag_values(container["args"])["port"]))
                self.assertEqual(service["spec"]["selector"],
                                 one(objects, "Deployment")["spec"]["selector"]["matchLabels"])
                # The Deployment's flags name the same Service and namespace.
                flags = flag_values(container["args"])
                self.assertEqual(flags["service-name"], service["metadata"]["name"])
                self.assertEqual(flags["namespace"], service["metadata"]["namespace"])

    def test_webhook_is_safe_and_can_never_block_itself(self):
        for name, objects in self.rendered.items():
            with self.subTest(variant=name):
                (hook,) = one(objects, "MutatingWebhookConfiguration")["webhooks"]
                namespace = one(objects, "Service")["metadata"]["namespace"]
                self.assertEqual(hook["admissionReviewVersions"], ["v1", "v1beta1"])
                self.assertEqual(hook["sideEffects"], "None")
                self.assertEqual(hook["reinvocationPolicy"], "IfNeeded")
                self.assertEqual(hook["rules"], [{"operations": ["CREATE"], "apiGroups": [""],
                                                  "apiVersions": ["v1"], "resources": ["pods"],
                                                  "scope": "Namespaced"}])
                self.assertTrue(1 <= hook["timeoutSeconds"] <= 30)
                expressions = hook["namespaceSelector"]["matchExpressions"]
                excluded = [e for e in expressions
                            if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"]
                self.assertEqual(len(excluded), 1)
                self.assertIn(namespace, excluded[0]["values"])
                self.assertIn({"key": SKIP_LABEL, "operator": "DoesNotExist"},
                              hook["objectSelector"]["matchExpressions"])
                fail_closed = name.endswith("fail-closed")
                self.assertEqual(hook["failurePolicy"], "Fail" if fail_closed else "Ignore")
                if fail_closed or name.endswith("exclude-kube-system"):
                    self.assertIn("kube-system", excluded[0]["values"])
                else:
                    self.assertNotIn("kube-system", excluded[0]["values"])

    def test_opt_in_sends_only_labelled_pods_and_fail_closed_blocks_only_them(self):
        checked = 0
        for name, objects in self.rendered.items():
            with self.subTest(variant=name):
                (hook,) = one(objects, "MutatingWebhookConfiguration")["webhooks"]
                expressions = hook["objectSelector"]["matchExpressions"]
                opt_in = [e for e in expressions if e["key"] == OPT_IN_LABEL]
                if "+opt-in-pods" not in name:
                    self.assertEqual(opt_in, [])
                    continue
                checked += 1
                self.assertEqual(opt_in, [{"key": OPT_IN_LABEL, "operator": "In", "values": ["true"]}])
                # The skip label still wins.
                self.assertIn({"key": SKIP_LABEL, "operator": "DoesNotExist"}, expressions)
                self.assertNotIn("matchLabels", hook["objectSelector"])
                labels = {"app": "web"}
                self.assertFalse(selects(hook["objectSelector"], labels))
                self.assertFalse(selects(hook["objectSelector"], {**labels, OPT_IN_LABEL: "True"}))
                self.assertTrue(selects(hook["objectSelector"], {**labels, OPT_IN_LABEL: "true"}))
                self.assertFalse(selects(hook["objectSelector"],
                                         {**labels, OPT_IN_LABEL: "true", SKIP_LABEL: "x"}))
                self.assertEqual(hook["failurePolicy"], "Fail" if name.endswith("fail-closed") else "Ignore")
        self.assertEqual(checked, 2)

    def test_host_network_port_follows_into_the_service_and_the_probes(self):
        for name in ("self-signed+host-network", "self-signed+host-network+port-11443",
                     "self-signed+host-network+fail-closed"):
            with self.subTest(variant=name):
                objects = self.rendered[name]
                _, container = self.container(objects)
                port = 11443 if name.endswith("port-11443") else 10443
                self.assertEqual(flag_values(container["args"])["port"], str(port))
                named = {p["name"]: p["containerPort"] for p in container["ports"]}
                self.assertEqual(named["https"], port)
                self.assertNotIn("hostPort", container["ports"][0], "defaulted to the containerPort")
                (service_port,) = one(objects, "Service")["spec"]["ports"]
                self.assertEqual(named[service_port["targetPort"]], port)
                for probe in ("readinessProbe", "livenessProbe"):
                    self.assertEqual(named.get(container[probe]["httpGet"]["port"]), port)

    def test_rbac_is_least_privilege(self):
        for name, objects in self.rendered.items():
            with self.subTest(variant=name):
                account = one(objects, "ServiceAccount")["metadata"]
                audit_roles = {obj["metadata"]["name"]: obj["rules"] for obj in by_kind(objects, "ClusterRole")
                               if obj["metadata"]["name"].startswith("irsa-webhook-audit-")}
                if name.endswith("audit-reader"):
                    # Bound to nothing: the user binds them (docs/migrating.md).
                    self.assertEqual(audit_roles, {"irsa-webhook-audit-reader": AUDIT_READER_RULES,
                                                   "irsa-webhook-audit-secrets": AUDIT_SECRETS_RULES})
                    for binding in by_kind(objects, "ClusterRoleBinding"):
                        self.assertNotIn("audit", binding["roleRef"]["name"])
                else:
                    self.assertEqual(audit_roles, {})
                sweep_roles = {obj["metadata"]["name"]: obj["rules"] for obj in by_kind(objects, "ClusterRole")
                               if obj["metadata"]["name"] == "irsa-webhook-missed-pods"}
                _, container = self.container(objects)
                if name.endswith("report-missed-pods"):
                    self.assertEqual(sweep_roles, {"irsa-webhook-missed-pods": MISSED_PODS_RULES})
                    self.assertEqual(flag_values(container["args"])["report-missed-pods-interval"], "10m")
                else:
                    self.assertEqual(sweep_roles, {})
                    self.assertNotIn("report-missed-pods-interval", flag_values(container["args"]))
                (cluster_role,) = [obj for obj in by_kind(objects, "ClusterRole")
                                   if obj["metadata"]["name"] not in audit_roles
                                   and obj["metadata"]["name"] not in sweep_roles]
                self.assertEqual(cluster_role["rules"], [{"apiGroups": [""], "resources": ["serviceaccounts"],
                                                          "verbs": ["get", "list", "watch"]}])
                for binding in by_kind(objects, "ClusterRoleBinding") + by_kind(objects, "RoleBinding"):
                    self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": account["name"],
                                                            "namespace": account["namespace"]}])
                roles = by_kind(objects, "Role")
                _, container = self.container(objects)
                if name.endswith("watch-config-map"):
                    self.assertIn("--watch-config-map", container["args"])
                    (role,) = roles
                    self.assertEqual(role["metadata"]["namespace"], account["namespace"])
                    self.assertEqual(role["rules"], [{"apiGroups": [""], "resources": ["configmaps"],
                                                      "resourceNames": ["pod-identity-webhook"],
                                                      "verbs": ["get", "list", "watch"]}])
                else:
                    self.assertNotIn("--watch-config-map", container["args"])
                    self.assertEqual(roles, [])
                sweep_rules = [r for rules in sweep_roles.values() for r in rules]
                for rule in [r for obj in [cluster_role] + roles for r in obj["rules"]] + sweep_rules:
                    for field in ("apiGroups", "resources", "verbs"):
                        self.assertNotIn("*", rule[field])
                    self.assertNotIn("secrets", rule["resources"])

    def test_cert_manager_overlay_injects_the_ca_of_the_serving_certificate(self):
        objects = self.rendered["cert-manager"]
        hook_config = one(objects, "MutatingWebhookConfiguration")
        (hook,) = hook_config["webhooks"]
        self.assertNotIn("caBundle", hook["clientConfig"])
        inject = hook_config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        namespace, _, cert_name = inject.partition("/")
        certificates = {c["metadata"]["name"]: c for c in by_kind(objects, "Certificate")}
        serving = certificates[cert_name]
        self.assertEqual(serving["metadata"]["namespace"], namespace)
        service = hook["clientConfig"]["service"]
        self.assertIn(f"{service['name']}.{service['namespace']}.svc", serving["spec"]["dnsNames"])
        self.assertFalse(serving["spec"].get("isCA", False))
        issuers = {i["metadata"]["name"]: i for i in by_kind(objects, "Issuer")}
        ca_issuer = issuers[serving["spec"]["issuerRef"]["name"]]
        ca_cert = [c for c in certificates.values() if c["spec"]["secretName"] == ca_issuer["spec"]["ca"]["secretName"]]
        self.assertEqual(len(ca_cert), 1)
        self.assertTrue(ca_cert[0]["spec"]["isCA"])

    # --- the self-signed overlay's certificates, served by the binary ----------

    def test_self_signed_ca_bundle_and_secret_are_the_generated_files(self):
        with open(os.path.join(self.generated, "ca.crt"), "rb") as handle:
            ca = handle.read()
        with open(os.path.join(self.generated, "tls.crt"), "rb") as handle:
            cert = handle.read()
        for name, objects in self.rendered.items():
            if not name.startswith("self-signed"):
                continue
            with self.subTest(variant=name):
                (hook,) = one(objects, "MutatingWebhookConfiguration")["webhooks"]
                self.assertEqual(base64.b64decode(hook["clientConfig"]["caBundle"]), ca)
                data = one(objects, "Secret")["data"]
                self.assertEqual(base64.b64decode("".join(data["tls.crt"].split())), cert)

    def test_generate_keeps_the_ca_until_forced(self):
        patch = os.path.join(self.generated, "ca-bundle-patch.yaml")
        with open(patch, encoding="utf-8") as handle:
            before = handle.read()
        result = subprocess.run([self.generate], capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("kept existing", result.stdout)
        with open(patch, encoding="utf-8") as handle:
            self.assertEqual(handle.read(), before)

    def test_certificate_chain_verifies_with_the_service_names(self):
        ca = os.path.join(self.generated, "ca.crt")
        cert = os.path.join(self.generated, "tls.crt")
        result = subprocess.run(["openssl", "verify", "-CAfile", ca, cert], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn(": OK", result.stdout)
        result = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext",
                                 "subjectAltName,extendedKeyUsage"], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        sans = set(re.findall(r"(?:DNS:|IP Address:)([^,\s]+)", result.stdout))
        service = one(self.rendered["self-signed"], "Service")["metadata"]
        svc, ns = service["name"], service["namespace"]
        # The names the API server may call, and no loopback names: this
        # certificate is served in a cluster only.
        self.assertEqual({f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local", f"{svc}.{ns}", svc},
                         sans)
        self.assertIn("TLS Web Server Authentication", result.stdout)

    def test_binary_serves_the_generated_certificate_for_the_service_name(self):
        if not os.access(BINARY, os.X_OK):
            self.skipTest(f"no binary at {BINARY} (set IRSA_BINARY)")
        objects = self.rendered["self-signed"]
        (hook,) = one(objects, "MutatingWebhookConfiguration")["webhooks"]
        target = hook["clientConfig"]["service"]
        server_name = f"{target['name']}.{target['namespace']}.svc"
        _, container = self.container(objects)
        port = free_port()
        # The Deployment's own flags, with the listener moved to a free
        # loopback port and ServiceAccounts from examples/ instead of a cluster.
        args = [arg.replace(CERT_DIR + "/", self.generated + "/") for arg in container["args"]
                if not arg.startswith("--port=")]
        args += [f"--port={port}", "--bind-address=127.0.0.1", "--metrics-port=0",
                 "--service-accounts-file", os.path.join(SOURCE, "examples", "service-accounts.yaml")]
        log = tempfile.TemporaryFile()
        process = subprocess.Popen([BINARY, *args], stdout=log, stderr=subprocess.STDOUT)
        try:
            context = ssl.create_default_context(cafile=os.path.join(self.generated, "ca.crt"))
            deadline = time.monotonic() + READY_DEADLINE
            while True:
                self.assertIsNone(process.poll(), f"the webhook exited: {self._log(log)}")
                try:
                    conn = ServiceNameConnection(port, server_name, context)
                    conn.request("GET", "/readyz")
                    response = conn.getresponse()
                    body = response.read()
                    conn.close()
                    if response.status == 200:
                        break
                except (ConnectionError, OSError):
                    pass
                self.assertLess(time.monotonic(), deadline, f"not ready: {self._log(log)}")
                time.sleep(0.1)
            self.assertEqual(body.strip(), b"ok")
            with open(os.path.join(SOURCE, "examples", "admission-review.json"), "rb") as handle:
                review = handle.read()
            conn = ServiceNameConnection(port, server_name, context)
            conn.request("POST", target["path"], body=review, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            answer = json.loads(response.read())
            conn.close()
            self.assertEqual(answer["response"]["uid"], json.loads(review)["request"]["uid"])
            patch = json.loads(base64.b64decode(answer["response"]["patch"]))
            env = [op["value"] for op in patch if op["path"].endswith("/env/-")]
            self.assertIn({"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/s3-reader"}, env)
            # A client that expects another name is refused: the SANs matter.
            with self.assertRaises(ssl.SSLCertVerificationError):
                conn = ServiceNameConnection(port, "other.example.com", context)
                conn.request("GET", "/healthz")
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_DEADLINE)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=STOP_DEADLINE)
                    self.fail("the webhook did not stop on SIGTERM")
            self.assertEqual(process.returncode, 0, self._log(log))
            log.close()

    @staticmethod
    def _log(log):
        log.seek(0)
        return log.read().decode(errors="replace")[-2000:]


if __name__ == "__main__":
    unittest.main()
