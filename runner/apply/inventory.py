"""Each Kustomization's inventory, kept in the cluster in an ApplySet parent (KEP-3659).

Flux keeps `status.inventory` on its Kustomization object; a push-mode runner has no object
of its own, so the inventory lives in a ConfigMap `gitops-runner-<name>` in the
Kustomization's namespace, labelled and annotated as a KEP-3659 ApplySet parent (so kubectl
and other ApplySet-aware tools recognise it); applied objects carry the
`applyset.kubernetes.io/part-of` label. Entries use Flux's format
(`{id: <ns>_<name>_<group>_<kind>, v: <version>}`) and are gzip-compressed past 256 KiB, so
an inventory of tens of thousands of objects fits in the 1 MiB object limit.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from runner import __version__
from runner.discover.flux import Kustomization
from runner.kube.client import ApiError, KubeClient
from runner.manifest import Manifest, ObjectKey

APPLYSET_ID_LABEL = "applyset.kubernetes.io/id"
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"
REVISION_KEY = "revision"
COMPRESS_ABOVE = 256 * 1024
FIELD_MANAGER = "gitops-runner"


@dataclass
class Inventory:
    """The objects a Kustomization applied (key -> API version), and at which revision."""

    entries: dict[ObjectKey, str] = field(default_factory=dict)
    revision: str = ""
    applied_at: str = ""

    @property
    def keys(self) -> set[ObjectKey]:
        return set(self.entries)


def parent_name(kustomization: Kustomization) -> str:
    return f"gitops-runner-{kustomization.name}"[:253]


def applyset_id(kustomization: Kustomization) -> str:
    """KEP-3659: base64url(sha256(<name>.<namespace>.<kind>.<group>)), unpadded, + -v1."""
    source = f"{parent_name(kustomization)}.{kustomization.namespace}.ConfigMap."
    digest = hashlib.sha256(source.encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"


def _path(kustomization: Kustomization) -> str:
    return (f"/api/v1/namespaces/{kustomization.namespace}/configmaps/"
            f"{parent_name(kustomization)}")


def load(client: KubeClient, kustomization: Kustomization) -> Inventory | None:
    """The stored inventory, or None if this Kustomization was never applied here."""
    return Store(client).load(kustomization)


class Store:
    """The inventories of one cluster, for one run. Reads them with one LIST per namespace
    of Kustomizations (prefetch) rather than a GET each, and remembers which namespaces
    exist, so that writing 40 inventories checks each namespace once rather than 80 times."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._namespaces: set[str] = set()
        self._listed: set[str] = set()  # namespaces whose inventories were prefetched
        self._found: dict[tuple[str, str], Inventory] = {}
        self._written: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def prefetch(self, kustomizations: Iterable[Kustomization], page_size: int = 500,
                 ) -> None:
        for namespace in sorted({ks.namespace for ks in kustomizations}):
            try:
                items = self.client.list_items(f"/api/v1/namespaces/{namespace}/configmaps",
                                               {"labelSelector": APPLYSET_ID_LABEL},
                                               page_size)
            except ApiError as error:
                if error.status != 403:
                    raise
                continue  # may get but not list: load() reads each one
            with self._lock:
                self._listed.add(namespace)
                for item in items:
                    self._namespaces.add(namespace)
                    self._found[(namespace, str(item["metadata"]["name"]))] = decode(item)

    def load(self, kustomization: Kustomization) -> Inventory | None:
        """The stored inventory, or None if this Kustomization was never applied here."""
        key = (kustomization.namespace, parent_name(kustomization))
        with self._lock:
            if kustomization.namespace in self._listed and key not in self._written:
                return self._found.get(key)
        parent = self.client.get_or_none(_path(kustomization))
        if parent is None:
            return None
        with self._lock:
            self._namespaces.add(kustomization.namespace)
        return decode(parent)

    def save(self, kustomization: Kustomization, inventory: Inventory) -> None:
        """Write the inventory (server-side apply of the parent ConfigMap)."""
        with self._lock:
            known = kustomization.namespace in self._namespaces
            # Read again after a write, should anything ask: the cluster has the truth.
            self._written.add((kustomization.namespace, parent_name(kustomization)))
        if not known:
            _ensure_namespace(self.client, kustomization.namespace)
            with self._lock:
                self._namespaces.add(kustomization.namespace)
        self.client.apply(_path(kustomization), encode(kustomization, inventory),
                          FIELD_MANAGER)


def decode(parent: Manifest) -> Inventory:
    data = parent.get("data") or {}
    binary = parent.get("binaryData") or {}
    if "entries.gz" in binary:
        raw = gzip.decompress(base64.b64decode(binary["entries.gz"])).decode()
    else:
        raw = data.get("entries", "[]")
    entries = {ObjectKey.from_flux_id(e["id"]): str(e.get("v", "")) for e in json.loads(raw)}
    return Inventory(entries, data.get(REVISION_KEY, ""), data.get("appliedAt", ""))


def save(client: KubeClient, kustomization: Kustomization, inventory: Inventory) -> None:
    """Write the inventory (server-side apply of the parent ConfigMap)."""
    Store(client).save(kustomization, inventory)


def encode(kustomization: Kustomization, inventory: Inventory) -> Manifest:
    entries = [{"id": key.flux_id, "v": version}
               for key, version in sorted(inventory.entries.items())]
    raw = json.dumps(entries, separators=(",", ":"))
    data: dict[str, str] = {REVISION_KEY: inventory.revision,
                            "appliedAt": inventory.applied_at or _now()}
    parent: Manifest = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": parent_name(kustomization), "namespace": kustomization.namespace,
            "labels": {APPLYSET_ID_LABEL: applyset_id(kustomization),
                       "kustomize.toolkit.fluxcd.io/name": kustomization.name,
                       "kustomize.toolkit.fluxcd.io/namespace": kustomization.namespace},
            "annotations": {
                TOOLING_ANNOTATION: f"gitops-runner/v{__version__}",
                GROUP_KINDS_ANNOTATION: _group_kinds(inventory),
                NAMESPACES_ANNOTATION: _other_namespaces(inventory, kustomization.namespace),
            },
        },
        "data": data,
    }
    if len(raw) > COMPRESS_ABOVE:
        parent["binaryData"] = {"entries.gz": base64.b64encode(gzip.compress(raw.encode()))
                                .decode()}
    else:
        data["entries"] = raw
    return parent


def _group_kinds(inventory: Inventory) -> str:
    return ",".join(sorted({f"{k.kind}.{k.group}" if k.group else k.kind
                            for k in inventory.entries}))


def _other_namespaces(inventory: Inventory, own: str) -> str:
    return ",".join(sorted({k.namespace for k in inventory.entries
                            if k.namespace and k.namespace != own}))


def _ensure_namespace(client: KubeClient, namespace: str) -> None:
    """The parent lives in the Kustomization's namespace, which may not exist on a first run
    (flux bootstrap creates flux-system; here the root Kustomization itself may)."""
    if client.get_or_none(f"/api/v1/namespaces/{namespace}") is not None:
        return
    # A plain create, not an apply with our field manager: an apply of a bare Namespace by
    # the manager that also applies the repository's Namespace would drop its labels.
    try:
        client.request("POST", "/api/v1/namespaces",
                       params={"fieldManager": f"{FIELD_MANAGER}-inventory"},
                       body={"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": namespace}})
    except ApiError as error:
        if error.status != 409:  # created meanwhile by someone else: fine
            raise


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
