"""Which files a kustomize build reads, found by following kustomization files.

Used for two things: the render cache key (a build is reused only if every file it reads is
byte-identical) and changed-only mode (a Kustomization is affected by a change when a file it
reads changed). The walk is conservative: when in doubt a file or whole directory counts as
read, so a stale cache entry is never served.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.render.references import KUSTOMIZATION_FILES, is_remote, references
from runner.yamlio import YamlError, load_all


@dataclass
class BuildInputs:
    """Files read by a build; `remote` is set when a remote base makes it uncacheable."""

    files: set[Path] = field(default_factory=set)
    remote: bool = False


def collect(directory: Path, kustomization: dict[str, Any]) -> BuildInputs:
    """Inputs of a build of `directory` with the given kustomization (a generated one lists
    the scanned files as its resources, so they are followed like any reference)."""
    inputs = BuildInputs()
    _follow(directory, kustomization, inputs, set())
    return inputs


def _follow(directory: Path, kustomization: dict[str, Any], inputs: BuildInputs,
            visited: set[Path]) -> None:
    for reference in references(kustomization):
        if is_remote(reference):
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
