"""Render a whole cluster path: discover Kustomizations by rendering their parents, build them
in parallel, and substitute variables once the ConfigMaps/Secrets they name are known.

Flux discovers Kustomizations the same way (a Kustomization applies more Kustomizations), so
the walk starts at the cluster path (what the bootstrap Kustomization `flux-system` builds)
and follows every Kustomization found in a render. kustomize builds do not depend on
variables, so they all start at once; substitution waits until every `substituteFrom`
object it needs has been rendered (it may come from a sibling), or fails when none will come.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from runner.discover import flux, graph
from runner.discover.flux import Kustomization, NamespacedName, SourceRef
from runner.discover.sources import SourceMap
from runner.errors import RunnerError
from runner.manifest import Manifest, ObjectKey
from runner.render import inputs as build_inputs
from runner.render import overlay, postbuild, sourceignore
from runner.render.cache import RenderCache
from runner.render.kustomize import Kustomize, KustomizeError
from runner.render.postbuild import ObjectLookup, PostBuildOptions
from runner.yamlio import dump


@dataclass
class RenderedKustomization:
    """One Kustomization's render: its objects, or the error that stopped it."""

    kustomization: Kustomization
    objects: list[Manifest] = field(default_factory=list)
    error: RunnerError | None = None
    inputs: set[Path] = field(default_factory=set)
    cache_hit: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RepositoryRender:
    """Every Kustomization reachable from a cluster path, in discovery order."""

    repository_root: Path
    path: Path
    kustomizations: dict[NamespacedName, RenderedKustomization] = field(default_factory=dict)
    problems: list[RunnerError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.kustomizations.values())

    def warnings(self) -> list[str]:
        return [w for r in self.kustomizations.values() for w in r.kustomization.warnings]

    def errors(self) -> list[RunnerError]:
        return [*self.problems, *(r.error for r in self.kustomizations.values() if r.error)]

    def in_dependency_order(self) -> list[RenderedKustomization]:
        """dependsOn layer order; discovery order (and a recorded problem) if the graph is
        broken, so a cycle never hides the renders themselves."""
        try:
            layers = graph.layers(self.by_id())
        except graph.DependencyError as error:
            if all(p.message != error.message for p in self.problems):
                self.problems.append(error)
            return list(self.kustomizations.values())
        return [self.kustomizations[ks.id] for layer in layers for ks in layer]

    def by_id(self) -> dict[NamespacedName, Kustomization]:
        return {ks_id: r.kustomization for ks_id, r in self.kustomizations.items()}


@dataclass
class RenderOptions:
    path: Path
    repository_root: Path | None = None
    sources: dict[SourceRef, Path] = field(default_factory=dict)
    strict: bool = True
    concurrency: int = max(2, (os.cpu_count() or 1) * 2)
    cache: RenderCache = field(default_factory=lambda: RenderCache(None))
    cluster_lookup: ObjectLookup | None = None
    kustomize: Kustomize | None = None


@dataclass
class _Built:
    """A finished kustomize build, before substitution."""

    kustomization: Kustomization
    output: str = ""
    error: RunnerError | None = None
    inputs: set[Path] = field(default_factory=set)
    cache_hit: bool = False
    seconds: float = 0.0
    key: str | None = None  # the render cache key, when the build is cacheable


def render(options: RenderOptions) -> RepositoryRender:
    """Render every Kustomization under `options.path` (errors are recorded, not raised)."""
    started = time.monotonic()
    walk = _Walk(options)
    try:
        result = walk.run()
    finally:
        if options.kustomize is None:
            walk.kustomize.close()
    result.seconds = time.monotonic() - started
    return result


def find_repository_root(path: Path) -> Path:
    """The Git work tree holding `path` (or `path` itself outside Git)."""
    current = path.resolve()
    for candidate in (current, *current.parents):
        if (candidate / ".git").exists():
            return candidate
    return current


