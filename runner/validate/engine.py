"""The validate stage: every object of a render (or of plain files) checked against its
schema, CEL rules, API deprecations and the cross-object rules.

Objects are checked in parallel worker processes (one per core) forked after the schemas are
loaded, so each worker starts with them; in file mode each worker also parses its own files,
which is where most of the time goes. Workers send back one small result per object; the
cross-object rules (duplicates, namespaces) run on those in the parent.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError
from runner.manifest import Manifest, ObjectKey, group_of, version_of
from runner.validate import cel, crd, deprecations, rules, schemas
from runner.validate.locate import Origin, SourceIndex
from runner.validate.model import Finding, KindSchema, ObjectResult
from runner.validate.schemas import SchemaStore
from runner.yamlfast import parse
from runner.yamlio import YamlError

if TYPE_CHECKING:  # rendering is not imported for plain files (start-up time)
    from runner.render.repository import RepositoryRender

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
PARALLEL_THRESHOLD = 2000  # objects (or files x 20) below which forking costs more than it saves


@dataclass
class Options:
    kubernetes_version: str = schemas.DEFAULT_KUBERNETES_VERSION
    strict: bool = True
    skip: frozenset[str] = frozenset()
    reject: frozenset[str] = frozenset()
    ignore_missing_schemas: bool = False
    schema_locations: tuple[str, ...] = ()
    kubeconfig: str | None = None
    context: str | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass
class Result:
    objects: list[ObjectResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # not tied to one object
    files: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    slow_documents: int = 0

    def all_findings(self) -> list[Finding]:
        return [*self.findings, *(f for o in self.objects for f in o.findings)]

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.all_findings())

    def counts(self) -> dict[str, int]:
        statuses = [o.status for o in self.objects]
        findings = self.all_findings()
        return {"resources": len(self.objects), "files": self.files,
                "valid": statuses.count("valid"), "invalid": statuses.count("invalid"),
                "skipped": statuses.count("skipped"),
                "errors": sum(f.severity == "error" for f in findings),
                "warnings": sum(f.severity == "warning" for f in findings)}


# -- building the schema store ----------------------------------------------------------------

@dataclass
class Context:
    """Everything a worker needs: schemas, options, known namespaces, sources for lines."""

    store: SchemaStore
    options: Options
    cluster_namespaces: set[str] = field(default_factory=set)
    index: SourceIndex = field(default_factory=SourceIndex)
    kinds: dict[tuple[str, str], KindVerdict] = field(default_factory=dict)


def build_context(options: Options, input_crds: Iterable[tuple[Manifest, str]]) -> Context:
    cluster_namespaces: set[str] = set()
    cluster_crds = None
    if options.kubeconfig:
        builtin, cluster_crds, cluster_namespaces = _cluster_schemas(options)
    else:
        builtin = schemas.load_builtin(options.kubernetes_version, options.strict)
    found = schemas.CrdKinds("CRD in the input")
    for manifest, where in input_crds:
        try:
            found.add(manifest, builtin, f"CRD {manifest['metadata']['name']} ({where})")
        except (crd.CrdError, KeyError, TypeError) as error:
            raise RunnerError(f"{where}: cannot read CustomResourceDefinition: {error}",
                              "fix the CRD") from error
    locations = [schemas.SchemaLocation.parse(location, options.kubernetes_version,
                                              options.strict)
                 for location in options.schema_locations if location != "default"]
    store = SchemaStore(builtin, found, cluster_crds, locations, schemas.load_flux(builtin))
    return Context(store, options, cluster_namespaces)


def _cluster_schemas(options: Options,
                     ) -> tuple[schemas.BuiltinSchemas, schemas.CrdKinds, set[str]]:
    """Built-in kinds from the cluster's OpenAPI v3, custom kinds from its CRD objects."""
    from runner.kube import config
    from runner.kube.client import KubeClient
    from runner.validate import openapi

    client = KubeClient(config.load(options.kubeconfig, options.context))
    try:
        compacted = openapi.from_cluster(client)
        crds = client.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        namespaces = client.get("/api/v1/namespaces")
        server = str(client.get("/version").get("gitVersion", "")).split("+")[0]
    finally:
        client.close()
    custom = {(c["spec"]["group"], c["spec"]["names"]["kind"]) for c in crds.get("items", [])}
    compacted["kinds"] = [row for row in compacted["kinds"] if (row[0], row[2]) not in custom]
    builtin = schemas.BuiltinSchemas(compacted, f"cluster {server}", options.strict)
    cluster_crds = schemas.CrdKinds("CRD in the cluster")
    for manifest in crds.get("items", []):
        cluster_crds.add(manifest, builtin)
    names = {str(n["metadata"]["name"]) for n in namespaces.get("items", [])}
    if server:
        options.kubernetes_version = server
    return builtin, cluster_crds, names


