"""What the validate stage knows about one kind, and what it reports.

Every schema source (built-in Kubernetes, a CRD of the render, the target cluster, Flux's
CRDs, a kubeconform-style schema location) produces `KindSchema`s; every check produces
`Finding`s. Keeping both in one small module lets the sources and the checks stay
independent of each other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from runner.manifest import ObjectKey

JSON = dict[str, Any]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@dataclass(frozen=True)
class CelRule:
    """One `x-kubernetes-validations` rule and where in the object it applies.

    `path` is a list of property names, `*` for every item of a list and `~` for every
    value of a map (additionalProperties), starting at the object's root.
    """

    rule: str
    path: tuple[str, ...]
    message: str = ""
    field_path: str = ""


@dataclass
class KindSchema:
    """The schema of one apiVersion/kind and facts about the kind."""

    group: str
    version: str
    kind: str
    schema: JSON
    source: str
    namespaced: bool | None = None  # None: unknown (a schema location does not say)
    draft: int = 7
    cel_rules: list[CelRule] = field(default_factory=list)
    deprecated: str = ""  # the CRD's deprecation warning, when the version is deprecated
    served: bool = True
    _validator: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def validator(self) -> Any:
        """The compiled jsonschema-rs validator, built on first use (compiling every schema
        up front would cost more than validating a small repository)."""
        if self._validator is None:
            with self._lock:
                if self._validator is None:
                    self._validator = compile_schema(self.schema, self.draft)
        return self._validator


def compile_schema(schema: JSON, draft: int = 7) -> Any:
    # Formats are not asserted: Kubernetes' built-in types never check them (the Go types
    # decode the value), and asserting `date-time` or `byte` gave false alarms.
    if "$schema" in schema:
        return jsonschema_rs.validator_for(schema, validate_formats=False)
    if draft == 4:
        return jsonschema_rs.Draft4Validator(schema, validate_formats=False)
    return jsonschema_rs.Draft7Validator(schema, validate_formats=False)


SEVERITIES = ("error", "warning")


@dataclass
class Finding:
    """One problem with one rendered object (or with the input as a whole)."""

    rule: str  # a stable identifier, e.g. `schema`, `duplicate-object`, `namespace-missing`
    message: str
    severity: str = "error"
    object: str = ""  # Kind/namespace/name, as runner.manifest.ObjectKey prints it
    kustomization: str = ""  # namespace/name of the Flux Kustomization that rendered it
    file: str = ""  # repository-relative (or as given) path of the source file
    line: int = 0
    path: str = ""  # JSON pointer of the offending field, e.g. /spec/replicas
    hint: str = ""

    def as_dict(self) -> JSON:
        return {k: v for k, v in self.__dict__.items() if v not in ("", 0, None)} | {
            "severity": self.severity, "rule": self.rule, "message": self.message}


@dataclass
class ObjectResult:
    """The verdict on one rendered object, and what the cross-object rules need of it."""

    object: str  # Kind/namespace/name, the namespace defaulted for namespaced kinds
    status: str  # valid, invalid, skipped
    file: str = ""
    line: int = 0
    kustomization: str = ""
    findings: list[Finding] = field(default_factory=list)
    key: ObjectKey | None = None  # None when the document has no kind
    namespaced: bool | None = None  # None: unknown (no schema says)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Workers send tens of thousands of these: plain tuples pickle about 10x faster
        # than dataclass state dicts.
        key = self.key
        fields = (key.group, key.kind, key.namespace, key.name) if key is not None else None
        return _object_result, (self.object, self.status, self.file, self.line,
                                self.kustomization, self.findings, fields, self.namespaced)


def _object_result(name: str, status: str, file: str, line: int, kustomization: str,
                   findings: list[Finding], key: tuple[str, str, str, str] | None,
                   namespaced: bool | None) -> ObjectResult:
    return ObjectResult(name, status, file, line, kustomization, findings,
                        ObjectKey(*key) if key is not None else None, namespaced)
