"""Renders a kustomization the way `kubectl kustomize` does, for the subset of
kustomize that manifests/ uses, where kubectl is not installed.

Supported: resources (files and directories), components, namespace,
labels (pairs; selectors untouched), secretGenerator (files, type; no name
hash), patches given as RFC 6902 operation lists (path or inline, targeted by
kind and name), images (name, newName, newTag) and the generated Secret's
name in Deployment volumes. Anything else in a kustomization is an error, so
a manifest that grows past this subset fails loudly instead of rendering
wrong. Where kubectl exists, the tests render both ways and compare.
"""

import base64
import copy
import os

import yaml

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "components", "namespace", "labels",
                  "secretGenerator", "patches", "images"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
                  "ValidatingWebhookConfiguration", "PriorityClass", "CustomResourceDefinition",
                  "ClusterIssuer"}


class RenderError(Exception):
    pass


def load_documents(path):
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def load_kustomization(directory):
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle) or {}
            unknown = set(data) - SUPPORTED_KEYS
            if unknown:
                raise RenderError(f"{path}: keys this renderer does not support: {sorted(unknown)}")
            return data
    raise RenderError(f"{directory}: no kustomization.yaml")


# RFC 6901 / 6902, enough for kustomize's JSON patches.
def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise RenderError(f"JSON pointer {path!r} does not start with /")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _walk(doc, parts):
    for part in parts:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise RenderError(f"cannot descend into {type(doc).__name__} at {part!r}")
    return doc


def apply_json_patch(doc, operations):
    for op in operations:
        parts = _pointer(op["path"])
        parent = _walk(doc, parts[:-1])
        last = parts[-1]
        kind = op["op"]
        try:
            if kind == "test":
                if _walk(doc, parts) != op["value"]:
                    raise RenderError(f"test failed at {op['path']}")
            elif kind == "add":
                if isinstance(parent, list):
                    index = len(parent) if last == "-" else int(last)
                    parent.insert(index, copy.deepcopy(op["value"]))
                else:
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "replace":
                _walk(doc, parts)  # must exist
                if isinstance(parent, list):
                    parent[int(last)] = copy.deepcopy(op["value"])
                else:
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            else:
                raise RenderError(f"unsupported patch op {kind}")
        except (KeyError, IndexError, ValueError) as error:
            raise RenderError(f"patch {op} does not apply: {error!r}") from error
    return doc


def _matches(obj, target):
    if "kind" in target and obj.get("kind") != target["kind"]:
        return False
    if "name" in target and obj.get("metadata", {}).get("name") != target["name"]:
        return False
    if "namespace" in target and obj.get("metadata", {}).get("namespace") != target["namespace"]:
        return False
    return True


def _apply_patches(objects, directory, patches):
    for patch in patches or []:
        if "path" in patch:
            with open(os.path.join(directory, patch["path"]), encoding="utf-8") as handle:
                operations = yaml.safe_load(handle)
        else:
            operations = yaml.safe_load(patch["patch"])
        if not isinstance(operations, list):
            raise RenderError(f"{directory}: only RFC 6902 patches are supported")
        target = patch.get("target") or {}
        hits = [obj for obj in objects if _matches(obj, target)]
        if not hits:
            raise RenderError(f"{directory}: patch target {target} matches nothing")
        for obj in hits:
            apply_json_patch(obj, operations)


def _set_namespace(objects, namespace):
    for obj in objects:
        kind = obj.get("kind")
        meta = obj.setdefault("metadata", {})
        if kind == "Namespace":
            meta["name"] = namespace
        elif kind not in CLUSTER_SCOPED:
            meta["namespace"] = namespace
        if kind in ("ClusterRoleBinding", "RoleBinding"):
            for subject in obj.get("subjects", []):
                if subject.get("kind") == "ServiceAccount":
                    subject["namespace"] = namespace
        if kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            for hook in obj.get("webhooks", []):
                service = hook.get("clientConfig", {}).get("service")
                if service is not None:
                    service["namespace"] = namespace


def _set_images(objects, images):
    for obj in objects:
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            ref = container.get("image", "")
            name = ref.split("@")[0]
            if ":" in name.rsplit("/", 1)[-1]:
                name = name.rsplit(":", 1)[0]
            for image in images:
                if image["name"] == name:
                    new_name = image.get("newName", name)
                    tag = image.get("newTag")
                    container["image"] = f"{new_name}:{tag}" if tag else new_name


def _generate_secrets(directory, generators, default_namespace):
    secrets = []
    for gen in generators or []:
        data = {}
        for entry in gen.get("files", []):
            key, _, path = entry.partition("=")
            if not path:
                key, path = os.path.basename(entry), entry
            with open(os.path.join(directory, path), "rb") as handle:
                data[key] = base64.b64encode(handle.read()).decode()
        meta = {"name": gen["name"]}
        namespace = gen.get("namespace", default_namespace)
        if namespace:
            meta["namespace"] = namespace
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data}
        if "type" in gen:
            secret["type"] = gen["type"]
        secrets.append(secret)
    return secrets


def _apply_kustomization(objects, directory, data):
    """Components, generators and transformers of one kustomization, in place."""
    for component in data.get("components", []):
        path = os.path.join(directory, component)
        comp = load_kustomization(path)
        if comp.get("kind") != "Component":
            raise RenderError(f"{path} is not a Component")
        for resource in comp.get("resources", []):
            objects.extend(_load_resource(path, resource))
        _apply_kustomization(objects, path, {k: v for k, v in comp.items() if k != "resources"})
    objects.extend(_generate_secrets(directory, data.get("secretGenerator"), data.get("namespace")))
    if data.get("namespace"):
        _set_namespace(objects, data["namespace"])
    for label in data.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise RenderError(f"{directory}: labels with selectors/templates are not supported")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    _apply_patches(objects, directory, data.get("patches"))
    _set_images(objects, data.get("images", []))


def _load_resource(directory, resource):
    path = os.path.join(directory, resource)
    if os.path.isdir(path):
        return render(path)
    return load_documents(path)


def render(directory):
    """The objects a kustomization directory renders to."""
    data = load_kustomization(directory)
    if data.get("kind") == "Component":
        raise RenderError(f"{directory} is a Component: render an overlay that uses it")
    objects = []
    for resource in data.get("resources", []):
        objects.extend(_load_resource(directory, resource))
    _apply_kustomization(objects, directory, data)
    return objects
