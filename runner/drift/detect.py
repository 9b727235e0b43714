"""Finding drift: compare the render of Git with the cluster, per Kustomization.

Requests stay proportional to kinds, not to objects:
  1. the inventories: one LIST of ConfigMaps per Kustomization namespace;
  2. the live objects: one LIST per kind (REST resource) that the renders and inventories
     involve, cluster-wide, filtered by the owner label `kustomize.toolkit.fluxcd.io/name`
     (per namespace where the identity may not list cluster-wide). The same LISTs give the
     strays: labelled objects that are in no inventory and not in Git;
  3. desired objects absent from those LISTs (deleted, or their owner labels removed): a GET
     each, or one unlabelled LIST of their collection when several are missing from it;
  4. objects that the local comparison (runner.apply.compare) flags: one server-side
     dry-run each, so that values the API server normalizes never count as drift.
With no drift that is 1 + kinds (+ Kustomization namespaces) requests for the whole cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from runner.apply import compare
from runner.apply import inventory as inventories
from runner.apply.engine import desired_objects
from runner.apply.order import in_apply_order, sort_key
from runner.apply.ownership import (
    FIELD_MANAGER,
    SSA_ANNOTATION,
    ignored_reason,
)
from runner.apply.prune import PRUNE_ANNOTATION
from runner.apply.ssa import differs, object_diff
from runner.discover.flux import Kustomization, NamespacedName
from runner.drift.model import Drift, DriftKind, DriftStatus
from runner.errors import RunnerError
from runner.kube.client import ApiError, KubeClient
from runner.kube.discovery import Resource, ResourceMapper, UnknownKind
from runner.manifest import Manifest, ObjectKey, annotations_of, labels_of
from runner.render.postbuild import OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL
from runner.render.repository import RenderedKustomization, RepositoryRender
from runner.report.model import KustomizationReport, Outcome, RunReport

PAGE_SIZE = 1000
SELECTOR_NAMES_MAX = 40  # beyond this many names, select on the label's existence only
LIST_MISSING_ABOVE = 3  # more missing than this in one collection: LIST it instead of GETs


@dataclass
class DetectOptions:
    revision: str = ""  # Git revision of the render; "" skips the revision comparison
    apply_flux_objects: bool = False
    workers: int = 8  # requests in flight
    progress: Callable[[str], None] = lambda _line: None


@dataclass
class KustomizationDrift:
    """One Kustomization's desired state, inventory and findings."""

    rendered: RenderedKustomization
    desired: list[Manifest]
    inventory: inventories.Inventory | None
    report: KustomizationReport

    @property
    def kustomization(self) -> Kustomization:
        return self.rendered.kustomization

    @property
    def drift(self) -> list[Drift]:
        return self.report.drift if self.report.drift is not None else []


@dataclass
class DriftRun:
    report: RunReport
    kustomizations: dict[NamespacedName, KustomizationDrift] = field(default_factory=dict)


