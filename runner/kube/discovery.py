"""Which REST resource serves a kind: the mapping from apiVersion/kind to URL paths.

Uses aggregated discovery (two requests for the whole cluster). The mapping is refreshed when
a kind is not found, because a CRD applied earlier in the same run adds new kinds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from runner.errors import RunnerError
from runner.kube.client import JSON, KubeClient

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@dataclass(frozen=True)
class Resource:
    """A REST resource: `plural` under `group/version`, namespaced or cluster-wide."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    def identified(self, item: JSON) -> JSON:
        """`item` with this resource's apiVersion and kind: LIST items carry neither, and
        without them an object neither has its key nor compares equal to a manifest."""
        return {"apiVersion": self.api_version, "kind": self.kind, **item}


class UnknownKind(RunnerError):
    """The cluster serves no resource for an apiVersion/kind."""


class ResourceMapper:
    """Thread-safe cache of the cluster's resources, keyed by (apiVersion, kind)."""

    def __init__(self, client: KubeClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._by_kind: dict[tuple[str, str], Resource] = {}
        self._loaded = False

    def resource_for(self, api_version: str, kind: str) -> Resource:
        key = (api_version, kind)
        with self._lock:
            if not self._loaded or key not in self._by_kind:
                self._by_kind = self._discover()
                self._loaded = True
            resource = self._by_kind.get(key)
        if resource is None:
            raise UnknownKind(
                f"the cluster serves no {kind} in {api_version}",
                "install the CRD that defines it first (in this or an earlier Kustomization)",
            )
        return resource

    def refresh(self) -> None:
        with self._lock:
            self._by_kind = self._discover()
            self._loaded = True

    def _discover(self) -> dict[tuple[str, str], Resource]:
        mapping: dict[tuple[str, str], Resource] = {}
        for root in ("/api", "/apis"):
            listing = self._client.request("GET", root, accept=AGGREGATED)
            for group in listing.get("items", []):
                _add_group(mapping, group)
        return mapping


def _add_group(mapping: dict[tuple[str, str], Resource], group: JSON) -> None:
    group_name = group.get("metadata", {}).get("name", "")
    for version_entry in group.get("versions", []):
        version = version_entry["version"]
        for entry in version_entry.get("resources", []):
            kind = (entry.get("responseKind") or {}).get("kind")
            if not kind:
                continue
            resource = Resource(group_name, version, kind, entry["resource"],
                                entry.get("scope") == "Namespaced")
            mapping.setdefault((resource.api_version, kind), resource)
