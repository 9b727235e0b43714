"""Where schemas come from, and in which order they are looked up.

Order (the first source that knows an apiVersion/kind wins):
1. CRDs found in the input itself (they will be applied before their custom resources);
2. the target cluster with `--kubeconfig` (its OpenAPI v3 and its CRDs), otherwise the
   built-in Kubernetes schemas shipped in `schemas/kubernetes/<version>/`;
3. `--schema-location` directories or URL templates, in kubeconform's template syntax;
4. Flux's own CRDs, shipped in `schemas/flux/`, so Flux objects are checked even when the
   repository does not vendor Flux's CRDs.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from runner.errors import RunnerError
from runner.manifest import group_of, version_of
from runner.validate import crd
from runner.validate.model import JSON, OBJECT_META, KindSchema
from runner.yamlio import load_all

SCHEMAS_ENV = "GITOPS_RUNNER_SCHEMAS"
DEFAULT_KUBERNETES_VERSION = "1.35.4"
KUBECONFORM_LAYOUT = ("/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
                      "/{{ .ResourceKind }}{{ .KindSuffix }}.json")
_TEMPLATE_FIELD = re.compile(r"\{\{-?\s*\.(\w+)\s*-?\}\}")
_TEMPLATE_FIELDS = frozenset({"NormalizedKubernetesVersion", "StrictSuffix", "ResourceKind",
                              "ResourceAPIVersion", "Group", "KindSuffix"})


class SchemaError(RunnerError):
    """Schemas could not be loaded (missing version, bad location, unreadable file)."""


def schemas_root() -> Path:
    """`$GITOPS_RUNNER_SCHEMAS`, else the `schemas/` folder of this checkout."""
    explicit = os.environ.get(SCHEMAS_ENV)
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parents[2] / "schemas"
    if checkout.is_dir():
        return checkout
    # An installed wheel carries them as data files (pyproject.toml [tool.setuptools.data-files]).
    return Path(sys.prefix) / "share" / "gitops-runner" / "schemas"


def normalize_version(version: str) -> str:
    """`v1.35.4`, `1.35.4` -> `1.35.4`; `1.35` stays `1.35` (matched by minor)."""
    return version.strip().removeprefix("v")


# -- built-in kinds -----------------------------------------------------------------------

class BuiltinSchemas:
    """Kinds and definitions in runner.validate.openapi's compact form."""

    def __init__(self, compacted: JSON, source: str, strict: bool) -> None:
        self.source = source
        self.strict = strict
        self._raw: JSON = compacted["definitions"]
        self._prepared: JSON = {}  # prepared on first use: a run meets a few dozen of 600
        self.kinds: dict[tuple[str, str, str], tuple[str, bool]] = {
            (group, version, kind): (definition, namespaced)
            for group, version, kind, definition, namespaced in compacted["kinds"]}
        self._closures: dict[str, JSON] = {}
        self._lock = threading.Lock()

    def closure(self, name: str) -> JSON:
        """`name` and every definition it references, directly or not."""
        with self._lock:
            if name not in self._closures:
                found: JSON = {}
                pending = [name]
                while pending:
                    current = pending.pop()
                    if current in found or current not in self._raw:
                        continue
                    found[current] = self._definition(current)
                    pending.extend(_references(found[current]))
                self._closures[name] = found
            return self._closures[name]

    def _definition(self, name: str) -> JSON:
        prepared: JSON | None = self._prepared.get(name)
        if prepared is None:
            prepared = self._prepared[name] = prepare(self._raw[name], self.strict)
        return prepared

    def get(self, group: str, version: str, kind: str) -> KindSchema | None:
        entry = self.kinds.get((group, version, kind))
        if entry is None:
            return None
        definition, namespaced = entry
        with self._lock:
            top = self._definition(definition)
        schema = {**top, "definitions": self.closure(definition)}
        return KindSchema(group, version, kind, schema, self.source, namespaced=namespaced)


