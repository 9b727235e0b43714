"""Server-side apply of objects, the way fluxcd/pkg/ssa does it, with fewer requests.

Live objects are read with one LIST per collection (kind x namespace) rather than a GET each.
An object that does not exist is created directly (a dry-run could only say "created"; the
repository was validated before the first write). An existing object is compared locally
(runner.apply.compare): when every field Git sets already matches and nothing we own was
dropped from Git, it is unchanged and costs no request; otherwise a server-side dry-run with
our field manager (force) decides, and it is written only if the dry-run differs from the
live object. Identical applies are never sent, because several Kubernetes bugs made them
write anyway. Fields owned by `kubectl*` (Apply, Update) and `before-first-apply` (Update) are
taken over first, and kubectl's last-applied annotation removed, so that a field deleted from
Git is deleted from the cluster (unless the object says `kustomize.toolkit.fluxcd.io/ssa:
Merge`). Per-object annotations as in Flux: `ssa: Ignore`, `ssa: IfNotPresent`,
`reconcile: disabled`, `force: enabled`.

Beyond Flux: an object is deleted and recreated only when the API server's error causes say
a field is immutable and force is on (Flux recreates on any Invalid/Conflict error).
"""

from __future__ import annotations

import copy
import difflib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from runner.apply import compare
from runner.apply.changes import Action, Change
from runner.apply.ownership import (
    FIELD_MANAGER,
    FORCE_ANNOTATION,
    LAST_APPLIED,
    SSA_ANNOTATION,
    ignored_reason,
    is_taken_over,
)
from runner.kube.client import ApiError, KubeClient
from runner.kube.discovery import Resource, ResourceMapper, UnknownKind
from runner.manifest import Manifest, ObjectKey, annotations_of
from runner.yamlio import dump

VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp",
                     "uid", "selfLink")
DELETE_WAIT_SECONDS = 60.0
PREFETCH_MIN_OBJECTS = 3  # a LIST pays off from this many objects in one collection


@dataclass(frozen=True)
class ApplyOptions:
    field_manager: str = FIELD_MANAGER
    force: bool = False  # Kustomization spec.force: recreate on immutable-field errors
    dry_run: bool = False  # plan: compute the change, write nothing
    with_diff: bool = False


