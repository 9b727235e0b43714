"""A content-addressed cache of kustomize outputs.

The key covers everything a build depends on: the kustomize version, the Kustomization's
path and the kustomization file the runner generated for it, and the bytes of every file the
build reads (runner.render.inputs). Two entries per build: kustomize's output, and the
finished objects (after substitution and labels) as JSON, keyed further by everything that
finishing depends on (the variables, which may come from a cluster, among them). Reading JSON
is many times faster than parsing YAML, which makes re-rendering an unchanged repository
cheap.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from runner import __version__
from runner.controlplane.binaries import cache_root


def default_directory() -> Path:
    return cache_root() / "render"


class RenderCache:
    """Stores build outputs under `directory` and in memory for the run; with
    `directory=None` only identical builds within one run are shared."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.hits = 0
        self.misses = 0
        self._memory: dict[str, str] = {}

    @staticmethod
    def key(kustomize_version: str, spec_path: str, kustomization_yaml: str,
            files: Iterable[Path], source_root: Path) -> str:
        digest = hashlib.sha256()
        for part in (__version__, kustomize_version, spec_path, kustomization_yaml):
            digest.update(part.encode() + b"\0")
        for path in sorted(files):
            digest.update(_relative(path, source_root).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def get(self, key: str, suffix: str = "yaml") -> str | None:
        """A cached entry: kustomize's output (`yaml`) or finished objects (`json`)."""
        memory_key = f"{suffix}:{key}"
        if memory_key in self._memory:
            return self._memory[memory_key]
        if self.directory is None:
            return None
        try:
            text = self._path(key, suffix).read_text()
        except OSError:
            self.misses += 1
            return None
        self.hits += 1
        return text

    def put(self, key: str, output: str, suffix: str = "yaml") -> None:
        self._memory[f"{suffix}:{key}"] = output
        if self.directory is None:
            return
        path = self._path(key, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so concurrent runs never read a half-written entry.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "w") as file:
            file.write(output)
        Path(temporary).replace(path)

    def _path(self, key: str, suffix: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.{suffix}"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