class _Walk:
    """State of one repository render: what was found, built and finished."""

    def __init__(self, options: RenderOptions) -> None:
        from runner.render.kustomize import find

        self.options = options
        path = options.path.resolve()
        if not path.is_dir():
            raise RunnerError(f"--path {options.path} is not a directory",
                              "give the cluster folder, e.g. --path clusters/production")
        root = (options.repository_root or find_repository_root(path)).resolve()
        self.result = RepositoryRender(root, path)
        self.sources = SourceMap(root, extra=dict(options.sources))
        self.kustomize = options.kustomize or find(workers=min(options.concurrency,
                                                               os.cpu_count() or 1))
        self.ignore_rules: dict[Path, sourceignore.IgnoreRules] = {}
        self.pending: dict[NamespacedName, _Built] = {}
        self.objects_by_ref: dict[tuple[str, str, str], Manifest] = {}
        self.root: Kustomization | None = None

    def run(self) -> RepositoryRender:
        root = self._synthetic_root()
        try:
            return self._walk_from(root)
        except _RootFound as found:
            # The cluster path defines its own root Kustomization (flux bootstrap's
            # flux-system): start again from that definition, with its name and spec.
            self.result.kustomizations.clear()
            self.result.problems.clear()
            self.pending.clear()
            self.objects_by_ref.clear()
            self.result.repository_root = found.repository_root
            self.sources.repository_root = found.repository_root
            # The bootstrap Kustomization names the source this repository is (any name).
            self.sources.root_source = found.kustomization.source_ref
            found.kustomization.parent, found.kustomization.defined_by = None, ""
            return self._walk_from(found.kustomization)

    def _walk_from(self, root: Kustomization) -> RepositoryRender:
        self.root = root
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            futures: set[Future[_Built]] = {pool.submit(self._build, root)}
            while futures or self.pending:
                if futures:
                    done, futures = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        self.pending[future.result().kustomization.id] = future.result()
                for child in self._finish_ready(final=not futures):
                    futures.add(pool.submit(self._build, child))
        return self.result

    def _synthetic_root(self) -> Kustomization:
        """What `flux bootstrap` creates: Kustomization flux-system building the cluster path."""
        relative = self.result.path.relative_to(self.result.repository_root).as_posix()
        manifest: Manifest = {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "flux-system", "namespace": "flux-system"},
            "spec": {"path": f"./{relative}", "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
        }
        return flux.parse_kustomization(manifest)

    # -- building (worker threads) -------------------------------------------------------

    def _build(self, kustomization: Kustomization) -> _Built:
        started = time.monotonic()
        built = _Built(kustomization)
        try:
            source_root = self.sources.directory_for(kustomization.source_ref)
            self._kustomize(kustomization, source_root, built)
        except RunnerError as error:
            built.error = error.located(str(kustomization))
        built.seconds = time.monotonic() - started
        return built

    def _kustomize(self, kustomization: Kustomization, source_root: Path, built: _Built) -> None:
        prepared = overlay.prepare(source_root, kustomization.spec,
                                   self._ignore_for(source_root))
        found = build_inputs.collect(prepared.target, prepared.kustomization)
        built.inputs = found.files
        key = RenderCache.key(self.kustomize.version, kustomization.path,
                              dump(prepared.kustomization), found.files, source_root.resolve())
        built.key = None if found.remote else key
        cached = self.options.cache.get(key) if built.key else None
        if cached is not None:
            built.output, built.cache_hit = cached, True
            return
        try:
            built.output = self._build_in_mirror(prepared, source_root, full_mirror=False)
        except KustomizeError:
            # A build that reads more than its kustomization says (rare): mirror everything.
            built.output = self._build_in_mirror(prepared, source_root, full_mirror=True)
        if built.key:
            self.options.cache.put(key, built.output)

    def _build_in_mirror(self, prepared: overlay.Overlay, source_root: Path,
                         full_mirror: bool) -> str:
        with tempfile.TemporaryDirectory(prefix="gitops-runner-build-") as workdir:
            directory = overlay.materialize(prepared, source_root, Path(workdir), full_mirror)
            try:
                return self.kustomize.build(directory)
            except KustomizeError as error:
                message = error.message.replace(str(Path(workdir) / "src"), str(source_root))
                raise KustomizeError(message, error.hint) from error

    def _ignore_for(self, source_root: Path) -> sourceignore.IgnoreRules:
        if source_root not in self.ignore_rules:  # benign race: both threads compute the same
            self.ignore_rules[source_root] = sourceignore.load(source_root)
        return self.ignore_rules[source_root]

    # -- finishing (main thread) ---------------------------------------------------------

    def _finish_ready(self, final: bool) -> list[Kustomization]:
        """Finish every pending build whose variables are available; return new children.

        `final` means no build is running any more: what still waits for a substituteFrom
        object then fails, because nothing left could provide it.
        """
        children: list[Kustomization] = []
        while self._finish_pass(children, give_up=False):
            pass
        if final and self.pending:
            self._finish_pass(children, give_up=True)
        return children

    def _finish_pass(self, children: list[Kustomization], give_up: bool) -> bool:
        progressed = False
        for ks_id, built in list(self.pending.items()):
            variables = self._variables(built, give_up)
            if variables is None:
                continue
            del self.pending[ks_id]
            children += self._finish(built, variables)
            progressed = True
        return progressed

    def _variables(self, built: _Built, give_up: bool) -> dict[str, str] | None:
        """Variables for `built`, None to wait for more renders, {} when not needed."""
        kustomization = built.kustomization
        if built.error or not kustomization.has_post_build:
            return {}
        try:
            return postbuild.variables_for(kustomization, self._lookup)
        except postbuild.SubstitutionFailed as error:
            if not give_up:
                return None
            built.error = error
            return {}

    def _lookup(self, kind: str, namespace: str, name: str) -> Manifest | None:
        found = self.objects_by_ref.get((kind, namespace, name))
        if found is None and self.options.cluster_lookup is not None:
            found = self.options.cluster_lookup(kind, namespace, name)
        return found

    def _finish(self, built: _Built, variables: dict[str, str]) -> list[Kustomization]:
        rendered = RenderedKustomization(built.kustomization, error=built.error,
                                         inputs=built.inputs, cache_hit=built.cache_hit,
                                         seconds=built.seconds)
        if rendered.error is None:
            try:
                rendered.objects = self._finished_objects(built, variables)
            except RunnerError as error:
                rendered.error = error
        self.result.kustomizations[built.kustomization.id] = rendered
        for manifest in rendered.objects:
            if manifest.get("kind") in ("ConfigMap", "Secret"):
                key = ObjectKey.of(manifest)
                self.objects_by_ref[(key.kind, key.namespace, key.name)] = manifest
        return self._children(rendered)

    def _finished_objects(self, built: _Built, variables: dict[str, str]) -> list[Manifest]:
        """postbuild.finish, served from the cache when nothing it depends on changed."""
        options = PostBuildOptions(strict=self.options.strict)
        key = _finished_key(built, variables, options) if built.key else None
        cached = self.options.cache.get(key, "json") if key else None
        if cached is not None:
            objects: list[Manifest] = orjson.loads(cached)
            return objects
        objects = postbuild.finish(built.output, built.kustomization, variables, options)
        if key:
            with contextlib.suppress(orjson.JSONEncodeError):  # e.g. non-UTF-8 values
                self.options.cache.put(key, orjson.dumps(objects).decode(), "json")
        return objects

    def _children(self, parent: RenderedKustomization) -> list[Kustomization]:
        found: list[Kustomization] = []
        for manifest in parent.objects:
            if not flux.is_kustomization(manifest):
                continue
            try:
                child = flux.parse_kustomization(manifest, defined_by=str(parent.kustomization))
                child.parent = parent.kustomization.id
            except RunnerError as error:
                self.result.problems.append(error)
                continue
            if self._is_root_definition(child, parent):
                continue
            if child.id in self.result.kustomizations or child.id in self.pending or any(
                    c.id == child.id for c in found):
                self.result.problems.append(RunnerError(
                    f"{child} is defined more than once (again in {parent.kustomization})",
                    "give each Flux Kustomization a unique namespace/name"))
                continue
            found.append(child)
        return found

    def _is_root_definition(self, child: Kustomization, parent: RenderedKustomization) -> bool:
        """The bootstrap Kustomization that builds the cluster path is the root itself.

        Its spec.path also tells where the repository root is (the cluster path minus
        spec.path), which matters when the Flux repository is a sub-folder of a Git repo.
        """
        if self.root is None or parent.kustomization is not self.root:
            return False
        if child.source_ref.kind not in ROOT_SOURCE_KINDS or child.source_ref in self.sources.extra:
            return False
        implied_root = _root_implied_by(self.result.path, child.path)
        if implied_root is None:
            return False
        if implied_root != self.result.repository_root:
            if self.options.repository_root is not None:
                return False  # the user said where the root is; this is another Kustomization
            raise _RootFound(child, implied_root)
        if _identity(child) != _identity(self.root) or \
                child.source_ref != self.sources.root_source:
            raise _RootFound(child, implied_root)
        return True


