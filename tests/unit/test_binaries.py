"""Where control-plane binaries come from, and the errors when they cannot be found."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.controlplane import binaries
from runner.errors import RunnerError


def test_versions_are_read_from_the_go_modules() -> None:
    versions = {program.name: program.version for program in binaries.PROGRAMS}
    assert versions["kube-apiserver"] == binaries.kubernetes_version()
    assert versions["kube-apiserver"].startswith("v1.")
    assert versions["etcd"].startswith("v3.6.")
    assert versions["kwok"].startswith("v0.")


def test_cache_key_names_the_version_and_the_pins() -> None:
    apiserver = next(p for p in binaries.PROGRAMS if p.name == "kube-apiserver")
    assert apiserver.cache_key.startswith(f"kube-apiserver-{binaries.kubernetes_version()}-")
    assert apiserver.cache_key == apiserver.cache_key, "stable for the same pins"
    assert f"gitVersion={binaries.kubernetes_version()}" in apiserver.build_flags


def test_explicit_directory_missing_binaries_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "etcd").write_text("#!/bin/sh\n")
    (tmp_path / "etcd").chmod(0o755)
    with pytest.raises(RunnerError) as raised:
        binaries.locate(tmp_path)
    assert "kube-apiserver" in raised.value.message
    assert str(tmp_path) in raised.value.message
    assert "etcd," not in raised.value.message


def test_explicit_directory_with_every_binary_is_used(tmp_path: Path) -> None:
    for name in binaries.BINARY_NAMES:
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    found = binaries.locate(tmp_path)
    assert found.path("kwok") == tmp_path / "kwok"


def test_without_go_or_cache_the_error_says_how_to_get_binaries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(binaries.CACHE_DIR_ENV, str(tmp_path / "empty-cache"))
    monkeypatch.delenv(binaries.BIN_DIR_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `go` on it
    with pytest.raises(RunnerError) as raised:
        binaries.locate()
    assert "Go is not installed" in raised.value.message
    assert binaries.BIN_DIR_ENV in raised.value.hint
