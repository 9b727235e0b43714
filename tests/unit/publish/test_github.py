"""Publishing to GitHub, against the contract server that checks every request with GitHub's
OpenAPI description and documented limits (the fixture fails a test on any violation)."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from runner.errors import RunnerError
from runner.publish import PublishOptions, comment, publish
from runner.publish.comment import Validation
from runner.publish.context import github as github_context
from runner.publish.github import GitHubPublisher, Settings
from runner.publish.http import HttpClient, RetryPolicy
from tests.forges.github_server import GitHubServer
from tests.unit.publish.conftest import (
    APP_TOKEN,
    CLASSIC_TOKEN,
    HEAD_SHA,
    MERGE_SHA,
    READ_ONLY_TOKEN,
    REPO,
    cli,
    github_env,
    make_report,
    validation,
    write_report,
)

CONTEXT = "gitops-runner/plan (clusters/staging)"


def run(env: dict[str, str], report_options: dict[str, object] | None = None,
        findings: Validation | None = None, **options: object) -> list[str]:
    lines: list[str] = []
    report = make_report(**(report_options or {}))  # type: ignore[arg-type]
    publish(report, findings, PublishOptions(**options), lines.append, env)  # type: ignore[arg-type]
    return lines


def test_pull_request_gets_a_check_run_on_the_head_commit_and_one_sticky_comment(
        github_api: GitHubServer, tmp_path: Path) -> None:
    env = github_env(github_api, tmp_path)
    run(env)
    run(env)  # the second run edits the comment, never adds one
    runs = list(github_api.check_runs.values())
    assert [r["head_sha"] for r in runs] == [HEAD_SHA, HEAD_SHA]  # never the merge commit
    assert runs[0]["name"] == CONTEXT and runs[0]["conclusion"] == "success"
    comments = github_api.comments[(REPO, 7)]
    assert len(comments) == 1
    body = comments[0]["body"]
    assert comment.marker(CONTEXT) in body
    assert "| `flux-system/apps-0` |" in body and "<details>" in body
    methods = [f"{r.method} {r.path}" for r in github_api.writes()]
    assert methods.count(f"POST /repos/{REPO}/issues/7/comments") == 1
    assert methods.count(f"PATCH /repos/{REPO}/issues/comments/{comments[0]['id']}") == 1
    assert MERGE_SHA not in "".join(r.path for r in github_api.requests)


def test_classic_token_falls_back_to_a_commit_status(github_api: GitHubServer,
                                                     tmp_path: Path) -> None:
    lines = run(github_env(github_api, tmp_path, token=CLASSIC_TOKEN),
                report_options={"failed": True})
    statuses = github_api.statuses[(REPO, HEAD_SHA)]
    assert [s["state"] for s in statuses] == ["failure"]
    assert statuses[0]["context"] == CONTEXT
    assert statuses[0]["target_url"] == f"https://github.com/{REPO}/actions/runs/99"
    assert len(statuses[0]["description"]) <= 140
    assert any("posting a commit status instead" in line for line in lines)


def test_descriptions_stay_within_140_characters(github_api: GitHubServer,
                                                 tmp_path: Path) -> None:
    report = make_report(failed=True)
    report.kustomizations[0].name = "a-very-long-kustomization-name-" * 6
    report.errors.append("x" * 500)
    publish(report, Validation(False, validation(3)["findings"]),
            PublishOptions(status_api="commit-status", context="c" * 100), lambda _: None,
            github_env(github_api, tmp_path))
    description = github_api.statuses[(REPO, HEAD_SHA)][0]["description"]
    assert 0 < len(description) <= 140


def test_big_diffs_are_cut_to_fit_with_a_pointer_to_the_full_report(
        github_api: GitHubServer, tmp_path: Path) -> None:
    env = github_env(github_api, tmp_path)
    run(env, report_options={"kustomizations": 30, "diff_lines": 300})
    body = github_api.comments[(REPO, 7)][0]["body"]
    assert len(body) <= comment.GITHUB_COMMENT_LIMIT
    assert "Diffs were cut to fit" in body
    assert f"https://github.com/{REPO}/actions/runs/99" in body
    assert "| `flux-system/apps-29` |" in body  # every Kustomization keeps its row
    summary = github_api.check_runs[min(github_api.check_runs)]["output"]["summary"]
    assert len(summary.encode()) <= 65_535


def test_secret_values_are_masked_everywhere(github_api: GitHubServer,
                                             tmp_path: Path) -> None:
    env = github_env(github_api, tmp_path)
    report = make_report(secret_value="c3VwZXJzZWNyZXQ=")
    path = write_report(tmp_path / "report.json", report)
    publish(comment.load_report(path), None, PublishOptions(), lambda _: None, env)
    posted = orjson.dumps([r.body for r in github_api.requests]).decode()
    posted += Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "c3VwZXJzZWNyZXQ=" not in posted
    assert "password: '***'" in posted


def test_a_fork_pull_request_posts_nothing_and_says_so(
        github_api: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = github_env(github_api, tmp_path, token=READ_ONLY_TOKEN, head_repo="someone/fleet")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    report = write_report(tmp_path / "report.json", make_report())
    result = CliRunner().invoke(cli(), ["publish", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "nothing was posted to GitHub" in result.output
    assert "fork someone/fleet" in result.output
    assert github_api.requests == []
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "gitops-runner plan succeeded" in summary and "read-only token" in summary


def test_a_read_only_token_found_at_run_time_does_not_fail(github_api: GitHubServer,
                                                           tmp_path: Path) -> None:
    lines = run(github_env(github_api, tmp_path, token=READ_ONLY_TOKEN))
    assert any("nothing was posted" in line and "not accessible" in line for line in lines)
    assert github_api.comments == {} and github_api.statuses == {}


def test_retry_after_and_rate_limit_reset_are_honoured(github_api: GitHubServer,
                                                       tmp_path: Path) -> None:
    github_api.rate_limit_next(lambda r: r.method == "POST", {"retry-after": "1"}, 429)
    reset = int(time.time()) + 2
    github_api.rate_limit_next(lambda r: r.method == "GET", {
        "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset),
        "x-ratelimit-limit": "5000"})
    started = time.monotonic()
    lines = run(github_env(github_api, tmp_path))
    assert time.monotonic() - started >= 1.0
    assert time.time() >= reset
    assert sum("retrying in" in line for line in lines) == 2
    assert len(github_api.comments[(REPO, 7)]) == 1  # the server checks nothing came early


def test_retries_are_bounded(github_api: GitHubServer, tmp_path: Path) -> None:
    for _ in range(3):
        github_api.rate_limit_next(lambda r: r.method == "POST", {"retry-after": "0"}, 429)
    ctx = github_context(github_env(github_api, tmp_path))
    http = HttpClient(ctx.api_url, {"Authorization": f"Bearer {ctx.token}"},
                      policy=RetryPolicy(max_attempts=3))
    publisher = GitHubPublisher(ctx, lambda _: None, http)
    with pytest.raises(RunnerError, match="gave up after 3 attempts") as error:
        publisher.publish(make_report(), None, Settings(CONTEXT, comment=False,
                                                        status_api="commit-status"))
    assert APP_TOKEN not in str(error.value)


def test_a_wait_beyond_the_budget_fails_at_once(github_api: GitHubServer,
                                                tmp_path: Path) -> None:
    github_api.rate_limit_next(lambda r: True, {"retry-after": "3600"}, 429)
    ctx = github_context(github_env(github_api, tmp_path))
    http = HttpClient(ctx.api_url, {"Authorization": f"Bearer {ctx.token}"},
                      policy=RetryPolicy(max_wait=60))
    started = time.monotonic()
    with pytest.raises(RunnerError, match="next wait would be 3600s"):
        GitHubPublisher(ctx, lambda _: None, http).publish(
            make_report(), None, Settings(CONTEXT, status=False))
    assert time.monotonic() - started < 5
    github_api.reset_requests()  # the early retry this test provoked is not a violation


def test_validation_findings_become_annotations_in_batches_of_50(
        github_api: GitHubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    findings = Validation(False, validation(120)["findings"])
    run(github_env(github_api, tmp_path), findings=findings)
    check_run = next(iter(github_api.check_runs.values()))
    assert check_run["conclusion"] == "failure"
    assert len(check_run["annotations"]) == 120
    assert check_run["annotations"][0]["path"] == "apps/base/web-0.yaml"
    patches = [r for r in github_api.requests if r.method == "PATCH" and "check-runs" in r.path]
    assert len(patches) == 2
    out = capsys.readouterr().out
    assert out.count("::error file=apps/base/web-") == 50  # GitHub keeps 50 a job
    assert "70 more findings" in out
    body = github_api.comments[(REPO, 7)][0]["body"]
    assert "**Validation**: 120 errors" in body and "and 90 more" in body


def test_duplicate_sticky_comments_from_a_race_are_removed(github_api: GitHubServer,
                                                           tmp_path: Path) -> None:
    env = github_env(github_api, tmp_path)
    run(env)
    first = github_api.comments[(REPO, 7)][0]
    github_api.comments[(REPO, 7)].append({**first, "id": 99999})
    run(env)
    assert [c["id"] for c in github_api.comments[(REPO, 7)]] == [first["id"]]


def test_the_sticky_comment_is_found_past_the_first_page(github_api: GitHubServer,
                                                         tmp_path: Path) -> None:
    env = github_env(github_api, tmp_path)
    for _ in range(130):
        github_api._create_comment(_post(f"/repos/{REPO}/issues/7/comments"), REPO, 7)
    run(env)
    run(env)
    sticky = github_api.sticky_comments(REPO, 7, comment.marker(CONTEXT))
    assert len(sticky) == 1
    pages = [r.query.get("page") for r in github_api.requests if r.method == "GET"]
    assert "2" in pages


def test_contexts_keep_separate_comments(github_api: GitHubServer, tmp_path: Path) -> None:
    env = github_env(github_api, tmp_path)
    run(env, context="staging")
    run(env, context="production")
    run(env, context="staging")
    assert len(github_api.comments[(REPO, 7)]) == 2


def test_the_step_summary_stays_within_1_mib(github_api: GitHubServer,
                                             tmp_path: Path) -> None:
    env = github_env(github_api, tmp_path)
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    summary.write_text("x" * (1024 * 1024 - 20_000))
    run(env, report_options={"kustomizations": 30, "diff_lines": 300})
    assert summary.stat().st_size <= 1024 * 1024
    assert "gitops-runner plan succeeded" in summary.read_text()


def test_push_events_get_a_status_and_no_comment(github_api: GitHubServer,
                                                 tmp_path: Path) -> None:
    env = github_env(github_api, tmp_path, token=CLASSIC_TOKEN, event="push")
    lines = run(env, report_options={"command": "apply"})
    assert [s["state"] for s in github_api.statuses[(REPO, MERGE_SHA)]] == ["success"]
    assert github_api.comments == {}
    assert any("no pull request for a push event" in line for line in lines)


def test_tokens_never_reach_the_output(github_api: GitHubServer, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    env = github_env(github_api, tmp_path, token=APP_TOKEN)
    env["GITHUB_REPOSITORY"] = "acme/missing-" + APP_TOKEN  # echoed back in error messages
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    report = write_report(tmp_path / "report.json", make_report())
    result = CliRunner().invoke(cli(), ["publish", "--report", str(report)])
    assert result.exit_code == 2
    assert APP_TOKEN not in result.output
    github_api.reset_requests()  # off-repository requests are what this test provokes


def _post(path: str) -> object:
    from tests.forges.contract import Recorded

    return Recorded("POST", path, {}, {"body": "an unrelated comment"}, {}, time.time())
