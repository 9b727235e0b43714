"""The command line: help texts, readable errors, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import COMMANDS, main


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) > 3


def test_missing_path_is_a_clear_error_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["build", "--path", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "nope" in result.output


def test_cluster_env_without_a_cluster_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_RUNNER_CACHE", str(tmp_path))
    result = CliRunner().invoke(main, ["cluster", "env", "--name", "nope"])
    assert result.exit_code == 2
    assert "no local cluster named 'nope' is running" in result.output
    assert "gitops-runner cluster up" in result.output
