"""Publishing to GitLab, against the contract server of GitLab's documented request shapes."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from runner.publish import PublishOptions, comment, publish
from runner.publish.comment import Validation
from tests.forges.gitlab_server import GitLabServer
from tests.unit.publish.conftest import (
    GITLAB_READ_TOKEN,
    GITLAB_TOKEN,
    HEAD_SHA,
    cli,
    gitlab_env,
    make_report,
    validation,
    write_report,
)

CONTEXT = "gitops-runner/plan (clusters/staging)"


def run(env: dict[str, str], **options: object) -> list[str]:
    lines: list[str] = []
    publish(make_report(), None, PublishOptions(**options), lines.append,  # type: ignore[arg-type]
            env)
    return lines


def test_merge_request_gets_a_status_in_its_pipeline_and_one_sticky_note(
        gitlab_api: GitLabServer) -> None:
    env = gitlab_env(gitlab_api)
    run(env)
    run(env)
    assert not gitlab_api.violations
    statuses = gitlab_api.statuses[(42, HEAD_SHA)]
    assert [(s["status"], s["pipeline_id"], s["name"]) for s in statuses] == \
        [("success", 555, CONTEXT)] * 2
    assert all(len(s["description"]) <= 140 for s in statuses)
    notes = gitlab_api.notes[(42, 7)]
    assert len(notes) == 1 and comment.marker(CONTEXT) in notes[0]["body"]
    assert [r.method for r in gitlab_api.writes() if "notes" in r.path] == ["POST", "PUT"]


def test_a_job_token_only_setup_gets_a_clear_error(
        gitlab_api: GitLabServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in gitlab_env(gitlab_api, token="").items():
        monkeypatch.setenv(name, value)
    report = write_report(tmp_path / "report.json", make_report())
    result = CliRunner().invoke(cli(), ["publish", "--report", str(report)])
    assert result.exit_code == 2
    assert "CI_JOB_TOKEN cannot create commit statuses or merge request notes" in result.output
    assert "access token with the `api` scope" in result.output
    assert gitlab_api.requests == []  # said before sending anything


def test_a_token_without_the_api_scope_is_explained(gitlab_api: GitLabServer,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in gitlab_env(gitlab_api, token=GITLAB_READ_TOKEN).items():
        monkeypatch.setenv(name, value)
    report = write_report(tmp_path / "report.json", make_report())
    result = CliRunner().invoke(cli(), ["publish", "--report", str(report)])
    assert result.exit_code == 2
    assert "HTTP 403" in result.output and "`api` scope" in result.output
    assert GITLAB_READ_TOKEN not in result.output


def test_a_conflict_and_a_rate_limit_are_retried(gitlab_api: GitLabServer) -> None:
    gitlab_api.conflict_next(lambda r: "statuses" in r.path)
    gitlab_api.rate_limit_next(lambda r: r.method == "POST" and "notes" in r.path, "1")
    started = time.monotonic()
    run(gitlab_env(gitlab_api))
    assert time.monotonic() - started >= 1.0
    assert not gitlab_api.violations
    assert len(gitlab_api.statuses[(42, HEAD_SHA)]) == 1
    assert len(gitlab_api.notes[(42, 7)]) == 1


def test_a_branch_pipeline_gets_a_status_and_no_note(gitlab_api: GitLabServer) -> None:
    lines = run(gitlab_env(gitlab_api, mr=False))
    assert not gitlab_api.violations
    assert len(gitlab_api.statuses[(42, HEAD_SHA)]) == 1
    assert gitlab_api.notes == {}
    assert any("not a merge request pipeline (push)" in line for line in lines)


def test_validation_findings_make_a_code_quality_report(gitlab_api: GitLabServer,
                                                        tmp_path: Path) -> None:
    report_path = tmp_path / "gl-code-quality-report.json"
    findings = Validation(False, validation(3)["findings"])
    publish(None, findings, PublishOptions(codequality=report_path), lambda _: None,
            gitlab_env(gitlab_api))
    issues = orjson.loads(report_path.read_bytes())
    assert issues[0]["location"] == {"path": "apps/base/web-0.yaml",
                                                  "lines": {"begin": 1}}
    assert {i["severity"] for i in issues} == {"major"}
    assert len({i["fingerprint"] for i in issues}) == 3
    assert gitlab_api.statuses[(42, HEAD_SHA)][0]["status"] == "failed"
    assert "validation failed: 3 errors" in gitlab_api.statuses[(42, HEAD_SHA)][0]["description"]


def test_the_plain_token_is_sent_as_private_token(gitlab_api: GitLabServer) -> None:
    run(gitlab_env(gitlab_api, token=GITLAB_TOKEN))
    assert all(r.headers.get("private-token") == "***" for r in gitlab_api.requests)