# -- one object -----------------------------------------------------------------------------

@dataclass
class KindVerdict:
    """What every object of one apiVersion/kind gets, whatever its content: worked out once
    per kind (a large input has thousands of objects of a handful of kinds)."""

    status: str | None  # "skipped" or "invalid" by kind alone; None: check each object
    findings: list[Finding]  # reported for every object of the kind
    schema: KindSchema | None = None  # the served schema to check objects against
    namespaced: bool | None = None
    group: str = ""


def check_manifest(manifest: Any, context: Context) -> tuple[str, list[Finding], bool | None]:
    """(status, findings, namespaced) of one document."""
    if not isinstance(manifest, dict):
        return "invalid", [Finding("not-an-object", "the document is not a mapping "
                                   f"(it is a {type(manifest).__name__})")], None
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version \
            or not kind:
        return "invalid", [Finding("missing-type", "the object has no apiVersion or kind",
                                   hint="every Kubernetes object needs apiVersion and kind")], None
    verdict = context.kinds.get((api_version, kind))
    if verdict is None:
        verdict = context.kinds[api_version, kind] = _kind_verdict(api_version, kind, context)
    if verdict.status is not None:
        return verdict.status, [replace(f) for f in verdict.findings], None
    findings = _schema_findings(manifest, verdict.schema) if verdict.schema is not None else []
    findings += [replace(f) for f in verdict.findings]  # copies: callers fill in the object
    findings += _name_findings(manifest, verdict.group, kind)
    status = "invalid" if any(f.severity == "error" for f in findings) else "valid"
    return status, findings, verdict.namespaced


def _kind_verdict(api_version: str, kind: str, context: Context) -> KindVerdict:
    options = context.options
    signature = f"{api_version}/{kind}"
    if kind in options.skip or signature in options.skip:
        return KindVerdict("skipped", [])
    if kind in options.reject or signature in options.reject:
        return KindVerdict("invalid", [Finding("rejected-kind",
                                               f"kind {kind} is not allowed (--reject)")])
    schema = context.store.lookup(api_version, kind)
    group = group_of(api_version)
    namespaced = schema.namespaced if schema is not None else None
    if schema is not None and schema.served:
        return KindVerdict(None, _deprecation_warnings(api_version, kind, schema, context),
                           schema, namespaced, group)
    problem = _unknown_api(api_version, kind, schema, context)
    if problem is None:
        if options.ignore_missing_schemas:
            return KindVerdict("skipped", [])
        problem = Finding("schema-missing", f"no schema for {kind} in {api_version}",
                          hint="add the CRD to the input, pass --schema-location, or "
                               "--ignore-missing-schemas / --skip the kind")
    return KindVerdict(None, [problem], None, namespaced, group)


def _schema_findings(manifest: Manifest, schema: KindSchema) -> list[Finding]:
    validator = schema.validator()
    findings = []
    if not validator.is_valid(manifest):
        for error in validator.iter_errors(manifest):
            pointer = "/" + "/".join(str(part) for part in error.instance_path)
            unexpected = _unexpected_field(error.message)
            if unexpected:
                pointer = pointer.rstrip("/") + "/" + unexpected
            findings.append(Finding("schema", f"{pointer}: {error.message}", path=pointer,
                                    hint=f"schema: {schema.source}"))
    if schema.cel_rules:
        findings += cel.check(manifest, schema.cel_rules)
    return findings


def _unexpected_field(message: str) -> str:
    marker = "('"
    if "Additional properties are not allowed" in message and marker in message:
        return message.split(marker, 1)[1].split("'", 1)[0]
    return ""


def _unknown_api(api_version: str, kind: str, schema: KindSchema | None,
                 context: Context) -> Finding | None:
    """A removed or unserved apiVersion, with what to use instead; None if simply unknown."""
    group = group_of(api_version)
    served = [k for k in context.store.versions_of(group, kind) if k.version != version_of(
        api_version)]
    instead = ", ".join(sorted({k.api_version for k in served}))
    known = deprecations.lookup(api_version, kind)
    target = context.options.kubernetes_version
    if known is not None and known.removed_by(target):
        return Finding("api-removed", f"{api_version} {kind} was removed in Kubernetes "
                       f"{known.removed_in} (target {target})",
                       hint=f"use {known.replacement}")
    if schema is not None or served:
        return Finding("api-removed", f"{api_version} {kind} is not served"
                       + (f" by {schema.source}" if schema is not None else ""),
                       hint=f"use {instead}" if instead else "use a served version")
    return None


