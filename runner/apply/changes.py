"""What applying did (or would do) to each object: the change set of a Kustomization."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from runner.manifest import ObjectKey


class Action(enum.StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    RECREATED = "recreated"
    SKIPPED = "skipped"
    DELETED = "deleted"
    FAILED = "failed"


CHANGING = frozenset({Action.CREATED, Action.CONFIGURED, Action.RECREATED, Action.DELETED})


@dataclass
class Change:
    """One object's outcome. `diff` is set by plans (Secret values masked)."""

    key: ObjectKey
    action: Action
    version: str = ""  # API version applied, kept in the inventory as Flux does
    reason: str = ""
    diff: str | None = None
    # The object as the API server last returned it (write response, or the live object
    # when nothing was written): lets a wait skip objects already healthy. Not reported.
    observed: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"object": str(self.key), "id": self.key.flux_id,
                                "action": str(self.action)}
        if self.reason:
            data["reason"] = self.reason
        if self.diff is not None:
            data["diff"] = self.diff
        return data


@dataclass
class ChangeSet:
    entries: list[Change] = field(default_factory=list)

    def add(self, change: Change) -> None:
        self.entries.append(change)

    def extend(self, changes: list[Change]) -> None:
        self.entries.extend(changes)

    def count(self, action: Action) -> int:
        return sum(1 for entry in self.entries if entry.action == action)

    def counts(self) -> dict[str, int]:
        return {str(action): self.count(action) for action in Action if self.count(action)}

    @property
    def changed(self) -> bool:
        return any(entry.action in CHANGING for entry in self.entries)

    @property
    def failed(self) -> list[Change]:
        return [entry for entry in self.entries if entry.action == Action.FAILED]
