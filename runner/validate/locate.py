"""Which file and line of the repository a rendered object, or one of its fields, comes from.

kustomize output has no line numbers. An object is matched back to the documents of the
Kustomization's input files by kind and name (the name with the Kustomization's
namePrefix/nameSuffix removed, if any); a `config.kubernetes.io/origin` annotation (kustomize
`buildMetadata: [originAnnotations]`) names the file directly. Within the document, a field's
line is found by walking the YAML node tree along the finding's JSON pointer, stopping at the
deepest node that exists in the source (a patch may have added the rest).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner.yamlio import compose, split_documents

ORIGIN_ANNOTATION = "config.kubernetes.io/origin"


@dataclass(frozen=True)
class Origin:
    file: Path
    line: int  # first line of the document


class SourceIndex:
    """Documents of input files by (kind, name); and pointer -> line inside a document."""

    def __init__(self) -> None:
        self._by_name: dict[tuple[str, str], list[Origin]] = {}
        self._indexed: set[Path] = set()
        self._texts: dict[Path, str] = {}
        self._lock = threading.Lock()

    def add_file(self, path: Path, documents: list[tuple[int, Any]], text: str) -> None:
        with self._lock:
            if path in self._indexed:
                return
            self._indexed.add(path)
            self._texts[path] = text
            for line, document in documents:
                if isinstance(document, dict):
                    name = str((document.get("metadata") or {}).get("name", ""))
                    key = (str(document.get("kind", "")), name)
                    self._by_name.setdefault(key, []).append(Origin(path, line))

    def add_text(self, path: Path, text: str) -> None:
        """Only the text, for line_of(): plain files name their documents' origins directly."""
        with self._lock:
            self._texts[path] = text

    def find(self, manifest: dict[str, Any], prefix: str = "", suffix: str = "",
             candidates: set[Path] | None = None) -> Origin | None:
        kind = str(manifest.get("kind", ""))
        metadata = manifest.get("metadata") or {}
        name = str(metadata.get("name", ""))
        names = [name]
        if (prefix and name.startswith(prefix)) or (suffix and name.endswith(suffix)):
            names.append(name.removeprefix(prefix).removesuffix(suffix))
        origin_path = _origin_path((metadata.get("annotations") or {}).get(ORIGIN_ANNOTATION))
        for candidate in names:
            found = self._by_name.get((kind, candidate), [])
            if candidates is not None:
                found = [o for o in found if o.file in candidates]
            if origin_path:
                found = [o for o in found if o.file.as_posix().endswith(origin_path)] or found
            if found:
                return found[0]
        return None

    def line_of(self, origin: Origin, pointer: str) -> int:
        """The line of the deepest node along `pointer` in the document at `origin`."""
        text = self._texts.get(origin.file)
        if text is None or not pointer.strip("/"):
            return origin.line
        chunk = next((c for line, c in split_documents(text) if line == origin.line), None)
        if chunk is None:
            return origin.line
        node: Any = compose(chunk)
        if node is None:
            return origin.line
        line = 0
        for part in pointer.strip("/").split("/"):
            found = _child(node, part)
            if found is None:
                break
            node, line = found
        return origin.line + line


def _child(node: Any, part: str) -> tuple[Any, int] | None:
    """The node under `part`, and the line to report: a mapping entry's key line."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == part:
                return value, key.start_mark.line
    elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
        item = node.value[int(part)]
        return item, item.start_mark.line
    return None


def _origin_path(annotation: Any) -> str:
    if not isinstance(annotation, str):
        return ""
    for line in annotation.splitlines():
        if line.startswith("path:"):
            return line.removeprefix("path:").strip()
    return ""
