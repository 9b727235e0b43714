"""Checks across objects, and on names, that JSON schemas cannot express.

- the same object (group, kind, namespace, name) rendered twice: the second apply would
  silently overwrite the first, and Flux's inventories would fight over it;
- a namespaced object in a namespace that is neither created by the input nor (with a
  kubeconfig) present in the cluster: its apply fails with NotFound;
- a cluster-scoped kind given a namespace;
- `metadata.name` that the API server refuses (DNS-1123 subdomain or label, DNS-1035
  label for Services, path segments for RBAC objects).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from runner.manifest import ObjectKey
from runner.validate.model import Finding, ObjectResult

BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
DEFAULT_NAMESPACE = "default"

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = re.compile(rf"^{_LABEL}$")
DNS1123_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KINDS = frozenset({("", "Namespace")})
_DNS1035_KINDS = frozenset({("", "Service")})
_PATH_SEGMENT_KINDS = frozenset({("rbac.authorization.k8s.io", kind) for kind in
                                 ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")})
_MAX_LENGTH = {("batch", "CronJob"): 52}  # the Job names it makes get 11 more characters


def _finding(record: ObjectResult, rule: str, message: str, hint: str = "",
             severity: str = "error") -> Finding:
    return Finding(rule, message, severity=severity, object=record.object,
                   kustomization=record.kustomization, file=record.file, line=record.line,
                   hint=hint)


def name_problem(group: str, kind: str, name: str) -> str | None:
    """Why the API server would refuse `name` for group/kind, or None."""
    if (group, kind) in _PATH_SEGMENT_KINDS:
        if name in (".", "..") or "/" in name or "%" in name:
            return f"{name!r} may not be '.' or '..' nor contain '/' or '%'"
        return None
    if (group, kind) in _DNS1035_KINDS:
        pattern, what, limit = DNS1035_LABEL, "a DNS-1035 label", 63
    elif (group, kind) in _LABEL_KINDS:
        pattern, what, limit = DNS1123_LABEL, "a DNS-1123 label", 63
    else:
        pattern, what, limit = DNS1123_SUBDOMAIN, "a DNS-1123 subdomain", 253
    limit = _MAX_LENGTH.get((group, kind), limit)
    if len(name) > limit:
        return f"{name!r} is longer than {limit} characters"
    if not pattern.match(name):
        rule = ("lower case letters, digits and '-', starting with a letter"
                if pattern is DNS1035_LABEL else
                "lower case letters, digits and '-'" + (" or '.'" if "sub" in what else "")
                + ", starting and ending with a letter or digit")
        return f"{name!r} is not {what} ({rule})"
    return None


def scope_findings(record: ObjectResult, raw_namespace: str) -> list[Finding]:
    if record.namespaced is False and raw_namespace and record.key is not None:
        return [_finding(
            record, "cluster-scoped-namespace",
            f"{record.key.kind} is cluster-scoped but has metadata.namespace {raw_namespace!r}",
            "remove metadata.namespace (a kustomization `namespace:` does not set it on "
            "cluster-scoped kinds it knows, but it does on custom ones)")]
    return []


Attributed = tuple[ObjectResult, Finding]  # a cross-object finding and the object it is about


def duplicate_findings(records: Iterable[ObjectResult]) -> list[Attributed]:
    """One finding per repeated object, naming where it was first defined."""
    first: dict[ObjectKey, ObjectResult] = {}
    findings = []
    for record in records:
        if record.key is None:
            continue
        earlier = first.setdefault(record.key, record)
        if earlier is record:
            continue
        where = earlier.kustomization or f"{earlier.file}:{earlier.line}"
        if earlier.kustomization and record.kustomization == earlier.kustomization:
            where = f"{earlier.file}:{earlier.line}" if earlier.file else "the same render"
        findings.append((record, _finding(
            record, "duplicate-object", f"{record.object} is also defined by {where}",
            "keep one definition: two Kustomizations applying the same object overwrite "
            "each other and fight over pruning")))
    return findings


def namespace_findings(records: Iterable[ObjectResult], known: set[str],
                       severity: str = "error") -> list[Attributed]:
    """Namespaced objects whose namespace nobody creates."""
    created = known | BUILTIN_NAMESPACES
    keyed = [(r, r.key) for r in records if r.key is not None]
    created |= {key.name for _, key in keyed if key.group == "" and key.kind == "Namespace"}
    return [(record, _finding(
        record, "namespace-missing",
        f"namespace {key.namespace!r} is not created by these manifests"
        + (" nor present in the cluster" if known else ""),
        f"add a Namespace {key.namespace} (in this or an earlier Kustomization), or "
        f"fix metadata.namespace / the Kustomization's targetNamespace", severity))
        for record, key in keyed
        if record.namespaced and key.namespace not in created]