class Detector:
    def __init__(self, client: KubeClient, options: DetectOptions,
                 mapper: ResourceMapper | None = None) -> None:
        self.client = client
        self.options = options
        self.mapper = mapper or ResourceMapper(client)

    def detect(self, render: RepositoryRender) -> DriftRun:
        started = time.monotonic()
        requests_before = self.client.request_count
        if not render.ok:
            raise RunnerError("refusing to check drift: the repository did not render cleanly",
                              "fix the render errors first")
        run = DriftRun(RunReport("drift", str(render.path), self.options.revision,
                                 self.client.config.server))
        found = self._inventories([r.kustomization for r in render.kustomizations.values()])
        for rendered in render.in_dependency_order():
            ks = rendered.kustomization
            report = KustomizationReport(ks.name, ks.namespace, ks.path,
                                         revision=self.options.revision, drift=[],
                                         timings={"render": rendered.seconds})
            inventory = found.get(ks.id)
            report.previous_revision = inventory.revision if inventory else ""
            desired = desired_objects(ks, rendered.objects, self.mapper,
                                      self.options.apply_flux_objects)
            run.kustomizations[ks.id] = KustomizationDrift(rendered, desired, inventory, report)
        began = time.monotonic()
        live = _LiveObjects(self.client, self.mapper, self.options.workers)
        live.load(run.kustomizations.values())
        listed = time.monotonic() - began
        began = time.monotonic()
        confirm: list[tuple[KustomizationDrift, Manifest, Resource, Manifest,
                            compare.Comparison]] = []
        for entry in run.kustomizations.values():
            self._revision_drift(entry)
            for manifest in entry.desired:
                flagged = self._compare(entry, manifest, live)
                if flagged is not None:
                    confirm.append((entry, manifest, *flagged))
        self._strays(run, live)
        compared = time.monotonic() - began
        began = time.monotonic()
        self._confirm_all(confirm)
        confirmed = time.monotonic() - began
        for entry in run.kustomizations.values():
            self._finish(entry)
            run.report.kustomizations.append(entry.report)
        run.report.timings = {"render": render.seconds, "list": listed, "compare": compared,
                              "dry-run": confirmed,
                              "total": time.monotonic() - started + render.seconds}
        run.report.requests = self.client.request_count - requests_before
        return run

    # -- inventories and revisions ------------------------------------------------------------

    def _inventories(self, kustomizations: list[Kustomization]
                     ) -> dict[NamespacedName, inventories.Inventory]:
        """Every inventory parent of these Kustomizations: a LIST per namespace."""
        store = inventories.Store(self.client)
        store.prefetch(kustomizations, PAGE_SIZE)
        found = {ks.id: store.load(ks) for ks in kustomizations}
        return {ks_id: inventory for ks_id, inventory in found.items() if inventory is not None}

    def _revision_drift(self, entry: KustomizationDrift) -> None:
        if entry.inventory is None:
            entry.drift.append(Drift(DriftKind.NOT_APPLIED,
                                     reason="never applied to this cluster (no inventory)"))
        elif self.options.revision and entry.inventory.revision != self.options.revision:
            entry.drift.append(Drift(
                DriftKind.REVISION,
                reason=f"applied at {entry.inventory.revision or 'an unknown revision'}, "
                       f"Git is at {self.options.revision}"))

    # -- objects --------------------------------------------------------------------------------

    def _compare(self, entry: KustomizationDrift, manifest: Manifest, live: _LiveObjects
                 ) -> tuple[Resource, Manifest, compare.Comparison] | None:
        """Record what is certain now; return what needs a dry-run to confirm."""
        key = ObjectKey.of(manifest)
        try:
            resource = self.mapper.resource_for(str(manifest.get("apiVersion")), key.kind)
        except UnknownKind as error:
            entry.drift.append(Drift(DriftKind.MISSING, key, reason=error.message,
                                     status=_untouched_status(manifest, None),
                                     note=_ignored(manifest, None)))
            return None
        current = live.get(resource, key)
        if current is None:
            in_inventory = entry.inventory is not None and key in entry.inventory.entries
            entry.drift.append(Drift(
                DriftKind.MISSING, key,
                reason="in the inventory but not in the cluster (deleted by hand?)"
                if in_inventory else "in Git but not in the cluster",
                status=_untouched_status(manifest, None), note=_ignored(manifest, None)))
            return None
        if annotations_of(manifest).get(SSA_ANNOTATION, "").lower() == "ifnotpresent":
            return None  # created if absent, never changed afterwards
        comparison = compare.compare(manifest, current)
        return (resource, current, comparison) if comparison.flagged else None

    def _confirm_all(self, flagged: list[tuple[KustomizationDrift, Manifest, Resource,
                                                Manifest, compare.Comparison]]) -> None:
        def one(item: tuple[KustomizationDrift, Manifest, Resource, Manifest,
                            compare.Comparison]) -> None:
            entry, manifest, resource, current, comparison = item
            drift = self._confirm(manifest, resource, current, comparison)
            if drift is not None:
                entry.drift.append(drift)

        with ThreadPoolExecutor(max_workers=self.options.workers) as pool:
            list(pool.map(one, flagged))

    def _confirm(self, manifest: Manifest, resource: Resource, current: Manifest,
                 comparison: compare.Comparison) -> Drift | None:
        """One server-side dry-run (force, our field manager): drift if apply would change
        the object. What apply's kubectl take-over removes is added, as the dry-run cannot."""
        key = ObjectKey.of(manifest)
        status, note = _untouched_status(manifest, current), _ignored(manifest, current)
        path = resource.object_path(key.name, key.namespace or None)
        try:
            dry = self.client.apply(path, manifest, FIELD_MANAGER, dry_run=True)
        except ApiError as error:
            return Drift(DriftKind.MODIFIED, key, fields=comparison.fields, status=status,
                         note=note, reason=f"server-side dry-run failed, so apply would too: "
                                           f"{error.api_message}")
        expected = compare.expected_after_apply(dry, comparison.taken_unset,
                                                comparison.last_applied) \
            if comparison.certain else dry
        if not differs(current, expected):
            return None
        fields = compare.changed_paths(current, expected) or comparison.fields
        return Drift(DriftKind.MODIFIED, key, fields=fields, status=status, note=note,
                     diff=object_diff(current, expected),
                     reason=_modified_reason(fields, current, comparison))

    # -- strays ---------------------------------------------------------------------------------

    def _strays(self, run: DriftRun, live: _LiveObjects) -> None:
        known: set[ObjectKey] = set()
        for entry in run.kustomizations.values():
            known |= {ObjectKey.of(m) for m in entry.desired}
            if entry.inventory is not None:
                known |= entry.inventory.keys
        for key, (resource, obj) in sorted(live.labelled().items()):
            labels = labels_of(obj)
            if key in known or inventories.APPLYSET_ID_LABEL in labels:
                continue
            owner = NamespacedName(labels.get(OWNER_NAMESPACE_LABEL, ""),
                                   labels.get(OWNER_NAME_LABEL, ""))
            owning = run.kustomizations.get(owner)
            if owning is None:
                continue  # another tool's or repository's object
            note = _ignored(None, obj) or _stray_kept(owning.kustomization, obj)
            owning.drift.append(Drift(
                DriftKind.STRAY, key, version=resource.version,
                reason=f"labelled as {owner}'s but in no inventory and not in Git",
                status=DriftStatus.UNTOUCHED if note else DriftStatus.DETECTED, note=note))

    # -- the Kustomization's verdict ------------------------------------------------------------

    def _finish(self, entry: KustomizationDrift) -> None:
        report = entry.report
        order = {key: index for index, key in enumerate(
            ObjectKey.of(m) for m in in_apply_order(entry.desired))}
        report.drift = sorted(entry.drift, key=lambda d: (
            d.key is not None, order.get(d.key, len(order)) if d.key else 0,
            sort_key(d.key) if d.key else ()))
        if entry.kustomization.suspend:
            for drift in entry.drift:
                drift.status, drift.note = DriftStatus.UNTOUCHED, \
                    "the Kustomization is suspended (spec.suspend: true)"
            report.outcome, report.reason = Outcome.SUSPENDED, "spec.suspend: true"
        elif entry.drift:
            report.outcome = Outcome.DRIFTED
            report.reason = summary(entry.drift)
        else:
            report.outcome = Outcome.IN_SYNC
        if entry.drift:
            self.options.progress(f"{entry.kustomization}: {summary(entry.drift)}")


