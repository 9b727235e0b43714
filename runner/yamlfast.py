"""Reading manifest files fast, with exactly runner.yamlio's (Flux's) YAML semantics.

PyYAML with libyaml parses in C but builds and resolves every value in Python: about
2 MB/s. Rendering reads every object kustomize emits, and the validate stage whole
repositories and large generated sets, so documents are parsed with yaml-rs (a Rust YAML 1.2
parser, about 8x faster) and handed to PyYAML (runner.yamlio) whenever the two could
disagree:
- a plain scalar that YAML 1.1 resolves differently from YAML 1.2 (`yes`/`no`/`on`/`off`,
  octal `0755`, `0o17`, `0b101`, sexagesimal `1:30`, `1_000`) — found by regular
  expressions on the text, so a document without one never pays for PyYAML;
- merge keys (`<<`) and explicit tags (`!!str`), which YAML 1.2 treats differently;
- any error in yaml-rs (PyYAML then reports it, with the file and line, or accepts it).
Duplicate keys are detected by yaml-rs while parsing; only then is PyYAML's composer run to
say on which line. tests/unit/test_yamlfast.py checks both paths agree on every
YAML file of the examples and the shared corpora.
JSON documents are read with orjson.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml_rs

from runner.yamlio import DuplicateKey, duplicate_keys, load_all, split_documents

_TOKEN = (r"(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|[-+]?0[0-9_]+(?:\.[0-9_]*)?"
          r"|[-+]?0[bBoO][0-9a-fA-F_]+|[-+]?[0-9][0-9_]*(?::[0-9_]+)+(?:\.[0-9_]*)?"
          r"|[-+]?[0-9.][0-9.]*_[0-9_.]*(?:[eE][-+]?[0-9]+)?)")
_SUSPECT = re.compile(
    rf"(?:[:\-?][ \t]+|[\[{{,][ \t]*){_TOKEN}[ \t]*(?:$|#|,|\]|\}})"  # as a value
    rf"|^[ \t]*(?:-[ \t]+)*{_TOKEN}[ \t]*:(?:[ \t]|$)"  # as a key
    r"|<<[ \t]*:|(?:^|[:\-\[{,][ \t]*)![\w!<]",  # merge keys, tags
    re.M)
# Cheap hints that a file may hold one of those patterns: each starts with a literal, so the
# regex engine jumps between its rare occurrences instead of trying every position (about
# 20x faster than _SUSPECT on 15 MB). Together they match wherever _SUSPECT does
# (tests/unit/test_yamlfast.py checks that on generated text): a leading zero after
# a separator (optionally signed), a digit or `_` on both sides of `:`, `_` after a digit or
# `.`, a yes/no/on/off word between a separator and an end, `<<`, `!`.
_SEPARATOR_BEFORE = r"[^ \t\n\[{,]"  # lookbehinds: "not preceded by a non-separator"
_NUMBER_HINTS = (
    re.compile(rf"0(?:(?<!{_SEPARATOR_BEFORE}0)|(?<=[-+]0)(?<!{_SEPARATOR_BEFORE}[-+]0))"
               r"[0-9_bBoO]"),
    re.compile(r":(?<=[0-9_]:)[0-9_]"),
    re.compile(r"_(?<=[0-9._]_)"),
)
_WORD_HINTS = tuple(  # searched in the lower-cased text
    re.compile(rf"{word}(?<!{_SEPARATOR_BEFORE}{word})(?=[ \t]*(?:$|[#,\]}}:]))", re.M)
    for word in ("yes", "no", "on", "off"))


def maybe_suspect(text: str) -> bool:
    """False only if no document of `text` can hold a scalar YAML 1.1 reads differently."""
    if "<<" in text or "!" in text or any(hint.search(text) for hint in _NUMBER_HINTS):
        return True
    lowered = text.lower()
    return any(hint.search(lowered) for hint in _WORD_HINTS)


@dataclass
class Parsed:
    """The documents of one file: (first line, document) pairs, and duplicate keys."""

    documents: list[tuple[int, Any]] = field(default_factory=list)
    duplicates: list[DuplicateKey] = field(default_factory=list)
    slow_documents: int = 0  # documents PyYAML had to read (for benchmarks)


def parse(text: str, source: str = "<input>") -> Parsed:
    """Every non-empty document of `text`, with its first line. Raises YamlError."""
    parsed = Parsed()
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # YAML flow style, or broken: the YAML path reports it
        else:
            if document is not None:
                parsed.documents.append((1 + text[:len(text) - len(stripped)].count("\n"),
                                         document))
            return parsed
    suspect_file = maybe_suspect(text)
    for line, chunk in split_documents(text):
        _parse_chunk(chunk, line, source, parsed, suspect_file)
    return parsed


def _parse_chunk(chunk: str, line: int, source: str, parsed: Parsed, suspect_file: bool,
                 ) -> None:
    suspect = suspect_file and maybe_suspect(chunk) and _SUSPECT.search(chunk) is not None
    try:
        document = yaml_rs.loads(chunk, parse_datetime=False)
    except yaml_rs.YAMLDecodeError as error:
        if "duplicate" in str(error):
            parsed.duplicates += [DuplicateKey(d.key, d.line + line - 1)
                                  for d in duplicate_keys(chunk)]
        suspect = True
    except (ValueError, TypeError, OverflowError):
        suspect = True
    if suspect:
        parsed.slow_documents += 1
        # Padded with the lines before the chunk, so PyYAML's errors name the file's line.
        for document in load_all("\n" * (line - 1) + chunk, source):
            parsed.documents.append((line, document))
        return
    if document is not None:
        parsed.documents.append((line, document))

