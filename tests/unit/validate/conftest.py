"""Helpers for the validate tests: the corpus, and the command inside the CLI's error
handling (so RunnerError becomes exit code 2, as in `gitops-runner validate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from runner.cli import RunnerGroup
from runner.cli.validate import validate

CORPUS = Path(__file__).resolve().parents[2] / "validate_corpus"


def expected_cases() -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
    return cases


@click.group(cls=RunnerGroup)
def _cli() -> None:
    """The validate command as the real CLI wraps it."""


_cli.add_command(validate)


def run_cli(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(_cli, ["validate", *args], input=stdin, obj={})


@pytest.fixture()
def cli() -> Any:
    return run_cli
