"""Kubernetes' own OpenAPI v3 documents turned into a compact set of JSON schema definitions.

The API server publishes one OpenAPI v3 document per group-version (`/openapi/v3/<path>`).
Each holds every type it references (ObjectMeta is repeated in all of them), with long
descriptions. `compact()` merges them into one `definitions` map, keeps only what validation
reads (types, properties, required, enums, formats, the `x-kubernetes-*` markers that change
validation) and lists the kinds the server serves, with their scope. The generator of
`schemas/kubernetes/<version>/` and the `--kubeconfig` mode share this code, so offline
and live validation see the same schemas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.kube.client import KubeClient
from runner.kube.discovery import AGGREGATED

JSON = dict[str, Any]
REF_PREFIX = "#/components/schemas/"
DEF_PREFIX = "#/definitions/"
# Keywords that validation never reads: dropped to keep the committed files small.
_DROPPED = frozenset({
    "description", "default", "example", "externalDocs", "title",
    "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type",
    "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy", "x-kubernetes-unions",
    "x-kubernetes-group-version-kind", "x-kubernetes-action",
})


@dataclass(frozen=True)
class KindInfo:
    """A kind the API server serves: where its schema is and whether it is namespaced."""

    group: str
    version: str
    kind: str
    definition: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def as_row(self) -> list[Any]:
        return [self.group, self.version, self.kind, self.definition, self.namespaced]


def compact(documents: Iterable[JSON], served: Mapping[tuple[str, str, str], bool]) -> JSON:
    """`{"definitions": {...}, "kinds": [[group, version, kind, definition, namespaced]]}`.

    `served` maps (group, version, kind) to namespaced for every resource discovery lists;
    definitions of kinds the server does not serve as resources (List types, options) stay
    as definitions but are not listed as kinds.
    """
    definitions: JSON = {}
    kinds: dict[tuple[str, str, str], KindInfo] = {}
    for document in documents:
        for name, schema in ((document.get("components") or {}).get("schemas") or {}).items():
            definitions.setdefault(name, _clean(schema))
            for gvk in schema.get("x-kubernetes-group-version-kind") or []:
                key = (gvk.get("group", ""), gvk["version"], gvk["kind"])
                if key in served:
                    kinds.setdefault(key, KindInfo(*key, name, served[key]))
    rows = [kinds[key].as_row() for key in sorted(kinds)]
    return {"definitions": dict(sorted(definitions.items())), "kinds": rows}


def _clean(node: Any) -> Any:
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        # `allOf: [{$ref}]` is how OpenAPI v3 attaches a default to a reference; the
        # default is dropped, so the plain reference is enough (and validates faster).
        node = {**{k: v for k, v in node.items() if k != "allOf"}, **all_of[0]}
    cleaned: JSON = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            cleaned[key] = {name: _clean(prop) for name, prop in value.items()}
        elif key == "$ref" and isinstance(value, str):
            cleaned[key] = DEF_PREFIX + value.removeprefix(REF_PREFIX)
        elif key not in _DROPPED:
            cleaned[key] = _clean(value)
    return cleaned


def served_resources(client: KubeClient) -> dict[tuple[str, str, str], bool]:
    """(group, version, kind) -> namespaced, for every resource of the cluster (no
    subresources), from aggregated discovery."""
    served: dict[tuple[str, str, str], bool] = {}
    for root in ("/api", "/apis"):
        listing = client.request("GET", root, accept=AGGREGATED)
        for group in listing.get("items", []):
            group_name = (group.get("metadata") or {}).get("name", "")
            for version in group.get("versions", []):
                for resource in version.get("resources", []):
                    kind = (resource.get("responseKind") or {}).get("kind")
                    if kind:
                        key = (group_name, version["version"], kind)
                        served[key] = resource.get("scope") == "Namespaced"
    return served


def fetch_documents(client: KubeClient) -> list[JSON]:
    """Every group-version OpenAPI v3 document the server publishes."""
    index = client.get("/openapi/v3")
    documents = []
    for path in sorted(index.get("paths") or {}):
        if path == "api" or path == "apis" or path.startswith("."):
            continue  # discovery roots and .well-known hold no types
        documents.append(client.get(f"/openapi/v3/{path}"))
    return documents


def from_cluster(client: KubeClient) -> JSON:
    """The compact schemas of a live cluster (built-in kinds, aggregated APIs and CRDs)."""
    return compact(fetch_documents(client), served_resources(client))
