"""Deleting what left Git: the previous inventory minus the new one, carefully.

A stale object is deleted only if its live owner labels still name this Kustomization, it is
not annotated `kustomize.toolkit.fluxcd.io/prune: disabled` (or `ssa: Ignore`), and it is not
a Namespace that still holds objects applied from Git. Deletes carry the object's UID as a
precondition, so a namesake recreated meanwhile survives, and run in reverse apply order.
A failed delete stays in the inventory for the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.apply.changes import Action, Change
from runner.apply.order import in_delete_order
from runner.apply.ownership import SSA_ANNOTATION
from runner.discover.flux import Kustomization
from runner.kube.client import ApiError, KubeClient
from runner.kube.discovery import ResourceMapper, UnknownKind
from runner.manifest import Manifest, ObjectKey, annotations_of, labels_of
from runner.render.postbuild import OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL

PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune"


@dataclass
class PruneResult:
    changes: list[Change] = field(default_factory=list)
    keep: dict[ObjectKey, str] = field(default_factory=dict)  # stay in the inventory


def prune(client: KubeClient, mapper: ResourceMapper, kustomization: Kustomization,
          stale: dict[ObjectKey, str], busy_namespaces: set[str],
          dry_run: bool = False) -> PruneResult:
    """Delete (or, with dry_run, report) the stale objects of `kustomization`."""
    result = PruneResult()
    for key in in_delete_order(stale):
        version = stale[key]
        change = _prune_one(client, mapper, kustomization, key, version, busy_namespaces,
                            dry_run)
        if change is None:
            continue  # already gone
        change.version = version
        result.changes.append(change)
        if change.action == Action.FAILED or (
                change.action == Action.SKIPPED and change.reason == _BUSY):
            result.keep[key] = version
    return result


_BUSY = "Namespace still holds objects applied from Git"


def _prune_one(client: KubeClient, mapper: ResourceMapper, kustomization: Kustomization,
               key: ObjectKey, version: str, busy_namespaces: set[str],
               dry_run: bool) -> Change | None:
    api_version = f"{key.group}/{version}" if key.group else version
    try:
        resource = mapper.resource_for(api_version, key.kind)
    except UnknownKind:
        return None  # its CRD is gone, and with it every object of the kind
    path = resource.object_path(key.name, key.namespace or None)
    live = client.get_or_none(path)
    if live is None:
        return None
    reason = _keep_reason(live, kustomization, key, busy_namespaces)
    if reason:
        return Change(key, Action.SKIPPED, reason=reason)
    if dry_run:
        return Change(key, Action.DELETED)
    try:
        client.delete(path, uid=str(live["metadata"]["uid"]))
    except ApiError as error:
        if error.status in (404, 409):  # gone, or a namesake with another UID: not ours
            return None
        return Change(key, Action.FAILED, reason=f"delete failed: {error.api_message}")
    return Change(key, Action.DELETED)


def _keep_reason(live: Manifest, kustomization: Kustomization, key: ObjectKey,
                 busy_namespaces: set[str]) -> str:
    owner = labels_of(live)
    if (owner.get(OWNER_NAME_LABEL), owner.get(OWNER_NAMESPACE_LABEL)) != (
            kustomization.name, kustomization.namespace):
        return "no longer labelled as this Kustomization's object"
    notes = annotations_of(live)
    if notes.get(PRUNE_ANNOTATION, "").lower() == "disabled":
        return f"{PRUNE_ANNOTATION}: disabled"
    if notes.get(SSA_ANNOTATION, "").lower() == "ignore":
        return f"{SSA_ANNOTATION}: Ignore"
    if key.kind == "Namespace" and not key.group and key.name in busy_namespaces:
        return _BUSY
    return ""