class Applier:
    """Applies objects to one cluster; thread-safe, with `workers` requests in flight."""

    def __init__(self, client: KubeClient, mapper: ResourceMapper, workers: int = 8) -> None:
        self.client = client
        self.mapper = mapper
        self.workers = workers
        # Request time summed over threads, by phase: where an apply's time goes.
        self.seconds: dict[str, float] = {"read": 0.0, "dry_run": 0.0, "write": 0.0}
        self._lock = threading.Lock()

    def _timed(self, phase: str, started: float) -> None:
        with self._lock:
            self.seconds[phase] += time.monotonic() - started

    def apply_all(self, manifests: list[Manifest], options: ApplyOptions,
                  new_namespaces: frozenset[str] = frozenset()) -> list[Change]:
        """Apply (or dry-run) every object concurrently; results in input order. Objects in
        `new_namespaces` (created moments ago by the same Kustomization) are not read first:
        nothing there can be ours yet."""
        live = self._prefetch(manifests, new_namespaces)
        if len(manifests) <= 1:
            return [self.apply(m, options, live) for m in manifests]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda m: self.apply(m, options, live), manifests))

    def apply(self, manifest: Manifest, options: ApplyOptions,
              prefetched: dict[str, Manifest | None] | None = None) -> Change:
        key = ObjectKey.of(manifest)
        version = str(manifest.get("apiVersion", "")).rsplit("/", 1)[-1]
        skip = ignored_reason(manifest)
        if skip:
            return Change(key, Action.SKIPPED, version, skip)
        try:
            resource = self.mapper.resource_for(str(manifest["apiVersion"]), key.kind)
            change = self._apply(manifest, resource, key, options, prefetched or {})
        except UnknownKind as error:
            return Change(key, Action.FAILED, version, error.message)
        except ApiError as error:
            return Change(key, Action.FAILED, version, error.api_message)
        change.version = version
        return change

    def _prefetch(self, manifests: list[Manifest], new_namespaces: frozenset[str],
                  ) -> dict[str, Manifest | None]:
        """Live objects by URL path, one LIST per collection holding several of them (a
        GET per object costs a round trip each); None for those in a new namespace."""
        groups: dict[str, tuple[Resource, list[tuple[str, str]]]] = {}
        found: dict[str, Manifest | None] = {}
        for manifest in manifests:
            try:
                resource = self.mapper.resource_for(str(manifest.get("apiVersion")),
                                                    str(manifest.get("kind")))
            except UnknownKind:
                continue
            namespace = with_namespace(manifest, resource)["metadata"].get("namespace")
            name = str((manifest.get("metadata") or {}).get("name"))
            if namespace in new_namespaces and SSA_ANNOTATION not in annotations_of(manifest):
                # Controllers add a few objects to every new namespace (the `default`
                # ServiceAccount, kube-root-ca.crt): if Git has one too, the apply merges
                # into it and the write's managedFields say so (see _apply).
                found[resource.object_path(name, namespace)] = None
                continue
            groups.setdefault(resource.collection_path(namespace), (resource, []))[1].append(
                (name, resource.object_path(name, namespace)))
        for collection, (resource, members) in groups.items():
            if len(members) >= PREFETCH_MIN_OBJECTS:
                found.update(self._list(collection, members, resource))
        return found

    def _list(self, collection: str, members: list[tuple[str, str]], resource: Resource
              ) -> dict[str, Manifest | None]:
        began = time.monotonic()
        items = {i["metadata"]["name"]: resource.identified(i)
                 for i in self.client.list_items(collection)}
        self._timed("read", began)
        return {path: items.get(name) for name, path in members}

    def _apply(self, manifest: Manifest, resource: Resource, key: ObjectKey,
               options: ApplyOptions, prefetched: dict[str, Manifest | None]) -> Change:
        manifest = with_namespace(manifest, resource)
        path = resource.object_path(key.name, manifest["metadata"].get("namespace"))
        live = prefetched[path] if path in prefetched else self._get(path)
        policy = annotations_of(manifest).get(SSA_ANNOTATION, "").lower()
        if live is not None and policy == "ifnotpresent":
            return Change(key, Action.SKIPPED, reason="exists (ssa: IfNotPresent)")
        if live is None and not options.dry_run:
            # Nothing to compare with: the dry-run would only say "created". The repository
            # was validated before the first write, and the API server still validates this.
            written = self._write(path, manifest, options)
            action = Action.CREATED if _made_by(written, options.field_manager) \
                else Action.CONFIGURED  # it appeared since it was read, or was not read
            return Change(key, action, observed=written)
        if live is not None and not compare.compare(manifest, live).flagged:
            # every field Git sets already matches
            return Change(key, Action.UNCHANGED, observed=live)
        taken_over = False
        if live is not None and policy != "merge" and not options.dry_run:
            taken_over = self._take_over(path, live, options.field_manager)
        began = time.monotonic()
        try:
            dry = self.client.apply(path, manifest, options.field_manager, dry_run=True)
        except ApiError as error:
            if not is_immutable_error(error):
                raise
            return self._immutable(manifest, path, live, key, error, options)
        self._timed("dry_run", began)
        action = Action.CREATED if live is None else (
            Action.CONFIGURED if taken_over or differs(live, dry) else Action.UNCHANGED)
        # Diffs for changed objects only: a created object is all new, its diff is noise.
        diff = object_diff(live, dry) if options.with_diff and action == Action.CONFIGURED \
            and live is not None else None
        observed = live
        if action != Action.UNCHANGED and not options.dry_run:
            observed = self._write(path, manifest, options)
        return Change(key, action, diff=diff, observed=None if options.dry_run else observed)

    def _get(self, path: str) -> Manifest | None:
        began = time.monotonic()
        live = self.client.get_or_none(path)
        self._timed("read", began)
        return live

    def _write(self, path: str, manifest: Manifest, options: ApplyOptions) -> Manifest:
        """Apply `manifest`; the object as the API server stored it."""
        began = time.monotonic()
        written = self.client.apply(path, manifest, options.field_manager)
        self._timed("write", began)
        return written

    def _immutable(self, manifest: Manifest, path: str, live: Manifest | None, key: ObjectKey,
                   error: ApiError, options: ApplyOptions) -> Change:
        fields = ", ".join(c.get("field", "?") for c in error.causes) or "a field"
        forced = options.force or annotations_of(manifest).get(FORCE_ANNOTATION) == "enabled"
        if not forced or live is None:
            return Change(
                key, Action.FAILED,
                reason=f"immutable field changed ({fields}): {error.api_message}; set "
                       f"spec.force: true or annotate {FORCE_ANNOTATION}: enabled to recreate")
        if options.dry_run:
            return Change(key, Action.RECREATED, reason=f"immutable: {fields}")
        self.client.delete(path, uid=live["metadata"]["uid"])
        self._wait_gone(path, str(live["metadata"]["uid"]))
        self.client.apply(path, manifest, options.field_manager)
        return Change(key, Action.RECREATED, reason=f"immutable: {fields}")

    def _wait_gone(self, path: str, uid: str) -> None:
        deadline = time.monotonic() + DELETE_WAIT_SECONDS
        while time.monotonic() < deadline:
            current = self.client.get_or_none(path)
            if current is None or current["metadata"].get("uid") != uid:
                return
            time.sleep(0.2)
        raise ApiError("DELETE", path, 504, {"message": "object was not deleted in time "
                                                        "(finalizers?)"})

    def _take_over(self, path: str, live: Manifest, manager: str) -> bool:
        """Give our manager the fields of kubectl / before-first-apply (Flux's cleanup)."""
        metadata = live.get("metadata") or {}
        entries = metadata.get("managedFields") or []
        ours = [e for e in entries if is_taken_over(e)]
        has_last_applied = LAST_APPLIED in (metadata.get("annotations") or {})
        if not ours and not has_last_applied:
            return False
        patch: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion",
             "value": metadata.get("resourceVersion")}]
        if ours:
            patch.append({"op": "replace", "path": "/metadata/managedFields",
                          "value": merged_managed_fields(entries, manager)})
        if has_last_applied:
            patch.append({"op": "remove",
                          "path": "/metadata/annotations/" + LAST_APPLIED.replace("/", "~1")})
        self.client.request("PATCH", path, body=patch,
                            content_type="application/json-patch+json")
        return True



