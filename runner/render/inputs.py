"""Which files a kustomize build reads, found by following kustomization files.

Used for two things: the render cache key (a build is reused only if every file it reads is
byte-identical) and changed-only mode (a Kustomization is affected by a change when a file it
reads changed). The walk is conservative: when in doubt a file or whole directory counts as
read, so a stale cache entry is never served.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.render.overlay import KUSTOMIZATION_FILES
from runner.yamlio import YamlError, load_all

# Fields whose entries are paths (or, for patch-like fields, possibly inline YAML).
_PATH_LIST_FIELDS = ("resources", "bases", "components", "crds", "configurations",
                     "generators", "transformers", "validators", "patchesStrategicMerge")
_ENTRY_PATH_FIELDS = ("patches", "patchesJson6902", "replacements")
_GENERATOR_FIELDS = ("configMapGenerator", "secretGenerator")


@dataclass
class BuildInputs:
    """Files read by a build; `remote` is set when a remote base makes it uncacheable."""

    files: set[Path] = field(default_factory=set)
    remote: bool = False


def collect(directory: Path, kustomization: dict[str, Any], scanned: Iterable[Path] = (),
            ) -> BuildInputs:
    """Inputs of a build of `directory` with the given (possibly generated) kustomization."""
    inputs = BuildInputs()
    visited: set[Path] = set()
    for path in scanned:
        _add_path(path, inputs, visited)
    _follow(directory, kustomization, inputs, visited)
    return inputs


def _follow(directory: Path, kustomization: dict[str, Any], inputs: BuildInputs,
            visited: set[Path]) -> None:
    for reference in references(kustomization):
        if "://" in reference or reference.startswith(("github.com/", "git@")):
            inputs.remote = True
            continue
        _add_path((directory / reference), inputs, visited)


def _add_path(path: Path, inputs: BuildInputs, visited: set[Path]) -> None:
    path = Path(os.path.realpath(path))
    if path in visited:
        return
    visited.add(path)
    if path.is_file():
        inputs.files.add(path)
    elif path.is_dir():
        _add_directory(path, inputs, visited)


def _add_directory(directory: Path, inputs: BuildInputs, visited: set[Path]) -> None:
    kustomization_file = next((directory / n for n in KUSTOMIZATION_FILES
                               if (directory / n).is_file()), None)
    if kustomization_file is None:
        # Not a kustomization: count every file under it (kustomize would fail anyway).
        for root, _dirs, files in os.walk(directory):
            inputs.files.update(Path(root) / f for f in files)
        return
    inputs.files.add(kustomization_file)
    try:
        documents = load_all(kustomization_file.read_text(), str(kustomization_file))
    except YamlError:
        return  # the build itself reports the syntax error
    if documents and isinstance(documents[0], dict):
        _follow(directory, documents[0], inputs, visited)


def references(kustomization: dict[str, Any]) -> list[str]:
    """Every local path a kustomization file refers to (inline patches are skipped)."""
    found: list[str] = []
    for name in _PATH_LIST_FIELDS:
        found += [e for e in kustomization.get(name) or [] if _looks_like_path(e)]
    for name in _ENTRY_PATH_FIELDS:
        found += [e["path"] for e in kustomization.get(name) or []
                  if isinstance(e, dict) and isinstance(e.get("path"), str)]
    for name in _GENERATOR_FIELDS:
        for generator in kustomization.get(name) or []:
            found += _generator_files(generator)
    openapi = kustomization.get("openapi") or {}
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        found.append(openapi["path"])
    for chart in kustomization.get("helmCharts") or []:
        if isinstance(chart, dict) and isinstance(chart.get("valuesFile"), str):
            found.append(chart["valuesFile"])
    return found


def _generator_files(generator: Any) -> list[str]:
    if not isinstance(generator, dict):
        return []
    files = [f.split("=", 1)[-1] for f in generator.get("files") or [] if isinstance(f, str)]
    envs = [e for e in generator.get("envs") or [] if isinstance(e, str)]
    if isinstance(generator.get("env"), str):
        envs.append(generator["env"])
    return files + envs


def _looks_like_path(entry: Any) -> bool:
    return isinstance(entry, str) and "\n" not in entry and not entry.lstrip().startswith("{")
