"""The publish command line, the --publish hook for plan/apply, and the pre-commit entry."""

from __future__ import annotations

from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner

from runner.publish import publish_after_run, publish_option
from runner.publish.precommit import cluster_folders, main, split_args
from tests.forges.github_server import GitHubServer
from tests.unit.publish.conftest import (
    APP_TOKEN,
    HEAD_SHA,
    REPO,
    cli,
    github_env,
    make_report,
    validation,
    write_report,
)


def test_publish_needs_something_to_publish() -> None:
    result = CliRunner().invoke(cli(), ["publish"], env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 2
    assert "nothing to publish" in result.output


def test_publish_outside_ci_says_so(tmp_path: Path) -> None:
    report = write_report(tmp_path / "report.json", make_report())
    result = CliRunner().invoke(cli(), ["publish", "--report", str(report)],
                                env={"GITHUB_ACTIONS": "", "GITHUB_REPOSITORY": "",
                                     "GITLAB_CI": "", "CI_PROJECT_ID": ""})
    assert result.exit_code == 2
    assert "no CI forge detected" in result.output


def test_a_file_that_is_not_a_report_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "report.json"
    bogus.write_text('{"hello": 1}')
    result = CliRunner().invoke(cli(), ["publish", "--report", str(bogus), "--forge",
                                        "github"])
    assert result.exit_code == 2
    assert "is not a gitops-runner run report" in result.output


def test_switches_turn_parts_off(github_api: GitHubServer, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in github_env(github_api, tmp_path).items():
        monkeypatch.setenv(name, value)
    report = write_report(tmp_path / "report.json", make_report())
    findings = tmp_path / "validation.json"
    findings.write_bytes(orjson.dumps(validation(2)))
    result = CliRunner().invoke(cli(), [
        "publish", "--report", str(report), "--validation", str(findings), "--no-comment",
        "--status-api", "commit-status", "--context", "fleet/staging", "--no-annotations",
        "--no-summary"])
    assert result.exit_code == 0, result.output
    assert github_api.comments == {}
    assert [(s["context"], s["state"]) for s in github_api.statuses[(REPO, HEAD_SHA)]] == [
        ("fleet/staging", "failure")]
    assert "::error" not in result.output
    assert Path(github_env(github_api, tmp_path)["GITHUB_STEP_SUMMARY"]).read_text() == ""


def test_the_plan_apply_hook_publishes_and_never_changes_the_exit_code(
        github_api: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What plan/apply get: the `--publish` flag and one call after the report is written."""

    @click.command()
    @publish_option
    def plan(publish_to_forge: bool) -> None:
        report = make_report()
        publish_after_run(report, tmp_path / "report.json", publish_to_forge)

    assert CliRunner().invoke(plan, []).exit_code == 0
    assert github_api.requests == []
    for name, value in github_env(github_api, tmp_path).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(plan, ["--publish"])
    assert result.exit_code == 0, result.output
    assert len(github_api.comments[(REPO, 7)]) == 1
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_" + "zz" * 18)  # refused: a warning, no failure
    result = CliRunner().invoke(plan, ["--publish"])
    assert result.exit_code == 0
    assert "warning: publishing failed" in result.output and "Bad credentials" in result.output
    assert APP_TOKEN not in result.output


def test_pre_commit_finds_bootstrap_cluster_folders(tmp_path: Path) -> None:
    for cluster in ("production", "staging"):
        sync = tmp_path / "fleet" / cluster / "flux-system" / "gotk-sync.yaml"
        sync.parent.mkdir(parents=True)
        sync.write_text("{}")
    (tmp_path / ".venv" / "x" / "flux-system").mkdir(parents=True)
    (tmp_path / ".venv" / "x" / "flux-system" / "gotk-sync.yaml").write_text("{}")
    assert cluster_folders(tmp_path) == [tmp_path / "fleet" / "production",
                                         tmp_path / "fleet" / "staging"]
    (tmp_path / "other" / "clusters" / "a").mkdir(parents=True)
    assert cluster_folders(tmp_path / "other") == [tmp_path / "other" / "clusters" / "a"]
    assert split_args(["--path", "a", "--strict", "--path=b"]) == (["a", "b"], ["--strict"])


def test_pre_commit_without_a_cluster_folder_says_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([]) == 2
    assert "args: [--path, clusters/production]" in capsys.readouterr().err