class _LiveObjects:
    """The live objects of the collections that renders and inventories involve."""

    def __init__(self, client: KubeClient, mapper: ResourceMapper, workers: int) -> None:
        self.client = client
        self.mapper = mapper
        self.workers = workers
        self._by_resource: dict[Resource, dict[ObjectKey, Manifest]] = {}
        self._labelled: dict[ObjectKey, tuple[Resource, Manifest]] = {}

    def get(self, resource: Resource, key: ObjectKey) -> Manifest | None:
        return self._by_resource.get(resource, {}).get(key)

    def labelled(self) -> dict[ObjectKey, tuple[Resource, Manifest]]:
        return self._labelled

    def load(self, entries: Iterable[KustomizationDrift]) -> None:
        entries = list(entries)
        collections: dict[Resource, set[str]] = {}
        wanted: list[tuple[Resource, ObjectKey]] = []
        for entry in entries:
            for manifest in entry.desired:
                key = ObjectKey.of(manifest)
                try:
                    resource = self.mapper.resource_for(str(manifest.get("apiVersion")),
                                                        key.kind)
                except UnknownKind:
                    continue
                collections.setdefault(resource, set()).add(key.namespace)
                wanted.append((resource, key))
            for key, version in (entry.inventory.entries.items() if entry.inventory else ()):
                api_version = f"{key.group}/{version}" if key.group else version
                try:
                    resource = self.mapper.resource_for(api_version, key.kind)
                except UnknownKind:
                    continue  # its CRD is gone, and every object of the kind with it
                collections.setdefault(resource, set()).add(key.namespace)
        names = sorted({e.kustomization.name for e in entries})
        selector = OWNER_NAME_LABEL
        if len(names) <= SELECTOR_NAMES_MAX and all(len(n) <= 63 for n in names):
            selector = f"{OWNER_NAME_LABEL} in ({','.join(names)})"
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            lists = list(pool.map(lambda item: self._list_labelled(item[0], item[1], selector),
                                  collections.items()))
        for resource, items in zip(collections, lists, strict=True):
            self._add(resource, items, labelled=True)
        self._load_missing(wanted, pool_size=self.workers)

    def _list_labelled(self, resource: Resource, namespaces: set[str], selector: str
                       ) -> list[Manifest]:
        params = {"labelSelector": selector}
        try:
            return self.client.list_items(resource.collection_path(), params, PAGE_SIZE)
        except ApiError as error:
            if error.status != 403 or not resource.namespaced:
                raise
        # Not allowed cluster-wide: list each namespace the objects live in.
        items: list[Manifest] = []
        for namespace in sorted(namespaces):
            items += self.client.list_items(resource.collection_path(namespace), params,
                                            PAGE_SIZE)
        return items

    def _load_missing(self, wanted: list[tuple[Resource, ObjectKey]], pool_size: int) -> None:
        """Desired objects the labelled LISTs did not return: deleted, or their labels
        changed. A GET each, or a plain LIST where many share a collection."""
        missing: dict[tuple[Resource, str], list[ObjectKey]] = {}
        for resource, key in wanted:
            if self.get(resource, key) is None:
                missing.setdefault((resource, key.namespace), []).append(key)
        if not missing:
            return

        def fetch(item: tuple[tuple[Resource, str], list[ObjectKey]]) -> None:
            (resource, namespace), keys = item
            if len(keys) > LIST_MISSING_ABOVE:
                path = resource.collection_path(namespace or None)
                self._add(resource, self.client.list_items(path, {}, PAGE_SIZE),
                          labelled=False)
                return
            for key in keys:
                found = self.client.get_or_none(resource.object_path(key.name,
                                                                     key.namespace or None))
                if found is not None:
                    self._add(resource, [found], labelled=False)

        with ThreadPoolExecutor(max_workers=pool_size) as pool:
            list(pool.map(fetch, missing.items()))

    def _add(self, resource: Resource, items: list[Manifest], labelled: bool) -> None:
        objects = self._by_resource.setdefault(resource, {})
        for listed in items:
            item = resource.identified(listed)
            key = ObjectKey.of(item)
            objects[key] = item
            if labelled:
                self._labelled.setdefault(key, (resource, item))


