"""The fast YAML path reads every document exactly as runner.yamlio (PyYAML, Flux's
semantics) does."""

from __future__ import annotations

import random

import pytest

from runner import yamlfast
from runner.yamlfast import parse
from runner.yamlio import YamlError, load_documents
from tests.conftest import CORPORA, EXAMPLES

TRICKY = [
    "a: yes\nb: 'no'\nc: on\n", "a: 0755\nb: 0o17\nc: 0b101\n", "a: 1:30\nb: 1_000\n",
    "base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n", "a: &x 1\nb: &x 2\nc: *x\n", "a: =\n",
    "a: 1e3\nb: 2024-01-01\n", "a: !!str 12\n", "- yes\n- [on, off]\n", "yes: 1\n",
    "a: x\n---\n---\nb: y\n", "a: |\n  yes\n  no\n", '{"a": "yes", "b": 1}',
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_scalars_resolve_like_pyyaml(text: str) -> None:
    assert parse(text).documents == list(load_documents(text))


def test_every_yaml_file_of_examples_and_corpora() -> None:
    files = [p for root in (EXAMPLES, CORPORA) if root.is_dir()
             for p in sorted(root.rglob("*.y*ml"))]
    assert files
    for path in files:
        text = path.read_text()
        try:
            expected = list(load_documents(text, str(path)))
        except YamlError:
            with pytest.raises(YamlError):
                parse(text, str(path))
            continue
        assert parse(text, str(path)).documents == expected, path


def test_duplicate_keys_are_found_with_their_line() -> None:
    parsed = parse("a: 1\n---\nb:\n  c: 1\n  c: 2\n")
    assert [(d.key, d.line) for d in parsed.duplicates] == [("c", 5)]


def test_errors_name_the_file_line() -> None:
    with pytest.raises(YamlError, match=r"f.yaml:5:"):
        parse("a: 1\n---\nb: 2\nc: [1\n", "f.yaml")


_PIECES = ["a", "key", ":", ": ", " ", "  ", "\t", "\n", "- ", "-", "+", "[", "]", "{", "}",
           ",", "#", "?", "0", "1", "7", "9", "_", ".", "e", "b", "O", "x", "yes", "No", "ON",
           "off", "oN", "<<", "!", "!!str ", "'", '"', "\r\n"]


def _misses() -> tuple[int, list[str]]:
    """(texts the full pattern matches, those of them maybe_suspect() misses)."""
    rng = random.Random(7)
    matched, missed = 0, []
    for _ in range(40_000):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 12)))
        if yamlfast._SUSPECT.search(text):
            matched += 1
            if not yamlfast.maybe_suspect(text):
                missed.append(text)
    return matched, missed


def test_cheap_hints_match_wherever_the_full_pattern_does() -> None:
    """maybe_suspect() may say yes too often (PyYAML then decides), never too rarely."""
    matched, missed = _misses()
    assert matched > 1_000  # the generator does reach the patterns
    assert not missed


@pytest.mark.parametrize("hints,index", [("_NUMBER_HINTS", i) for i in range(3)]
                         + [("_WORD_HINTS", i) for i in range(4)])
def test_every_cheap_hint_is_needed(monkeypatch: pytest.MonkeyPatch, hints: str,
                                    index: int) -> None:
    """Without any one of the hints the generated texts show a miss: the check above can
    fail, and no hint is dead weight."""
    kept = tuple(h for i, h in enumerate(getattr(yamlfast, hints)) if i != index)
    monkeypatch.setattr(yamlfast, hints, kept)
    assert _misses()[1]
