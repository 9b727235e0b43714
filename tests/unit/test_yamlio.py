"""YAML as real Flux repositories write it."""

from __future__ import annotations

import pytest

from runner import yamlio


def test_bare_equals_sign_is_a_string() -> None:
    assert yamlio.load_all("matchType: =\n") == [{"matchType": "="}]


def test_redefined_anchor_uses_the_latest_definition() -> None:
    text = "a: &x 1\nb: *x\nc: &x 2\nd: *x\n"
    assert yamlio.load_all(text) == [{"a": 1, "b": 1, "c": 2, "d": 2}]


def test_scalars_resolve_as_go_yaml_v2_does() -> None:
    loaded = yamlio.load_all("a: on\nb: 1e3\nc: 2024-01-01\nd: '0777'\ne: 0777\n")[0]
    assert loaded == {"a": True, "b": 1000.0, "c": "2024-01-01", "d": "0777", "e": 511}


def test_duplicate_keys_are_found_with_their_line() -> None:
    found = yamlio.duplicate_keys("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert [(d.key, d.line) for d in found] == [("c", 4), ("a", 5)]


def test_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(yamlio.YamlError) as raised:
        yamlio.load_all("a: [1\nb: 2\n", "apps/deploy.yaml")
    assert raised.value.message.startswith("apps/deploy.yaml:2:")


def test_documents_keep_their_first_line() -> None:
    text = "a: 1\n---\nb: 2\n--- # comment\n\nc: 3\n"
    assert [(line, doc) for line, doc in yamlio.load_documents(text)] == [
        (1, {"a": 1}), (3, {"b": 2}), (5, {"c": 3})]


def test_dump_keeps_order_and_writes_multiline_strings_as_blocks() -> None:
    text = yamlio.dump({"z": 1, "a": "line one\nline two\n", "b": "on"})
    assert text == "z: 1\na: |\n  line one\n  line two\nb: 'on'\n"
    assert yamlio.load_all(text)[0]["a"] == "line one\nline two\n"