def _ignored(manifest: Manifest | None, live: Manifest | None) -> str:
    """Why an object is never touched (Flux's annotations, in Git or on the live object)."""
    return next((reason for obj in (manifest, live) if obj is not None
                 for reason in [ignored_reason(obj)] if reason), "")


def _untouched_status(manifest: Manifest | None, live: Manifest | None) -> DriftStatus:
    return DriftStatus.UNTOUCHED if _ignored(manifest, live) else DriftStatus.DETECTED


def _stray_kept(ks: Kustomization, live: Manifest) -> str:
    """Why a stray would not be deleted (the same rules as pruning)."""
    if not ks.prune:
        return "the Kustomization does not prune (spec.prune: false)"
    if annotations_of(live).get(PRUNE_ANNOTATION, "").lower() == "disabled":
        return f"{PRUNE_ANNOTATION}: disabled"
    return ""


def _modified_reason(fields: list[str], current: Manifest,
                     comparison: compare.Comparison) -> str:
    managers = compare.owners_of(current, fields)
    shown = ", ".join(fields[:5]) + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")
    by = f" (set by {', '.join(managers)})" if managers else ""
    if comparison.certain and not comparison.values:
        return f"apply would remove {shown}, set outside Git{by}"
    return f"differs from Git: {shown}{by}"


def summary(drift: list[Drift]) -> str:
    counts: dict[str, int] = {}
    for item in drift:
        counts[str(item.kind)] = counts.get(str(item.kind), 0) + 1
    text = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    untouched = sum(1 for d in drift if d.status == DriftStatus.UNTOUCHED)
    return text + (f" ({untouched} untouched)" if untouched else "")