def _deprecation_warnings(api_version: str, kind: str, schema: KindSchema,
                          context: Context) -> list[Finding]:
    if schema.deprecated:
        return [Finding("api-deprecated", schema.deprecated, severity="warning")]
    known = deprecations.lookup(api_version, kind)
    if known is not None and known.deprecated_by(context.options.kubernetes_version):
        return [Finding("api-deprecated", f"{api_version} {kind} is deprecated since "
                        f"Kubernetes {known.deprecated_in}"
                        + (f" and removed in {known.removed_in}" if known.removed_in else ""),
                        severity="warning", hint=f"use {known.replacement}")]
    return []


def _name_findings(manifest: Manifest, group: str, kind: str) -> list[Finding]:
    name = (manifest.get("metadata") or {}).get("name") if isinstance(
        manifest.get("metadata"), dict) else None
    if not isinstance(name, str) or not name:
        return [Finding("name", "metadata.name is missing", path="/metadata",
                        hint="every object needs a name")]
    problem = rules.name_problem(group, kind, name)
    if problem:
        return [Finding("name", f"metadata.name {problem}", path="/metadata/name",
                        hint="rename the object; the API server would refuse it")]
    return []


# -- many objects ----------------------------------------------------------------------------

@dataclass
class Item:
    """One object to check and where it came from."""

    manifest: Any
    file: str = ""
    line: int = 0
    kustomization: str = ""
    origin: Origin | None = None


def check_item(item: Item, context: Context) -> ObjectResult:
    status, findings, namespaced = check_manifest(item.manifest, context)
    manifest = item.manifest if isinstance(item.manifest, dict) else {}
    key = ObjectKey.of(manifest)
    raw_namespace = key.namespace
    if namespaced and not key.namespace:
        key = ObjectKey(key.group, key.kind, rules.DEFAULT_NAMESPACE, key.name)
    result = ObjectResult(str(key), status, item.file, item.line, item.kustomization,
                          key=key if key.kind else None, namespaced=namespaced)
    if result.key is not None and status != "skipped":
        findings += rules.scope_findings(result, raw_namespace)
    for finding in findings:
        finding.object = finding.object or result.object
        finding.kustomization = finding.kustomization or item.kustomization
        finding.file = finding.file or item.file
        if not finding.line:
            finding.line = (context.index.line_of(item.origin, finding.path)
                            if item.origin is not None and finding.path else item.line)
    if any(f.severity == "error" for f in findings):
        result.status = "invalid"
    result.findings = findings
    return result


_CONTEXT: Context | None = None
_ITEMS: Sequence[Item] = ()
_FILES: Sequence[tuple[Path, str]] = ()


def _check_range(bounds: tuple[int, int]) -> list[ObjectResult]:
    assert _CONTEXT is not None
    return [check_item(item, _CONTEXT) for item in _ITEMS[bounds[0]:bounds[1]]]


def _check_files(indices: list[int]) -> FileBatch:
    assert _CONTEXT is not None
    batch = FileBatch()
    for index in indices:
        path, display = _FILES[index]
        batch.add(_check_one_file(path, display, _CONTEXT))
    return batch


