"""The order in which Flux applies the objects of one Kustomization (fluxcd/pkg/ssa).

Objects are applied in three stages, each waited on before the next: cluster definitions
(CRDs, Namespaces, ClusterRoles), then kinds whose name ends in `Class`, then everything else.
A custom resource's dry-run fails before its CRD is Established, a namespaced object's before
its Namespace exists, a RoleBinding's before its role. Inside a stage, Flux's kind order;
deletion (pruning) uses the reverse order.
"""

from __future__ import annotations

from collections.abc import Iterable

from runner.manifest import Manifest, ObjectKey

CLUSTER_DEFINITIONS = frozenset({"CustomResourceDefinition", "Namespace", "ClusterRole"})
KIND_ORDER = (
    "CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterClass", "RuntimeClass",
    "PriorityClass", "StorageClass", "VolumeSnapshotClass", "IngressClass", "GatewayClass",
    "ClusterRoleBinding", "ResourceQuota", "ServiceAccount", "Role", "RoleBinding",
    "ConfigMap", "Secret", "Service", "LimitRange", "Deployment", "StatefulSet", "CronJob",
    "PodDisruptionBudget",
)
LAST_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
_OTHER_RANK = len(KIND_ORDER)
_LAST_RANK = {kind: _OTHER_RANK + 1 + i for i, kind in enumerate(LAST_KINDS)}
STAGE_NAMES = ("cluster definitions", "classes", "resources")


def stage_of(kind: str) -> int:
    if kind in CLUSTER_DEFINITIONS:
        return 0
    if kind.endswith("Class"):
        return 1
    return 2


def sort_key(key: ObjectKey) -> tuple[int, int, str, str, str, str]:
    rank = _RANK.get(key.kind, _LAST_RANK.get(key.kind, _OTHER_RANK))
    return stage_of(key.kind), rank, key.group, key.kind, key.namespace, key.name


def in_apply_order(objects: Iterable[Manifest]) -> list[Manifest]:
    return sorted(objects, key=lambda m: sort_key(ObjectKey.of(m)))


def stages(objects: Iterable[Manifest]) -> list[list[Manifest]]:
    """The non-empty stages, each in apply order."""
    grouped: list[list[Manifest]] = [[], [], []]
    for manifest in in_apply_order(objects):
        grouped[stage_of(str(manifest.get("kind", "")))].append(manifest)
    return [stage for stage in grouped if stage]


def in_delete_order(keys: Iterable[ObjectKey]) -> list[ObjectKey]:
    return sorted(keys, key=sort_key, reverse=True)
