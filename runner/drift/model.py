"""One finding of a drift check, as it appears in the run report."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from runner.manifest import ObjectKey


class DriftKind(enum.StrEnum):
    MODIFIED = "modified"  # fields Git sets (or we own) differ from the cluster
    MISSING = "missing"  # in Git, absent from the cluster (deleted by hand)
    STRAY = "stray"  # labelled as a Kustomization's, but in no inventory and not in Git
    NOT_APPLIED = "not-applied"  # the Kustomization has no inventory in the cluster
    REVISION = "revision"  # the Kustomization was last applied at another revision


class DriftStatus(enum.StrEnum):
    DETECTED = "detected"  # reported (no --correct)
    CORRECTED = "corrected"
    UNTOUCHED = "untouched"  # ignored object or suspended Kustomization: reported only
    FAILED = "failed"  # --correct tried and failed


@dataclass
class Drift:
    """A drifted object (or, for not-applied/revision, the Kustomization itself: key None)."""

    kind: DriftKind
    key: ObjectKey | None = None
    reason: str = ""
    fields: list[str] = field(default_factory=list)  # e.g. spec.replicas, metadata.labels.x
    diff: str | None = None  # unified YAML diff live -> desired, Secret values masked
    status: DriftStatus = DriftStatus.DETECTED
    note: str = ""  # why untouched, or why the correction failed
    version: str = ""  # API version (for strays: the one it was listed with)

    @property
    def actionable(self) -> bool:
        return self.status != DriftStatus.UNTOUCHED

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": str(self.kind), "status": str(self.status)}
        if self.key is not None:
            data["object"] = str(self.key)
            data["id"] = self.key.flux_id
        if self.reason:
            data["reason"] = self.reason
        if self.fields:
            data["fields"] = self.fields
        if self.diff is not None:
            data["diff"] = self.diff
        if self.note:
            data["note"] = self.note
        return data

    def __str__(self) -> str:
        where = str(self.key) if self.key is not None else "Kustomization"
        return f"{self.kind} {where}" + (f": {self.reason}" if self.reason else "")