def _made_by(written: Manifest, manager: str) -> bool:
    """Whether the apply that returned `written` created it: nobody else has touched it."""
    entries = (written.get("metadata") or {}).get("managedFields") or []
    return all(entry.get("manager") == manager for entry in entries)


def with_namespace(manifest: Manifest, resource: Resource) -> Manifest:
    """Namespaced objects without a namespace go to `default`, as kubectl does."""
    metadata = manifest.get("metadata") or {}
    if resource.namespaced and not metadata.get("namespace"):
        manifest = {**manifest, "metadata": {**metadata, "namespace": "default"}}
    return manifest


def is_immutable_error(error: ApiError) -> bool:
    return error.status == 422 and any("immutable" in str(c.get("message", "")).lower()
                                       for c in error.causes)


def comparable(obj: Manifest) -> Manifest:
    """An object without status and server-managed metadata, for comparison and diffs."""
    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    metadata = clean.get("metadata") or {}
    for name in VOLATILE_METADATA:
        metadata.pop(name, None)
    return clean


def differs(live: Manifest, dry: Manifest) -> bool:
    """Flux's rule: labels or annotations differ, or the rest (no metadata, no status) does."""
    live_meta, dry_meta = live.get("metadata") or {}, dry.get("metadata") or {}
    for name in ("labels", "annotations"):
        if (live_meta.get(name) or {}) != (dry_meta.get(name) or {}):
            return True
    strip = ("metadata", "status")
    return {k: v for k, v in live.items() if k not in strip} != \
        {k: v for k, v in dry.items() if k not in strip}


def object_diff(live: Manifest | None, desired: Manifest) -> str:
    """A unified YAML diff, Secret values masked."""
    before = dump(mask_secret(comparable(live))) if live is not None else ""
    after = dump(mask_secret(comparable(desired), compare_with=live))
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        "live", "desired"))


def mask_secret(obj: Manifest, compare_with: Manifest | None = None) -> Manifest:
    """Secret values replaced by `***`, or `*** (changed)` where they differ from the other."""
    if obj.get("kind") != "Secret" or obj.get("apiVersion") != "v1":
        return obj
    masked = dict(obj)
    for field in ("data", "stringData"):
        values = obj.get(field) or {}
        other = (compare_with or {}).get(field) or {} if compare_with is not None else values
        if values:
            masked[field] = {k: "***" if other.get(k) == v else "*** (changed)"
                             for k, v in values.items()}
    return masked


def merged_managed_fields(entries: list[dict[str, Any]], manager: str) -> list[dict[str, Any]]:
    """managedFields with the taken-over managers' fields merged into our Apply entry."""
    kept: list[dict[str, Any]] = []
    taken: list[dict[str, Any]] = []
    for entry in entries:
        target = taken if is_taken_over(entry) else kept
        target.append(entry)
    ours = next((e for e in kept if e.get("manager") == manager
                 and e.get("operation") == "Apply"), None)
    if ours is None:
        ours = {**taken[0], "manager": manager, "operation": "Apply", "fieldsV1": {}}
        kept.append(ours)
    for entry in taken:
        ours["fieldsV1"] = _union(ours.get("fieldsV1") or {}, entry.get("fieldsV1") or {})
    return kept


def _union(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _union(merged[key], value)
        else:
            merged.setdefault(key, value)
    return merged
