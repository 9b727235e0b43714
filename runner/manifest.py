"""Kubernetes objects as plain dicts, and how the runner names them.

Every stage passes objects around as the JSON-shaped dicts the API server speaks; this module
gives them identities (`ObjectKey`) in the formats users know: `Kind/namespace/name` for
messages and Flux's inventory id `<namespace>_<name>_<group>_<kind>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]


def group_of(api_version: str) -> str:
    """`apps/v1` -> `apps`; `v1` -> `` (the core group)."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def version_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[-1]


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object in a cluster: group, kind, namespace (empty if cluster-wide), name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, manifest: Manifest) -> ObjectKey:
        metadata = manifest.get("metadata") or {}
        return cls(group_of(str(manifest.get("apiVersion", ""))), str(manifest.get("kind", "")),
                   str(metadata.get("namespace") or ""), str(metadata.get("name", "")))

    @classmethod
    def from_flux_id(cls, flux_id: str) -> ObjectKey:
        """Parse Flux's inventory id. Names cannot hold `_`, so splitting is unambiguous."""
        namespace, name, group, kind = flux_id.split("_")
        return cls(group, kind, namespace, name)

    @property
    def flux_id(self) -> str:
        return f"{self.namespace}_{self.name}_{self.group}_{self.kind}"

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group and "." not in self.kind else self.kind
        if self.namespace:
            return f"{kind}/{self.namespace}/{self.name}"
        return f"{kind}/{self.name}"


def labels_of(manifest: Manifest) -> dict[str, str]:
    return dict((manifest.get("metadata") or {}).get("labels") or {})


def annotations_of(manifest: Manifest) -> dict[str, str]:
    return dict((manifest.get("metadata") or {}).get("annotations") or {})


def set_labels(manifest: Manifest, values: dict[str, str]) -> None:
    if values:
        metadata = manifest.setdefault("metadata", {})
        metadata["labels"] = {**(metadata.get("labels") or {}), **values}


def set_annotations(manifest: Manifest, values: dict[str, str]) -> None:
    if values:
        metadata = manifest.setdefault("metadata", {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **values}
