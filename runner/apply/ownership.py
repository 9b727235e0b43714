"""Who owns what: the runner's field manager, the annotations Flux users put on objects, and
the managers whose fields apply takes over (as fluxcd/pkg/ssa does)."""

from __future__ import annotations

from typing import Any

FIELD_MANAGER = "gitops-runner"
SSA_ANNOTATION = "kustomize.toolkit.fluxcd.io/ssa"
RECONCILE_ANNOTATION = "kustomize.toolkit.fluxcd.io/reconcile"
FORCE_ANNOTATION = "kustomize.toolkit.fluxcd.io/force"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
TAKEN_OVER = frozenset({("kubectl", "Apply"), ("kubectl", "Update"),
                        ("before-first-apply", "Update")})  # (manager prefix, operation)


def is_taken_over(entry: dict[str, Any]) -> bool:
    """A managedFields entry whose fields apply takes over: fluxcd/pkg/ssa matches the manager
    name by prefix (`kubectl-edit`, `kubectl-label`, `kubectl-client-side-apply` are all
    `kubectl`) and the operation exactly, on the main resource only (no subresource)."""
    manager, operation = str(entry.get("manager", "")), entry.get("operation")
    return not entry.get("subresource") and any(
        manager.startswith(prefix) and operation == op for prefix, op in TAKEN_OVER)


def ignored_reason(manifest: dict[str, Any]) -> str:
    """Why the runner must never touch this object (Flux's annotations), or ""."""
    notes = (manifest.get("metadata") or {}).get("annotations") or {}
    if str(notes.get(RECONCILE_ANNOTATION, "")).lower() == "disabled":
        return f"{RECONCILE_ANNOTATION}: disabled"
    if str(notes.get(SSA_ANNOTATION, "")).lower() == "ignore":
        return f"{SSA_ANNOTATION}: Ignore"
    return ""
