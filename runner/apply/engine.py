"""Applying a rendered repository: Kustomizations in dependency order, each one staged,
server-side applied, waited on, pruned and recorded in its inventory.

A Kustomization starts as soon as everything it requires (dependsOn, and the Kustomization
that defines it) has applied and passed health, like kapp's scheduler; independent ones run
concurrently. Dependents of a failed Kustomization are skipped, and the report says which
dependency stopped them. The caller guarantees that the whole repository rendered and
validated before this runs: nothing is written otherwise.

Per Kustomization (fluxcd/pkg/ssa order, with the inventory made crash-safe):
  1. previous inventory; refuse an empty render or a mass deletion unless allowed;
  2. write the superset (previous + new) inventory, so a crash never forgets an object;
  3. stages (cluster definitions, classes, the rest): apply, then wait before the next;
  4. health: every object (`wait: true`) or `healthChecks`, within `timeout`;
  5. prune what left Git, after health passed (beyond Flux, which prunes before);
  6. write the exact inventory (new + anything that could not be deleted).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from runner.apply import inventory as inventories
from runner.apply.changes import Action, Change
from runner.apply.order import STAGE_NAMES, in_apply_order, stage_of
from runner.apply.prune import prune
from runner.apply.ssa import Applier, ApplyOptions, with_namespace
from runner.apply.wait import HealthWaiter
from runner.discover.flux import Kustomization, NamespacedName, is_flux_instruction
from runner.errors import RunnerError
from runner.health.status import HealthOptions
from runner.kube.client import KubeClient
from runner.kube.discovery import ResourceMapper, UnknownKind
from runner.manifest import Manifest, ObjectKey, set_labels
from runner.render.repository import RenderedKustomization, RepositoryRender
from runner.report.model import HealthReport, KustomizationReport, Outcome, RunReport

Progress = Callable[[str], None]


@dataclass
class EngineOptions:
    dry_run: bool = False  # plan: compute changes (with diffs), write nothing
    concurrency: int = 4  # Kustomizations in flight
    object_workers: int = 8  # requests in flight within a stage
    apply_flux_objects: bool = False
    max_prune_ratio: float = 0.5
    allow_mass_prune: bool = False
    health: HealthOptions = field(default_factory=HealthOptions)
    revision: str = ""
    progress: Progress = lambda _line: None
    # Drift correction: run only these Kustomizations (the others were just found in sync and
    # count as ready for their dependents), and of each only the listed objects (None: all).
    # Inventories, health waits and pruning work as in a full apply.
    only: dict[NamespacedName, set[ObjectKey] | None] | None = None


class Engine:
    def __init__(self, client: KubeClient, options: EngineOptions) -> None:
        self.client = client
        self.options = options
        self.mapper = ResourceMapper(client)
        self.applier = Applier(client, self.mapper, options.object_workers)
        self.inventories = inventories.Store(client)
        self._applied_namespaces: set[str] = set()

    def run(self, render: RepositoryRender, command: str) -> RunReport:
        started = time.monotonic()
        report = RunReport(command, str(render.path), self.options.revision,
                           self.client.config.server)
        if not render.ok:
            raise RunnerError("refusing to apply: the repository did not render cleanly",
                              "fix the render errors first; nothing was written")
        order = render.in_dependency_order()
        self.inventories.prefetch(r.kustomization for r in order)
        results = self._schedule(render, order)
        report.kustomizations = [results[r.kustomization.id] for r in order]
        report.timings = {"render": render.seconds, "total": time.monotonic() - started
                          + render.seconds,
                          **{f"requests_{k}": v for k, v in self.applier.seconds.items()}}
        return report

    # -- scheduling ------------------------------------------------------------------------

    def _schedule(self, render: RepositoryRender, order: list[RenderedKustomization]
                  ) -> dict[NamespacedName, KustomizationReport]:
        self._applied_namespaces = _namespaces_of(render)
        results: dict[NamespacedName, KustomizationReport] = {}
        waiting = {r.kustomization.id: r for r in order}
        running: dict[Future[KustomizationReport], NamespacedName] = {}
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            while waiting or running:
                for ks_id, rendered in list(waiting.items()):
                    verdict = self._readiness(rendered.kustomization, results)
                    if verdict == "wait":
                        continue
                    del waiting[ks_id]
                    if verdict:
                        results[ks_id] = self._skipped(rendered, verdict)
                    elif self.options.only is not None and ks_id not in self.options.only:
                        results[ks_id] = _new_report(rendered, self.options.revision)
                        results[ks_id].outcome = Outcome.APPLIED  # in sync: not re-applied
                    else:
                        running[pool.submit(self._one, rendered)] = ks_id
                if not running:
                    if waiting:  # nothing can start and nothing runs: cannot happen after
                        raise RunnerError("internal: unschedulable Kustomizations")  # graph check
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    results[running.pop(future)] = future.result()
        return results

    @staticmethod
    def _readiness(ks: Kustomization, results: dict[NamespacedName, KustomizationReport]
                   ) -> str:
        """'' to start now, 'wait' to wait, or why it is skipped."""
        for dep in ks.requires:
            if dep not in results:
                return "wait"
            outcome = results[dep].outcome
            if outcome in (Outcome.FAILED, Outcome.SKIPPED):
                return f"dependency {dep} {outcome}: {results[dep].reason}".rstrip(": ")
        return ""

    def _skipped(self, rendered: RenderedKustomization, reason: str) -> KustomizationReport:
        report = _new_report(rendered, self.options.revision)
        report.outcome, report.reason = Outcome.SKIPPED, reason
        self.options.progress(f"{rendered.kustomization}: skipped, {reason}")
        return report

    # -- one Kustomization -------------------------------------------------------------------

    def _one(self, rendered: RenderedKustomization) -> KustomizationReport:
        ks = rendered.kustomization
        report = _new_report(rendered, self.options.revision)
        if ks.suspend:
            report.outcome, report.reason = Outcome.SUSPENDED, "spec.suspend: true"
            return report
        started = time.monotonic()
        try:
            self._apply_kustomization(ks, rendered, report, started)
        except RunnerError as error:
            report.outcome, report.reason = Outcome.FAILED, error.message
        for change in report.changes.entries:
            change.observed = None  # only the waits needed them
        if report.outcome == Outcome.FAILED:
            self.options.progress(f"{ks}: FAILED: {report.reason}")
        report.timings["total"] = time.monotonic() - started
        return report

    def _apply_kustomization(self, ks: Kustomization, rendered: RenderedKustomization,
                             report: KustomizationReport, started: float) -> None:
        objects = self._desired(ks, rendered.objects)
        stored = self.inventories.load(ks)
        previous = stored or inventories.Inventory()
        report.previous_revision = previous.revision
        desired = {ObjectKey.of(o): _version(o) for o in objects}
        stale = {k: v for k, v in previous.entries.items() if k not in desired}
        self._check_prune_safety(ks, previous, desired, stale)
        superset = {**previous.entries, **desired}
        if not self.options.dry_run and (stored is None or superset != previous.entries):
            self.inventories.save(ks, inventories.Inventory(superset, previous.revision))
        if not self._apply_stages(ks, objects, report):
            return
        if not self.options.dry_run and not self._wait(ks, objects, report, started):
            return
        self._prune(ks, stale, report, desired, previous)

    def _desired(self, ks: Kustomization, objects: list[Manifest]) -> list[Manifest]:
        return desired_objects(ks, objects, self.mapper, self.options.apply_flux_objects)

    def _check_prune_safety(self, ks: Kustomization, previous: inventories.Inventory,
                            desired: dict[ObjectKey, str], stale: dict[ObjectKey, str]) -> None:
        if not ks.prune or not stale or self.options.allow_mass_prune:
            return
        if not desired:
            raise RunnerError(
                f"{ks} rendered no objects but {len(previous.entries)} are applied: refusing "
                "to prune them all", "if this is intended, run again with --allow-mass-prune")
        ratio = len(stale) / len(previous.entries)
        if ratio > self.options.max_prune_ratio:
            raise RunnerError(
                f"{ks} would prune {len(stale)} of {len(previous.entries)} objects "
                f"({ratio:.0%} > --max-prune-ratio {self.options.max_prune_ratio:.0%})",
                "check the render; if intended, raise --max-prune-ratio or pass "
                "--allow-mass-prune")

    def _apply_stages(self, ks: Kustomization, objects: list[Manifest],
                      report: KustomizationReport) -> bool:
        """Apply stage by stage, waiting on each before the next; False if one failed."""
        options = ApplyOptions(force=ks.force, dry_run=self.options.dry_run,
                               with_diff=self.options.dry_run)
        selected = (self.options.only or {}).get(ks.id)
        new_namespaces: frozenset[str] = frozenset()
        for stage in range(len(STAGE_NAMES)):
            members = [m for m in objects if stage_of(str(m.get("kind"))) == stage
                       and (selected is None or ObjectKey.of(m) in selected)]
            if not members:
                continue
            began = time.monotonic()
            changes = self._dry_run_aware(self.applier.apply_all(members, options,
                                                                 new_namespaces))
            report.changes.extend(changes)
            new_namespaces |= {c.key.name for c in changes if c.action == Action.CREATED
                               and c.key.kind == "Namespace" and c.key.group == ""}
            _add_timing(report, "apply", time.monotonic() - began)
            self.options.progress(f"{ks}: {STAGE_NAMES[stage]}: {_summary(changes)}")
            failed = [c for c in changes if c.action == Action.FAILED]
            if failed:
                report.outcome = Outcome.FAILED
                report.reason = "; ".join(f"{c.key}: {c.reason}" for c in failed[:5])
                return False
            if stage < 2 and not self.options.dry_run:
                if any(m.get("kind") in SERVES_KINDS for m in members):
                    self.mapper.refresh()  # new CRDs serve new kinds from here on
                self._wait_stage(ks, members, report)
        return True

    def _dry_run_aware(self, changes: list[Change]) -> list[Change]:
        """In a plan, an object whose CRD or Namespace is created earlier in the same run
        cannot be dry-run yet: it will be created, which is what the plan says."""
        if not self.options.dry_run:
            return changes
        for change in changes:
            if change.action == Action.FAILED and _pending_prerequisite(change.reason):
                change.action, change.reason = Action.CREATED, f"not dry-run: {change.reason}"
        return changes

    def _wait_stage(self, ks: Kustomization, members: list[Manifest],
                    report: KustomizationReport) -> None:
        waiter = HealthWaiter(self.client, self.mapper, self.options.health,
                              self.options.progress)
        result = waiter.wait({ObjectKey.of(m): str(m["apiVersion"]) for m in members},
                             ks.timeout_seconds, _observed(report))
        _add_timing(report, "wait", result.seconds)
        if not result.ok:
            raise RunnerError(f"{ks}: stage objects not ready: "
                              + "; ".join(f"{k}: {r.message}"
                                          for k, r in list(result.statuses.items())[:5]
                                          if r.status != "Current"))

    def _wait(self, ks: Kustomization, objects: list[Manifest], report: KustomizationReport,
              started: float) -> bool:
        targets = self._health_targets(ks, objects)
        if not targets:
            report.outcome = Outcome.APPLIED
            return True
        remaining = max(1.0, ks.timeout_seconds - (time.monotonic() - started))
        waiter = HealthWaiter(self.client, self.mapper, self.options.health,
                              lambda line: self.options.progress(f"{ks}: waiting: {line}"))
        result = waiter.wait(targets, remaining, _observed(report))
        _add_timing(report, "wait", result.seconds)
        report.health = HealthReport(
            checked=len(targets),
            ready=sum(1 for r in result.statuses.values() if r.status == "Current"),
            timed_out=result.timed_out,
            pending=[f"{k}: {r.message}" for k, r in sorted(result.pending.items())],
            failed=[f"{k}: {r.message}" for k, r in sorted(result.failed.items())])
        if result.ok:
            report.outcome = Outcome.APPLIED
            return True
        report.outcome = Outcome.FAILED
        what = "timed out" if result.timed_out else "failed"
        report.reason = f"health check {what} after {result.seconds:.0f}s: " + "; ".join(
            (report.health.failed or report.health.pending)[:5])
        return False

    @staticmethod
    def _health_targets(ks: Kustomization, objects: list[Manifest]) -> dict[ObjectKey, str]:
        if ks.wait:
            return {ObjectKey.of(m): str(m["apiVersion"]) for m in objects}
        return {check.key: check.api_version for check in ks.health_checks}

    def _prune(self, ks: Kustomization, stale: dict[ObjectKey, str],
               report: KustomizationReport, desired: dict[ObjectKey, str],
               previous: inventories.Inventory) -> None:
        keep: dict[ObjectKey, str] = {}
        if ks.prune and stale:
            began = time.monotonic()
            result = prune(self.client, self.mapper, ks, stale, self._applied_namespaces,
                           self.options.dry_run)
            report.pruned, keep = result.changes, result.keep
            _add_timing(report, "prune", time.monotonic() - began)
            if any(c.action == Action.FAILED for c in result.changes):
                report.outcome = Outcome.FAILED
                report.reason = "; ".join(f"{c.key}: {c.reason}" for c in result.changes
                                          if c.action == Action.FAILED)
        # With prune: false, stale objects stay in the cluster and leave the inventory (Flux).
        if self.options.dry_run:
            report.outcome = Outcome.PLANNED
            return
        final = inventories.Inventory({**desired, **keep}, self.options.revision)
        if (final.entries, final.revision) != (previous.entries, previous.revision):
            self.inventories.save(ks, final)  # a no-change run writes nothing at all


# Objects whose creation makes the API server serve new kinds: discovery is read again after
# a stage holding one (reading it costs two large responses, under a lock every apply needs).
SERVES_KINDS = frozenset({"CustomResourceDefinition", "APIService"})


def desired_objects(ks: Kustomization, objects: list[Manifest], mapper: ResourceMapper,
                    apply_flux_objects: bool = False) -> list[Manifest]:
    """What is applied, in apply order: Flux's own instructions left out (unless asked),
    namespaces defaulted, and the ApplySet membership label added. Drift compares the
    cluster with exactly this."""
    applyset = inventories.applyset_id(ks)
    chosen = []
    for manifest in objects:
        if is_flux_instruction(manifest) and not apply_flux_objects:
            continue
        manifest = _defaulted(manifest, mapper)
        set_labels(manifest, {inventories.PART_OF_LABEL: applyset})
        chosen.append(manifest)
    return in_apply_order(chosen)


def _defaulted(manifest: Manifest, mapper: ResourceMapper) -> Manifest:
    try:
        resource = mapper.resource_for(str(manifest.get("apiVersion")), str(manifest.get("kind")))
    except UnknownKind:
        return manifest  # its CRD comes with an earlier stage; defaulted when applied
    return with_namespace(manifest, resource)


def _observed(report: KustomizationReport) -> dict[ObjectKey, Manifest]:
    return {c.key: c.observed for c in report.changes.entries if c.observed is not None}


def _new_report(rendered: RenderedKustomization, revision: str) -> KustomizationReport:
    ks = rendered.kustomization
    return KustomizationReport(ks.name, ks.namespace, ks.path, revision=revision,
                               timings={"render": rendered.seconds})


def _namespaces_of(render: RepositoryRender) -> set[str]:
    """Namespaces holding objects the repository applies (never pruned while they do)."""
    return {str((o.get("metadata") or {}).get("namespace"))
            for r in render.kustomizations.values() for o in r.objects
            if (o.get("metadata") or {}).get("namespace")}


def _version(manifest: Manifest) -> str:
    return str(manifest.get("apiVersion", "")).rsplit("/", 1)[-1]


def _summary(changes: list[Change]) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[str(change.action)] = counts.get(str(change.action), 0) + 1
    return ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))


def _add_timing(report: KustomizationReport, name: str, seconds: float) -> None:
    report.timings[name] = report.timings.get(name, 0.0) + seconds


def _pending_prerequisite(reason: str) -> bool:
    return "serves no" in reason or ("namespaces" in reason and "not found" in reason)