@dataclass
class FileBatch:
    objects: list[ObjectResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    parse_seconds: float = 0.0
    check_seconds: float = 0.0
    slow_documents: int = 0

    def add(self, batch: FileBatch) -> None:
        self.objects += batch.objects
        self.findings += batch.findings
        self.parse_seconds += batch.parse_seconds
        self.check_seconds += batch.check_seconds
        self.slow_documents += batch.slow_documents


def _check_one_file(path: Path, display: str, context: Context) -> FileBatch:
    batch = FileBatch()
    started = time.perf_counter()
    try:
        text = sys.stdin.read() if display == "<stdin>" else path.read_text(encoding="utf-8")
        parsed = parse(text, display)
    except (OSError, UnicodeDecodeError) as error:
        batch.findings.append(Finding("unreadable", f"cannot read {display}: {error}",
                                      file=display))
        return batch
    except YamlError as error:
        batch.findings.append(Finding("yaml", error.message, file=display,
                                      line=_line_of_error(error.message), hint=error.hint))
        return batch
    batch.parse_seconds = time.perf_counter() - started
    batch.slow_documents = parsed.slow_documents
    started = time.perf_counter()
    if context.options.strict:
        batch.findings += [Finding("duplicate-key", f"mapping key {d.key!r} is defined twice",
                                   file=display, line=d.line,
                                   hint="remove one: Kubernetes' strict decoding refuses "
                                        "duplicate keys, others keep the last silently")
                           for d in parsed.duplicates]
    index = SourceIndex()
    index.add_text(path, text)
    local = Context(context.store, context.options, context.cluster_namespaces, index,
                    context.kinds)
    for line, document in parsed.documents:
        for manifest in _expand_lists(document):
            item = Item(manifest, display, line, origin=Origin(path, line))
            batch.objects.append(check_item(item, local))
    batch.check_seconds = time.perf_counter() - started
    return batch


def _line_of_error(message: str) -> int:
    """YamlError messages start with `file:line:col:`; take the line."""
    parts = message.split(":")
    for part in parts[1:3]:
        if part.strip().isdigit():
            return int(part)
    return 0


def _expand_lists(document: Any) -> list[Any]:
    """`kind: List` documents (kubectl's output) are validated item by item, as kubeconform."""
    if isinstance(document, dict) and document.get("kind") == "List" and isinstance(
            document.get("items"), list):
        return list(document["items"])
    return [document]


def _pool_map(function: Callable[[Any], Any], chunks: list[Any], workers: int) -> list[Any]:
    if workers <= 1 or len(chunks) <= 1:
        return [function(chunk) for chunk in chunks]
    import multiprocessing  # only for large inputs: small ones start faster without it

    fork = multiprocessing.get_context("fork")
    with fork.Pool(workers) as pool:
        return list(pool.imap(function, chunks))


# -- entry points ----------------------------------------------------------------------------

def validate_files(paths: Sequence[str], options: Options) -> Result:
    """Validate plain manifest files, directories (recursively) or `-` (stdin)."""
    global _CONTEXT, _FILES
    started = time.perf_counter()
    files = expand_paths(paths)
    context = build_context(options, _crds_in_files(files))
    load_seconds = time.perf_counter() - started
    _CONTEXT, _FILES = context, files
    workers = options.workers if len(files) * 20 >= PARALLEL_THRESHOLD else 1
    if any(display == "<stdin>" for _, display in files):
        workers = 1
    per_worker = max(1, min(64, len(files) // (workers * 8) or 1))
    chunks = [list(range(i, min(i + per_worker, len(files))))
              for i in range(0, len(files), per_worker)]
    try:
        batches = _pool_map(_check_files, chunks, workers)
    finally:
        _CONTEXT, _FILES = None, ()
    total = FileBatch()
    for batch in batches:
        total.add(batch)
    result = Result(files=len(files), slow_documents=total.slow_documents)
    result.objects = total.objects
    result.findings = total.findings
    _cross_object(result, context,
                  namespace_severity="error" if options.kubeconfig else "warning")
    result.seconds = {"schemas": load_seconds, "parse": total.parse_seconds,
                      "check": total.check_seconds,
                      "total": time.perf_counter() - started}
    return result


def expand_paths(paths: Sequence[str]) -> list[tuple[Path, str]]:
    files: list[tuple[Path, str]] = []
    for given in paths:
        if given == "-":
            files.append((Path("-"), "<stdin>"))
            continue
        path = Path(given)
        if path.is_dir():
            files += [(p, str(p)) for p in sorted(path.rglob("*"))
                      if p.suffix in MANIFEST_SUFFIXES and p.is_file()]
        elif path.is_file():
            files.append((path, given))
        else:
            raise RunnerError(f"-f {given}: no such file or directory",
                              "give manifest files, directories or - for stdin")
    return files


def _crds_in_files(files: Sequence[tuple[Path, str]]) -> list[tuple[Manifest, str]]:
    """CRDs must be known before their custom resources, wherever they are: read the files
    that mention CustomResourceDefinition first (a text search, so cheap)."""
    found = []
    for path, display in files:
        if display == "<stdin>":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "CustomResourceDefinition" not in text:
            continue
        try:
            documents = parse(text, display).documents
        except YamlError:
            continue
        found += [(doc, f"{display}:{line}") for line, doc in documents
                  if isinstance(doc, dict) and crd.is_crd(doc)]
    return found


def validate_render(render: RepositoryRender, options: Options) -> Result:
    """Validate every object of a repository render, with its Kustomization and source."""
    global _CONTEXT, _ITEMS
    started = time.perf_counter()
    root = render.repository_root
    items: list[Item] = []
    crds: list[tuple[Manifest, str]] = []
    result = Result()
    context_index = SourceIndex()
    parse_seconds = _index_inputs(render, context_index, result, options.strict)
    for ks_id, rendered in render.kustomizations.items():
        spec = rendered.kustomization.manifest.get("spec") or {}
        candidates = set(rendered.inputs)
        for manifest in rendered.objects:
            origin = context_index.find(manifest, str(spec.get("namePrefix") or ""),
                                        str(spec.get("nameSuffix") or ""), candidates)
            display = _relative(origin.file, root) if origin else ""
            items.append(Item(manifest, display, origin.line if origin else 0, str(ks_id),
                              origin))
            if crd.is_crd(manifest):
                crds.append((manifest, f"Kustomization {ks_id}"))
    context = build_context(options, crds)
    context.index = context_index
    # The namespace of the root Kustomization (flux-system) is created by Flux's bootstrap
    # (gotk-components.yaml), which repositories often do not vendor.
    context.cluster_namespaces |= {ks_id.namespace for ks_id in render.kustomizations
                                   if render.kustomizations[ks_id].kustomization.parent is None}
    load_seconds = time.perf_counter() - started
    checked = time.perf_counter()
    _CONTEXT, _ITEMS = context, items
    workers = options.workers if len(items) >= PARALLEL_THRESHOLD else 1
    step = max(1, -(-len(items) // (workers * 4)))
    try:
        chunks = _pool_map(_check_range, [(i, i + step) for i in range(0, len(items), step)],
                           workers)
    finally:
        _CONTEXT, _ITEMS = None, ()
    result.objects = [obj for chunk in chunks for obj in chunk]
    result.files = len({i.file for i in items if i.file})
    _render_findings(render, result)
    _cross_object(result, context,
                  namespace_severity="error")
    result.seconds = {"parse": parse_seconds, "schemas": load_seconds - parse_seconds,
                      "check": time.perf_counter() - checked,
                      "total": time.perf_counter() - started}
    return result


def _index_inputs(render: RepositoryRender, index: SourceIndex, result: Result,
                  strict: bool) -> float:
    """Parse every YAML input file once: for source lines, and for duplicate keys."""
    started = time.perf_counter()
    root = render.repository_root
    seen: set[Path] = set()
    for rendered in render.kustomizations.values():
        for path in sorted(rendered.inputs):
            if path in seen or path.suffix not in (".yaml", ".yml"):
                continue
            seen.add(path)
            try:
                text = path.read_text(encoding="utf-8")
                parsed = parse(text, _relative(path, root))
            except (OSError, UnicodeDecodeError, YamlError):
                continue  # the render reports unreadable inputs itself
            index.add_file(path, parsed.documents, text)
            result.slow_documents += parsed.slow_documents
            if strict:
                result.findings += [Finding(
                    "duplicate-key", f"mapping key {d.key!r} is defined twice",
                    file=_relative(path, root), line=d.line,
                    hint="remove one: Kubernetes' strict decoding refuses duplicate keys, "
                         "kustomize keeps one silently") for d in parsed.duplicates]
    return time.perf_counter() - started


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _render_findings(render: RepositoryRender, result: Result) -> None:
    from runner.discover import graph

    for ks_id, rendered in render.kustomizations.items():
        if rendered.error is not None:
            result.findings.append(Finding("render", rendered.error.message,
                                           kustomization=str(ks_id), hint=rendered.error.hint))
    for problem in render.problems:
        if not isinstance(problem, graph.DependencyError):
            result.findings.append(Finding("render", problem.message, hint=problem.hint))
    try:
        graph.check(render.by_id())
    except graph.DependencyError as error:
        result.findings.append(Finding("depends-on", error.message, hint=error.hint))


def _cross_object(result: Result, context: Context, namespace_severity: str) -> None:
    extra = rules.duplicate_findings(result.objects)
    extra += rules.namespace_findings(result.objects, context.cluster_namespaces,
                                      namespace_severity)
    for owner, finding in extra:
        owner.findings.append(finding)
        if finding.severity == "error":
            owner.status = "invalid"
