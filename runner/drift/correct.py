"""Putting drift back: the apply engine on what drifted, and strays deleted like pruning.

Kustomizations with drifted objects run through the apply engine (runner.apply.engine) with
only those objects re-applied: the same staged server-side apply, kubectl take-over, health
waits, prune rules and inventory as `apply`, under the cluster lock the caller holds. A
Kustomization never applied, or applied at another revision, is applied whole. Strays are
deleted with the rules of pruning (runner.apply.prune): their live owner labels must still
name the Kustomization, which must prune; never if annotated `prune: disabled` or
`ssa: Ignore`; a UID precondition; never a Namespace that holds objects from Git.
Objects annotated to be ignored, and suspended Kustomizations, are reported, never touched.
"""

from __future__ import annotations

from runner.apply.changes import Action, Change
from runner.apply.engine import Engine, EngineOptions
from runner.apply.prune import prune
from runner.discover.flux import NamespacedName
from runner.drift.detect import DriftRun, KustomizationDrift
from runner.drift.model import Drift, DriftKind, DriftStatus
from runner.kube.client import KubeClient
from runner.kube.discovery import ResourceMapper
from runner.manifest import ObjectKey
from runner.render.repository import RepositoryRender
from runner.report.model import KustomizationReport, Outcome

_WHOLE = frozenset({DriftKind.NOT_APPLIED, DriftKind.REVISION})
_CORRECTED = frozenset({Action.CREATED, Action.CONFIGURED, Action.RECREATED, Action.UNCHANGED})


def correct(client: KubeClient, render: RepositoryRender, run: DriftRun,
            options: EngineOptions, mapper: ResourceMapper | None = None) -> None:
    """Correct the actionable drift of `run` in place: statuses, changes and outcomes."""
    only = plan(run)
    results: dict[NamespacedName, KustomizationReport] = {}
    if only:
        options.only = only
        engine = Engine(client, options)
        mapper = engine.mapper
        applied = engine.run(render, "apply")
        results = {NamespacedName(k.namespace, k.name): k for k in applied.kustomizations
                   if NamespacedName(k.namespace, k.name) in only}
    mapper = mapper or ResourceMapper(client)
    busy = {str((o.get("metadata") or {}).get("namespace"))
            for r in render.kustomizations.values() for o in r.objects
            if (o.get("metadata") or {}).get("namespace")}
    for ks_id, entry in run.kustomizations.items():
        result = results.get(ks_id)
        if result is not None:
            _merge(entry, result)
        _delete_strays(client, mapper, entry, busy, result)
        _verdict(entry, result)


def plan(run: DriftRun) -> dict[NamespacedName, set[ObjectKey] | None]:
    """Per Kustomization to re-apply: the drifted objects, or None to apply it whole."""
    only: dict[NamespacedName, set[ObjectKey] | None] = {}
    for ks_id, entry in run.kustomizations.items():
        if entry.kustomization.suspend:
            continue
        drift = [d for d in entry.drift if d.actionable and d.kind != DriftKind.STRAY]
        if not drift:
            continue
        if any(d.kind in _WHOLE for d in drift):
            only[ks_id] = None
        else:
            only[ks_id] = {d.key for d in drift if d.key is not None}
    return only


def _merge(entry: KustomizationDrift, result: KustomizationReport) -> None:
    """Take the engine's record of a Kustomization into its drift report."""
    report = entry.report
    report.changes, report.pruned, report.health = result.changes, result.pruned, result.health
    for name, seconds in result.timings.items():
        if name != "render":
            report.timings[name] = report.timings.get(name, 0.0) + seconds
    changes = {c.key: c for c in result.changes.entries}
    ok = result.outcome == Outcome.APPLIED
    for drift in entry.drift:
        if not drift.actionable or drift.kind == DriftKind.STRAY:
            continue
        if drift.kind in _WHOLE or drift.key is None:
            _settle(drift, ok, result.reason)
            continue
        change = changes.get(drift.key)
        if change is None:
            _settle(drift, False, result.reason or "not re-applied")
        elif change.action == Action.SKIPPED:
            drift.status, drift.note = DriftStatus.UNTOUCHED, change.reason
        elif change.action == Action.FAILED:
            drift.status, drift.note = DriftStatus.FAILED, change.reason
        elif change.action in _CORRECTED:
            drift.status = DriftStatus.CORRECTED
            if change.action == Action.UNCHANGED:
                drift.note = "already back in sync when re-applied"


def _delete_strays(client: KubeClient, mapper: ResourceMapper, entry: KustomizationDrift,
                   busy: set[str], result: KustomizationReport | None) -> None:
    strays = {d.key: d for d in entry.drift if d.kind == DriftKind.STRAY and d.actionable
              and d.key is not None}
    if not strays or entry.kustomization.suspend:
        return
    if result is not None and result.outcome != Outcome.APPLIED:
        for drift in strays.values():
            drift.status = DriftStatus.FAILED
            drift.note = "not deleted: correcting the Kustomization failed first"
        return
    pruned = prune(client, mapper, entry.kustomization,
                   {key: d.version for key, d in strays.items()}, busy)
    outcomes: dict[ObjectKey, Change] = {c.key: c for c in pruned.changes}
    for key, drift in strays.items():
        change = outcomes.get(key)
        if change is None:
            drift.status, drift.note = DriftStatus.CORRECTED, "already gone"
        elif change.action == Action.DELETED:
            drift.status = DriftStatus.CORRECTED
        elif change.action == Action.SKIPPED:
            drift.status, drift.note = DriftStatus.UNTOUCHED, change.reason
        else:
            drift.status, drift.note = DriftStatus.FAILED, change.reason
    entry.report.pruned = [*entry.report.pruned, *pruned.changes]


def _verdict(entry: KustomizationDrift, result: KustomizationReport | None) -> None:
    report = entry.report
    if entry.kustomization.suspend or not entry.drift:
        return
    if result is not None and result.outcome != Outcome.APPLIED:
        report.outcome, report.reason = result.outcome, result.reason
        return
    failed = [d for d in entry.drift if d.status == DriftStatus.FAILED]
    if failed:
        report.outcome = Outcome.FAILED
        report.reason = "; ".join(f"{d.key or 'Kustomization'}: {d.note}" for d in failed[:5])
    elif any(d.status == DriftStatus.CORRECTED for d in entry.drift):
        report.outcome, report.reason = Outcome.CORRECTED, _corrected_summary(entry.drift)


def _settle(drift: Drift, ok: bool, reason: str) -> None:
    drift.status = DriftStatus.CORRECTED if ok else DriftStatus.FAILED
    if not ok:
        drift.note = reason


def _corrected_summary(drift: list[Drift]) -> str:
    corrected = sum(1 for d in drift if d.status == DriftStatus.CORRECTED)
    untouched = sum(1 for d in drift if d.status == DriftStatus.UNTOUCHED)
    return f"{corrected} corrected" + (f", {untouched} untouched" if untouched else "")
