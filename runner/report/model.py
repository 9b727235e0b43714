"""The machine-readable record of a run (plan, apply or drift), read by later stages: PR
comments, commit statuses, drift notifications. Its JSON form is described by
schemas/report.schema.json; keep the two in step."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from runner import __version__
from runner.apply.changes import Change, ChangeSet
from runner.drift.model import Drift

REPORT_VERSION = 1


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # applied and healthy
    PLANNED = "planned"  # dry-run only
    FAILED = "failed"
    SKIPPED = "skipped"  # a dependency failed, so it was not applied
    SUSPENDED = "suspended"
    IN_SYNC = "in-sync"  # drift: the cluster matches Git
    DRIFTED = "drifted"  # drift: found, not corrected
    CORRECTED = "corrected"  # drift --correct: found and put back


@dataclass
class HealthReport:
    checked: int = 0
    ready: int = 0
    timed_out: bool = False
    pending: list[str] = field(default_factory=list)  # "Deployment/apps/web: Ready: 1/3"
    failed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "ready": self.ready, "timedOut": self.timed_out,
                "pending": self.pending, "failed": self.failed}


@dataclass
class KustomizationReport:
    name: str
    namespace: str
    path: str
    outcome: Outcome = Outcome.PLANNED
    reason: str = ""
    changes: ChangeSet = field(default_factory=ChangeSet)
    pruned: list[Change] = field(default_factory=list)
    health: HealthReport = field(default_factory=HealthReport)
    timings: dict[str, float] = field(default_factory=dict)
    revision: str = ""
    previous_revision: str = ""
    drift: list[Drift] | None = None  # drift reports only (None: not a drift check)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def changed(self) -> bool:
        return self.changes.changed or any(c.action == "deleted" for c in self.pruned)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "namespace": self.namespace, "path": self.path,
            "outcome": str(self.outcome), "reason": self.reason,
            "counts": self.changes.counts(),
            "changes": [c.to_json() for c in self.changes.entries],
            "pruned": [c.to_json() for c in self.pruned],
            "health": self.health.to_json(),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "revision": self.revision, "previousRevision": self.previous_revision,
            **({"drift": [d.to_json() for d in self.drift]} if self.drift is not None else {}),
        }


@dataclass
class RunReport:
    command: str  # plan | apply | drift
    path: str
    revision: str = ""
    cluster: str = ""
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                  time.gmtime()))
    kustomizations: list[KustomizationReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    requests: int = 0  # API requests made (drift reports it: it must not grow per object)

    @property
    def ok(self) -> bool:
        return not self.errors and all(k.outcome not in (Outcome.FAILED, Outcome.SKIPPED)
                                       for k in self.kustomizations)

    @property
    def changed(self) -> bool:
        return any(k.changed for k in self.kustomizations)

    @property
    def drifted(self) -> bool:
        """Drift was found (corrected or not)."""
        return any(k.drift for k in self.kustomizations)

    def drift_totals(self) -> dict[str, int]:
        """Drift findings by kind and by status, e.g. {"modified": 2, "corrected": 2}."""
        totals: dict[str, int] = {}
        for report in self.kustomizations:
            for drift in report.drift or []:
                for name in (str(drift.kind), str(drift.status)):
                    totals[name] = totals.get(name, 0) + 1
        return dict(sorted(totals.items()))

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for report in self.kustomizations:
            for action, count in report.changes.counts().items():
                totals[action] = totals.get(action, 0) + count
            pruned = sum(1 for c in report.pruned if c.action == "deleted")
            if pruned:
                totals["pruned"] = totals.get("pruned", 0) + pruned
        return totals

    def to_json(self) -> dict[str, Any]:
        return {
            "reportVersion": REPORT_VERSION, "tool": f"gitops-runner {__version__}",
            "command": self.command, "path": self.path, "revision": self.revision,
            "cluster": self.cluster, "startedAt": self.started_at, "ok": self.ok,
            "changed": self.changed, "totals": self.totals(),
            "kustomizations": [k.to_json() for k in self.kustomizations],
            "errors": self.errors,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            **({"drift": self.drift_totals(), "requests": self.requests}
               if self.command == "drift" else {}),
        }
