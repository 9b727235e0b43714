"""Flux's own objects, read from rendered manifests: Kustomizations and their sources.

`kustomize.toolkit.fluxcd.io/v1` is the model; `v1beta2` objects are read as v1 (their extra
fields `patchesStrategicMerge` / `patchesJson6902` are kept, as kustomize-controller still
honours them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from runner.errors import RunnerError
from runner.manifest import Manifest, ObjectKey, group_of

KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
DEFAULT_NAMESPACE = "default"
DEFAULT_TIMEOUT_SECONDS = 300.0  # Flux: spec.timeout defaults to spec.interval, typically 5m+
LEGACY_FIELDS = ("patchesStrategicMerge", "patchesJson6902")
SOURCE_KINDS = frozenset({"GitRepository", "OCIRepository", "Bucket", "HelmRepository",
                          "HelmChart", "ExternalArtifact"})


class FluxObjectError(RunnerError):
    """A Flux object in the repository is malformed."""


@dataclass(frozen=True, order=True)
class NamespacedName:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class SourceRef:
    kind: str
    name: str
    namespace: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class SubstituteFrom:
    kind: str  # ConfigMap or Secret
    name: str
    optional: bool = False


@dataclass(frozen=True)
class HealthCheck:
    api_version: str
    kind: str
    name: str
    namespace: str

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(group_of(self.api_version), self.kind, self.namespace, self.name)


@dataclass
class Kustomization:
    """A Flux Kustomization: where to build from, how, and how to apply the result."""

    name: str
    namespace: str
    path: str
    source_ref: SourceRef
    manifest: Manifest
    depends_on: list[NamespacedName] = field(default_factory=list)
    prune: bool = False
    wait: bool = False
    suspend: bool = False
    force: bool = False
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    target_namespace: str | None = None
    health_checks: list[HealthCheck] = field(default_factory=list)
    substitute: dict[str, str] = field(default_factory=dict)
    substitute_from: list[SubstituteFrom] = field(default_factory=list)
    has_post_build: bool = False
    substitute_always: bool = False
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    defined_by: str = ""  # the Kustomization (ns/name) whose render contained this one
    parent: NamespacedName | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def id(self) -> NamespacedName:
        return NamespacedName(self.namespace, self.name)

    @property
    def requires(self) -> list[NamespacedName]:
        """dependsOn plus the parent that creates this Kustomization: in Flux a Kustomization
        exists only once its parent applied it, so it never runs before the parent."""
        parent = [self.parent] if self.parent and self.parent not in self.depends_on else []
        return [*self.depends_on, *parent]

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.manifest.get("spec") or {}
        return spec

    def __str__(self) -> str:
        return f"Kustomization/{self.namespace}/{self.name}"


def is_kustomization(manifest: Manifest) -> bool:
    return (manifest.get("kind") == "Kustomization"
            and group_of(str(manifest.get("apiVersion", ""))) == KUSTOMIZE_GROUP)


def is_source(manifest: Manifest) -> bool:
    return (manifest.get("kind") in SOURCE_KINDS
            and group_of(str(manifest.get("apiVersion", ""))) == SOURCE_GROUP)


def is_flux_instruction(manifest: Manifest) -> bool:
    """Objects the runner interprets instead of applying (unless asked to apply them too)."""
    return is_kustomization(manifest) or is_source(manifest)


def parse_kustomization(manifest: Manifest, default_namespace: str = DEFAULT_NAMESPACE,
                        defined_by: str = "") -> Kustomization:
    metadata = manifest.get("metadata") or {}
    name = str(metadata.get("name") or "")
    namespace = str(metadata.get("namespace") or default_namespace)
    where = f"Kustomization/{namespace}/{name}" + (f" (from {defined_by})" if defined_by else "")
    spec = manifest.get("spec")
    if not name or not isinstance(spec, dict):
        raise FluxObjectError(f"{where} has no metadata.name or no spec",
                              "every Flux Kustomization needs metadata.name and spec")
    source = spec.get("sourceRef") or {}
    if not source.get("kind") or not source.get("name"):
        raise FluxObjectError(f"{where} has no spec.sourceRef",
                              "set spec.sourceRef.kind and .name (e.g. GitRepository flux-system)")
    post_build = spec.get("postBuild") or {}
    common = spec.get("commonMetadata") or {}
    return Kustomization(
        name=name,
        namespace=namespace,
        path=str(spec.get("path") or "./"),
        source_ref=SourceRef(str(source["kind"]), str(source["name"]),
                             str(source.get("namespace") or namespace)),
        manifest=manifest,
        depends_on=[NamespacedName(str(d.get("namespace") or namespace), str(d["name"]))
                    for d in spec.get("dependsOn") or [] if d.get("name")],
        prune=bool(spec.get("prune", False)),
        wait=bool(spec.get("wait", False)),
        suspend=bool(spec.get("suspend", False)),
        force=bool(spec.get("force", False)),
        timeout_seconds=_timeout_seconds(spec, where),
        target_namespace=spec.get("targetNamespace") or None,
        health_checks=[_health_check(h, namespace) for h in spec.get("healthChecks") or []],
        substitute={str(k): str(v) for k, v in (post_build.get("substitute") or {}).items()},
        substitute_from=[SubstituteFrom(str(s.get("kind")), str(s.get("name")),
                                        bool(s.get("optional", False)))
                         for s in post_build.get("substituteFrom") or []],
        has_post_build="postBuild" in spec and spec["postBuild"] is not None,
        substitute_always=spec.get("substituteStrategy") == "Always"
        or post_build.get("substituteStrategy") == "Always",
        common_labels={str(k): str(v) for k, v in (common.get("labels") or {}).items()},
        common_annotations={str(k): str(v)
                            for k, v in (common.get("annotations") or {}).items()},
        defined_by=defined_by,
        warnings=[f"{where}: spec.{name} is ignored: Flux 2 reads Kustomizations as v1, "
                  "which has no such field; move the patches to spec.patches"
                  for name in LEGACY_FIELDS if spec.get(name)],
    )


def _health_check(entry: dict[str, Any], default_namespace: str) -> HealthCheck:
    return HealthCheck(str(entry.get("apiVersion", "")), str(entry.get("kind", "")),
                       str(entry.get("name", "")),
                       str(entry.get("namespace") or default_namespace))


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Go duration strings as Flux writes them (`5m`, `1h30m`, `90s`) -> seconds."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _timeout_seconds(spec: dict[str, Any], where: str) -> float:
    # Flux: timeout defaults to the interval.
    text = spec.get("timeout") or spec.get("interval")
    if not text:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        return parse_duration(str(text))
    except ValueError as error:
        raise FluxObjectError(f"{where}: spec.timeout/interval {text!r} is not a duration",
                              "use Go duration syntax such as 5m or 1h30m") from error
