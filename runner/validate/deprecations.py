"""Kubernetes APIs that were deprecated or removed, and what replaces them.

From the Kubernetes deprecated API migration guide. Used when an object's apiVersion is not
served by the target version (removed: an error naming the replacement) or is served but
deprecated (a warning). CRD versions say so themselves (`deprecated`, `served`); see
runner.validate.engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.validate.schemas import normalize_version


@dataclass(frozen=True)
class Deprecation:
    deprecated_in: str
    removed_in: str  # "" when not removed yet
    replacement: str  # apiVersion (and kind, when it changes), or advice

    def removed_by(self, target: str) -> bool:
        return bool(self.removed_in) and _minor(target) >= _minor(self.removed_in)

    def deprecated_by(self, target: str) -> bool:
        return _minor(target) >= _minor(self.deprecated_in)


def _minor(version: str) -> tuple[int, int]:
    parts = normalize_version(version).split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def _table() -> dict[tuple[str, str], Deprecation]:
    rows: list[tuple[str, tuple[str, ...], str, str, str]] = [
        # (apiVersion, kinds, deprecated in, removed in, replacement)
        ("extensions/v1beta1", ("Deployment", "DaemonSet", "ReplicaSet"), "1.9", "1.16",
         "apps/v1"),
        ("apps/v1beta1", ("Deployment", "StatefulSet", "ReplicaSet", "ControllerRevision"),
         "1.9", "1.16", "apps/v1"),
        ("apps/v1beta2", ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                          "ControllerRevision"), "1.9", "1.16", "apps/v1"),
        ("extensions/v1beta1", ("NetworkPolicy",), "1.9", "1.16", "networking.k8s.io/v1"),
        ("extensions/v1beta1", ("PodSecurityPolicy",), "1.11", "1.16",
         "none: PodSecurityPolicy was removed; use Pod Security Admission"),
        ("extensions/v1beta1", ("Ingress",), "1.14", "1.22", "networking.k8s.io/v1"),
        ("networking.k8s.io/v1beta1", ("Ingress", "IngressClass"), "1.19", "1.22",
         "networking.k8s.io/v1"),
        ("admissionregistration.k8s.io/v1beta1", ("MutatingWebhookConfiguration",
                                                  "ValidatingWebhookConfiguration"),
         "1.16", "1.22", "admissionregistration.k8s.io/v1"),
        ("apiextensions.k8s.io/v1beta1", ("CustomResourceDefinition",), "1.16", "1.22",
         "apiextensions.k8s.io/v1"),
        ("apiregistration.k8s.io/v1beta1", ("APIService",), "1.19", "1.22",
         "apiregistration.k8s.io/v1"),
        ("authentication.k8s.io/v1beta1", ("TokenReview",), "1.19", "1.22",
         "authentication.k8s.io/v1"),
        ("authorization.k8s.io/v1beta1", ("SubjectAccessReview", "LocalSubjectAccessReview",
                                          "SelfSubjectAccessReview"), "1.19", "1.22",
         "authorization.k8s.io/v1"),
        ("certificates.k8s.io/v1beta1", ("CertificateSigningRequest",), "1.19", "1.22",
         "certificates.k8s.io/v1"),
        ("coordination.k8s.io/v1beta1", ("Lease",), "1.19", "1.22", "coordination.k8s.io/v1"),
        ("rbac.authorization.k8s.io/v1beta1", ("ClusterRole", "ClusterRoleBinding", "Role",
                                               "RoleBinding"), "1.17", "1.22",
         "rbac.authorization.k8s.io/v1"),
        ("scheduling.k8s.io/v1beta1", ("PriorityClass",), "1.14", "1.22",
         "scheduling.k8s.io/v1"),
        ("storage.k8s.io/v1beta1", ("CSIDriver", "CSINode", "StorageClass",
                                    "VolumeAttachment"), "1.19", "1.22", "storage.k8s.io/v1"),
        ("batch/v1beta1", ("CronJob",), "1.21", "1.25", "batch/v1"),
        ("discovery.k8s.io/v1beta1", ("EndpointSlice",), "1.21", "1.25", "discovery.k8s.io/v1"),
        ("events.k8s.io/v1beta1", ("Event",), "1.19", "1.25", "events.k8s.io/v1"),
        ("autoscaling/v2beta1", ("HorizontalPodAutoscaler",), "1.22", "1.25", "autoscaling/v2"),
        ("policy/v1beta1", ("PodDisruptionBudget",), "1.21", "1.25", "policy/v1"),
        ("policy/v1beta1", ("PodSecurityPolicy",), "1.21", "1.25",
         "none: PodSecurityPolicy was removed; use Pod Security Admission"),
        ("node.k8s.io/v1beta1", ("RuntimeClass",), "1.20", "1.25", "node.k8s.io/v1"),
        ("flowcontrol.apiserver.k8s.io/v1beta1", ("FlowSchema", "PriorityLevelConfiguration"),
         "1.23", "1.26", "flowcontrol.apiserver.k8s.io/v1"),
        ("autoscaling/v2beta2", ("HorizontalPodAutoscaler",), "1.23", "1.26", "autoscaling/v2"),
        ("storage.k8s.io/v1beta1", ("CSIStorageCapacity",), "1.24", "1.27", "storage.k8s.io/v1"),
        ("flowcontrol.apiserver.k8s.io/v1beta2", ("FlowSchema", "PriorityLevelConfiguration"),
         "1.26", "1.29", "flowcontrol.apiserver.k8s.io/v1"),
        ("flowcontrol.apiserver.k8s.io/v1beta3", ("FlowSchema", "PriorityLevelConfiguration"),
         "1.29", "1.32", "flowcontrol.apiserver.k8s.io/v1"),
        # Served but deprecated kinds.
        ("v1", ("ComponentStatus",), "1.19", "", "none: read component health from /livez "
                                                 "and /readyz"),
        ("v1", ("Endpoints",), "1.33", "", "discovery.k8s.io/v1 EndpointSlice"),
    ]
    return {(api_version, kind): Deprecation(deprecated, removed, replacement)
            for api_version, kinds, deprecated, removed, replacement in rows for kind in kinds}


TABLE = _table()


def lookup(api_version: str, kind: str) -> Deprecation | None:
    return TABLE.get((api_version, kind))