def prepare(schema: Any, strict: bool) -> Any:
    """A definition as validated: null accepted wherever a value is (Kubernetes decodes a
    null field as unset), and in strict mode objects with properties closed."""
    if isinstance(schema, list):
        return [prepare(item, strict) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: (value if key in ("enum", "required", "$ref") else prepare(value, strict))
              for key, value in schema.items() if key != "properties"}
    if "properties" in schema:
        result["properties"] = {name: prepare(value, strict)
                                for name, value in schema["properties"].items()}
    kind = result.get("type")
    if isinstance(kind, str):
        result["type"] = [kind, "null"]
    for combinator in ("oneOf", "anyOf"):
        if combinator in result and "type" not in result:
            result[combinator] = [*result[combinator], {"type": "null"}]
    if ("properties" in result and strict and "additionalProperties" not in result
            and not result.get("x-kubernetes-preserve-unknown-fields")):
        result["additionalProperties"] = False
    return result


def _references(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def shipped_kubernetes_versions() -> list[str]:
    directory = schemas_root() / "kubernetes"
    if not directory.is_dir():
        return []
    return sorted(path.name.removeprefix("v") for path in directory.iterdir()
                  if (path / "kubernetes.json").is_file())


def resolve_kubernetes_version(version: str) -> str:
    """The shipped schema version for `version`: exact, else the same minor release."""
    wanted = normalize_version(version)
    shipped = shipped_kubernetes_versions()
    if wanted in shipped:
        return wanted
    minor = ".".join(wanted.split(".")[:2])
    same_minor = [v for v in shipped if ".".join(v.split(".")[:2]) == minor]
    if same_minor:
        return same_minor[-1]
    raise SchemaError(
        f"no built-in schemas for Kubernetes {version} (shipped: "
        f"{', '.join(shipped) or 'none'} under {schemas_root() / 'kubernetes'})",
        "pick a shipped --kubernetes-version, validate against a cluster with --kubeconfig, "
        "or generate them: python schemas/generate_kubernetes.py --kubeconfig K")


def load_builtin(version: str, strict: bool) -> BuiltinSchemas:
    resolved = resolve_kubernetes_version(version)
    path = schemas_root() / "kubernetes" / f"v{resolved}" / "kubernetes.json"
    return BuiltinSchemas(orjson.loads(path.read_bytes()), f"Kubernetes v{resolved}", strict)


# -- CRD-backed kinds -----------------------------------------------------------------------

@dataclass
class CrdKinds:
    """Kinds defined by CRDs (of the input, of the cluster, or Flux's)."""

    source: str
    kinds: dict[tuple[str, str, str], KindSchema] = field(default_factory=dict)

    def add(self, manifest: JSON, builtin: BuiltinSchemas, source: str | None = None) -> None:
        for kind in crd.kinds_of(manifest, source or self.source, builtin.strict):
            kind.schema["definitions"] = builtin.closure(OBJECT_META)
            self.kinds[(kind.group, kind.version, kind.kind)] = kind

    def get(self, group: str, version: str, kind: str) -> KindSchema | None:
        return self.kinds.get((group, version, kind))


def load_flux(builtin: BuiltinSchemas) -> CrdKinds:
    """Flux's CRDs from the newest `schemas/flux/flux-*.json`."""
    files = sorted((schemas_root() / "flux").glob("flux-*.json"))
    if not files:
        raise SchemaError(f"no Flux schemas under {schemas_root() / 'flux'}",
                          "regenerate them: python schemas/generate_flux.py")
    shipped = orjson.loads(files[-1].read_bytes())
    kinds = CrdKinds(f"Flux {shipped['flux']} CRDs")
    for manifest in shipped["crds"]:
        kinds.add(manifest, builtin)
    return kinds


# -- kubeconform schema locations -----------------------------------------------------------

@dataclass
class SchemaLocation:
    """A `--schema-location`: a directory or a file/URL template, as kubeconform reads it."""

    template: str
    kubernetes_version: str
    strict: bool
    _cache: dict[tuple[str, str], KindSchema | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def parse(cls, location: str, kubernetes_version: str, strict: bool) -> SchemaLocation:
        template = location
        if not template.endswith("json"):
            template = template.rstrip("/") + KUBECONFORM_LAYOUT  # kubeconform's rule
        unknown = set(_TEMPLATE_FIELD.findall(template)) - _TEMPLATE_FIELDS
        if unknown:
            raise SchemaError(f"--schema-location {location}: unknown template field(s) "
                              f"{', '.join(sorted(unknown))}",
                              f"use {', '.join(sorted(_TEMPLATE_FIELDS))}")
        return cls(template, kubernetes_version, strict)

    def path_for(self, kind: str, api_version: str) -> str:
        return render_template(self.template, kind, api_version, self.kubernetes_version,
                               self.strict)

    def get(self, group: str, version: str, kind: str) -> KindSchema | None:
        api_version = f"{group}/{version}" if group else version
        key = (api_version, kind)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._load(group, version, kind)
            return self._cache[key]

    def _load(self, group: str, version: str, kind: str) -> KindSchema | None:
        api_version = f"{group}/{version}" if group else version
        where = self.path_for(kind, api_version)
        raw = _fetch(where)
        if raw is None:
            return None
        try:
            schema = orjson.loads(raw)
        except orjson.JSONDecodeError:
            documents = load_all(raw.decode("utf-8", "replace"), where)
            schema = documents[0] if documents else None
        if not isinstance(schema, dict):
            return None  # kubeconform, too, moves on to the next location
        # kubeconform compiles location schemas as draft 4 unless they say otherwise.
        return KindSchema(group, version, kind, schema, where, namespaced=None, draft=4)


def render_template(template: str, kind: str, api_version: str, kubernetes_version: str,
                    strict: bool) -> str:
    """kubeconform's registry.schemaPath, field for field."""
    normalized = kubernetes_version if kubernetes_version == "master" else (
        "v" + normalize_version(kubernetes_version))
    group_parts = api_version.split("/")
    kind_suffix = "-" + group_parts[0].split(".")[0].lower()
    if len(group_parts) > 1:
        kind_suffix += "-" + group_parts[1].lower()
    values = {
        "NormalizedKubernetesVersion": normalized,
        "StrictSuffix": "-strict" if strict else "",
        "ResourceKind": kind.lower(),
        "ResourceAPIVersion": group_parts[-1],
        "Group": group_parts[0],
        "KindSuffix": kind_suffix,
    }
    return _TEMPLATE_FIELD.sub(lambda match: values[match.group(1)], template)


@functools.cache
def _http() -> Any:
    """One connection pool for schema URLs, made on first use (most runs read no URL, and
    importing urllib3 is a tenth of a small validation's time)."""
    import urllib3

    return urllib3.PoolManager(retries=urllib3.Retry(2, backoff_factor=0.2))


def _fetch(where: str) -> bytes | None:
    """The bytes at a path or URL; None when there is nothing there (404, no such file)."""
    if where.startswith(("http://", "https://")):
        import urllib3

        try:
            response = _http().request("GET", where, timeout=urllib3.Timeout(10, 30))
        except urllib3.exceptions.HTTPError as error:
            raise SchemaError(f"cannot fetch schema {where}: {error}",
                              "check the --schema-location URL and the network") from error
        if response.status == 404:
            return None
        if response.status >= 400:
            raise SchemaError(f"cannot fetch schema {where}: HTTP {response.status}",
                              "check the --schema-location URL")
        return bytes(response.data)
    path = Path(where.removeprefix("file://"))
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise SchemaError(f"cannot read schema {path}: {error}", "check the file") from error


# -- the store ------------------------------------------------------------------------------

@dataclass
class SchemaStore:
    """Every schema source, in lookup order, with a cache of answers."""

    builtin: BuiltinSchemas
    input_crds: CrdKinds
    cluster_crds: CrdKinds | None
    locations: list[SchemaLocation]
    flux: CrdKinds
    _cache: dict[tuple[str, str], KindSchema | None] = field(default_factory=dict)

    def sources(self) -> list[Any]:
        primary = [self.cluster_crds] if self.cluster_crds is not None else []
        return [self.input_crds, *primary, self.builtin, *self.locations, self.flux]

    def lookup(self, api_version: str, kind: str) -> KindSchema | None:
        key = (api_version, kind)
        if key not in self._cache:
            group, version = group_of(api_version), version_of(api_version)
            found = None
            for source in self.sources():
                found = source.get(group, version, kind)
                if found is not None:
                    break
            self._cache[key] = found
        return self._cache[key]

    def versions_of(self, group: str, kind: str) -> list[KindSchema]:
        """Served versions of group/kind known to the offline sources (for 'use X instead')."""
        found = []
        for source in (self.input_crds, self.cluster_crds, self.flux):
            if source is not None:
                found += [k for (g, _, n), k in source.kinds.items()
                          if g == group and n == kind and k.served]
        for (g, version, name) in self.builtin.kinds:
            if g == group and name == kind:
                schema = self.builtin.get(g, version, name)
                if schema is not None:
                    found.append(schema)
        return found