ROOT_SOURCE_KINDS = frozenset({"GitRepository", "OCIRepository", "Bucket"})


class _RootFound(Exception):
    """The render of the synthetic root contained the real root Kustomization."""

    def __init__(self, kustomization: Kustomization, repository_root: Path) -> None:
        super().__init__(str(kustomization))
        self.kustomization = kustomization
        self.repository_root = repository_root


def _root_implied_by(cluster_path: Path, spec_path: str) -> Path | None:
    """`/repo/fleet/clusters/prod` with spec.path `./clusters/prod` -> `/repo/fleet`."""
    parts = Path(_normalized(spec_path)).parts
    if parts == (".",):
        return cluster_path
    if len(parts) >= len(cluster_path.parts) or cluster_path.parts[-len(parts):] != parts:
        return None
    return cluster_path.parents[len(parts) - 1]


def _identity(kustomization: Kustomization) -> tuple[str, str, object]:
    return kustomization.name, kustomization.namespace, kustomization.spec


def _finished_key(built: _Built, variables: dict[str, str], options: PostBuildOptions) -> str:
    ks = built.kustomization
    depends_on = {"build": built.key, "name": ks.name, "namespace": ks.namespace,
                  "variables": variables, "strict": options.strict,
                  "postBuild": ks.has_post_build, "always": ks.substitute_always,
                  "labels": ks.common_labels, "annotations": ks.common_annotations}
    return hashlib.sha256(orjson.dumps(depends_on, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _normalized(path: str) -> str:
    return os.path.normpath(path.lstrip("./") or ".")
