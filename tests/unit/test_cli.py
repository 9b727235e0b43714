"""The command line: help texts, placeholders that refuse to pretend, readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.cli.placeholders import PLANNED


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in [*PLANNED, "cluster", "demo"]:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(PLANNED))
def test_placeholders_say_so_and_exit_non_zero(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--path", "x"])
    assert result.exit_code == 3
    assert "not implemented yet" in result.output


def test_cluster_env_without_a_cluster_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_RUNNER_CACHE", str(tmp_path))
    result = CliRunner().invoke(main, ["cluster", "env", "--name", "nope"])
    assert result.exit_code == 2
    assert "no local cluster named 'nope' is running" in result.output
    assert "gitops-runner cluster up" in result.output
