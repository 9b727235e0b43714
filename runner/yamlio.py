"""YAML as Flux reads it, fast (libyaml), with the quirks real repositories rely on.

Flux finally reads manifests with sigs.k8s.io/yaml (go-yaml v2, YAML 1.1 scalars), so the
loader keeps PyYAML's YAML 1.1 booleans and integers, but:
- reads `1e3` as a float, as go-yaml v2 does (PyYAML wants a dot);
- leaves timestamps as strings (Kubernetes fields are strings; PyYAML would make dates);
- reads a bare `=` as the string "=" (PyYAML resolves it to a tag it cannot construct);
- accepts an anchor defined twice in one document (legal YAML 1.2, accepted by Go; the
  later definition wins for later aliases), by retrying with a pure-Python composer;
- can report duplicate mapping keys, which PyYAML would silently collapse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from runner.errors import RunnerError

_FLOAT_V2 = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_FLOAT_FIRST = list("-+0123456789.")


class YamlError(RunnerError):
    """A YAML document could not be read; the message names the file and line."""


@dataclass(frozen=True)
class DuplicateKey:
    key: str
    line: int  # 1-based line of the second occurrence


def _tune_resolvers(loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]) -> None:
    resolvers = {first: [(tag, regexp) for tag, regexp in entries
                         if tag not in ("tag:yaml.org,2002:timestamp",
                                        "tag:yaml.org,2002:value")]
                 for first, entries in loader.yaml_implicit_resolvers.items()}
    loader.yaml_implicit_resolvers = resolvers
    loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_V2, _FLOAT_FIRST)


class FastLoader(yaml.CSafeLoader):
    """libyaml's parser and composer with Flux-compatible scalar resolution."""


class TolerantLoader(yaml.SafeLoader):
    """Pure-Python fallback that lets an anchor be redefined within a document."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        event = self.peek_event()  # type: ignore[no-untyped-call]
        anchor = getattr(event, "anchor", None)
        if anchor is not None and anchor in self.anchors:
            del self.anchors[anchor]  # a redefinition replaces the earlier anchor
        return super().compose_node(parent, index)


for _loader in (FastLoader, TolerantLoader):
    _tune_resolvers(_loader)


def load_all(text: str, source: str = "<input>") -> list[Any]:
    """Every document of `text`, empty documents dropped. `source` names the file in errors."""
    try:
        return [doc for doc in yaml.load_all(text, Loader=FastLoader) if doc is not None]
    except yaml.composer.ComposerError as error:
        if "found duplicate anchor" not in str(error):
            raise _error(source, error) from error
    except yaml.YAMLError as error:
        raise _error(source, error) from error
    try:
        return [doc for doc in yaml.load_all(text, Loader=TolerantLoader) if doc is not None]
    except yaml.YAMLError as error:
        raise _error(source, error) from error


def compose(text: str) -> yaml.Node | None:
    """The node tree (with line marks) of one document, read as load_all() reads it:
    libyaml, then the pure-Python composer for what libyaml refuses (a redefined anchor).
    None if the document cannot be read."""
    for loader in (FastLoader, TolerantLoader):
        try:
            node: yaml.Node | None = yaml.compose(text, Loader=loader)
            return node
        except yaml.YAMLError:
            continue
    return None


def load_documents(text: str, source: str = "<input>") -> Iterator[tuple[int, Any]]:
    """(1-based first line, document) pairs, so findings can point at a line of a file."""
    for start_line, chunk in split_documents(text):
        for document in load_all(chunk, f"{source}:{start_line}"):
            yield start_line, document


_SEPARATOR_REST = re.compile(r"[ \t]*(?:#.*)?$", re.M)  # what may follow `---` on its line


def split_documents(text: str) -> Iterator[tuple[int, str]]:
    """Split a multi-document stream on `---` lines, keeping each chunk's first line number.

    A `---` line cannot occur inside a block scalar at the top level (block content is
    indented), so splitting on it is safe for manifests. str.find jumps between candidate
    `---` (a regex anchored at line starts would try every position).
    """
    position, line = 0, 1
    for start, end in _separators(text):
        chunk = text[position:start]
        if chunk and not chunk.isspace():
            yield line, chunk
        line += chunk.count("\n") + 1
        position = end + 1
    tail = text[position:]
    if tail and not tail.isspace():
        yield line, tail


def _separators(text: str) -> Iterator[tuple[int, int]]:
    """(start, end of line) of every `---` line."""
    start = 0 if text.startswith("---") else _next_dashes(text, 0)
    while start >= 0:
        rest = _SEPARATOR_REST.match(text, start + 3)
        if rest is not None:
            yield start, rest.end()
        start = _next_dashes(text, start + 3)


def _next_dashes(text: str, position: int) -> int:
    """Where the next line starting with `---` starts, or -1."""
    found = text.find("\n---", position)
    return found + 1 if found >= 0 else -1


def duplicate_keys(text: str) -> list[DuplicateKey]:
    """Mapping keys that occur twice in the same mapping (Go's strict decoders refuse them)."""
    found: list[DuplicateKey] = []
    try:
        for node in yaml.compose_all(text, Loader=TolerantLoader):
            if node is not None:
                _find_duplicates(node, found)
    except yaml.YAMLError:
        return found  # the loader reports the syntax error itself
    return found


def _find_duplicates(node: yaml.Node, found: list[DuplicateKey]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen and key != "<<":
                found.append(DuplicateKey(key, key_node.start_mark.line + 1))
            seen.add(key)
            _find_duplicates(value_node, found)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _find_duplicates(item, found)


def _error(source: str, error: yaml.YAMLError) -> YamlError:
    mark = getattr(error, "problem_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    detail = f"{context}, {problem}" if context else problem
    return YamlError(f"{where}: invalid YAML: {detail}",
                     "fix the YAML syntax at that line (indentation, quotes, a stray tab)")


class _Dumper(yaml.CSafeDumper):
    """Block style, keys in their given order, multi-line strings as literal blocks."""


def _represent_str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1 << 30,
                     allow_unicode=True, default_flow_style=False)


def dump_all(documents: list[Any]) -> str:
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=1 << 30,
                         allow_unicode=True, default_flow_style=False)
