"""Fixtures for the publish tests: the forge contract servers (GitHub's checked against its
OpenAPI description) and run reports written as plan/apply write them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
import pytest

from runner.apply.changes import Action, Change, ChangeSet
from runner.cli import RunnerGroup
from runner.cli.publish import publish as publish_command
from runner.manifest import ObjectKey
from runner.report.model import HealthReport, KustomizationReport, Outcome, RunReport
from tests.forges import tools
from tests.forges.github_server import GitHubServer, Token
from tests.forges.gitlab_server import GitLabServer
from tests.forges.gitlab_server import Token as GitLabToken

APP_TOKEN = "ghs_" + "a1" * 18  # a GitHub App installation token, like GITHUB_TOKEN
CLASSIC_TOKEN = "ghp_" + "c3" * 18  # a classic personal access token: no check runs
READ_ONLY_TOKEN = "ghs_" + "r0" * 18  # what a fork's pull request gets
GITLAB_TOKEN = "glpat-" + "x9" * 10
GITLAB_READ_TOKEN = "glpat-" + "rd" * 10
HEAD_SHA = "1" * 40
MERGE_SHA = "2" * 40
REPO = "acme/fleet"


@pytest.fixture(scope="session")
def github_spec() -> Path:
    return tools.github_openapi()


@pytest.fixture()
def github_api(github_spec: Path) -> Iterator[GitHubServer]:
    server = GitHubServer(github_spec, {APP_TOKEN: Token("app"),
                                        CLASSIC_TOKEN: Token("classic"),
                                        READ_ONLY_TOKEN: Token("app", write=False)},
                          repositories=frozenset({REPO}))
    server.start()
    yield server
    server.stop()
    assert not server.violations, server.violations


@pytest.fixture()
def gitlab_api() -> Iterator[GitLabServer]:
    server = GitLabServer({GITLAB_TOKEN: GitLabToken(), GITLAB_READ_TOKEN: GitLabToken(
        ("read_api",))}, projects={"42": 42, "acme/fleet": 42}, merge_requests=(7,))
    server.start()
    yield server
    server.stop()


def cli() -> click.Group:
    """The publish command in a group that turns RunnerError into exit codes, as `main`."""
    group = RunnerGroup("gitops-runner")
    group.add_command(publish_command)
    return group


def pull_request_event(path: Path, number: int = 7, head_repo: str = REPO) -> Path:
    path.write_bytes(orjson.dumps({
        "action": "synchronize", "number": number,
        "pull_request": {"number": number, "head": {"sha": HEAD_SHA, "ref": "change",
                                                    "repo": {"full_name": head_repo}},
                         "base": {"sha": "3" * 40, "ref": "main",
                                  "repo": {"full_name": REPO}}}}))
    return path


def github_env(server: GitHubServer, tmp_path: Path, token: str = APP_TOKEN,
               head_repo: str = REPO, event: str = "pull_request") -> dict[str, str]:
    summary = tmp_path / "step-summary.md"
    summary.touch()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": REPO, "GITHUB_SHA": MERGE_SHA,
           "GITHUB_EVENT_NAME": event, "GITHUB_API_URL": server.url, "GITHUB_TOKEN": token,
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_RUN_ID": "99",
           "GITHUB_SERVER_URL": "https://github.com"}
    if event == "pull_request":
        env["GITHUB_EVENT_PATH"] = str(pull_request_event(tmp_path / "event.json",
                                                          head_repo=head_repo))
    return env


def gitlab_env(server: GitLabServer, token: str = GITLAB_TOKEN, mr: bool = True
               ) -> dict[str, str]:
    env = {"GITLAB_CI": "true", "CI_API_V4_URL": f"{server.url}/api/v4", "CI_PROJECT_ID": "42",
           "CI_COMMIT_SHA": HEAD_SHA, "CI_PIPELINE_ID": "555", "CI_COMMIT_REF_NAME": "change",
           "CI_JOB_URL": "https://gitlab.example/acme/fleet/-/jobs/9", "CI_JOB_TOKEN": "jobtok",
           "CI_PIPELINE_SOURCE": "merge_request_event" if mr else "push"}
    if token:
        env["GITOPS_RUNNER_GITLAB_TOKEN"] = token
    if mr:
        env["CI_MERGE_REQUEST_IID"] = "7"
    return env


def make_report(command: str = "plan", kustomizations: int = 2, diff_lines: int = 3,
                secret_value: str = "", failed: bool = False) -> RunReport:
    report = RunReport(command=command, path="clusters/staging", revision="main@sha1:abc")
    for index in range(kustomizations):
        changes = ChangeSet()
        changes.add(Change(ObjectKey("", "ConfigMap", "apps", f"settings-{index}"),
                           Action.CONFIGURED,
                           diff="--- live\n+++ desired\n@@ -1,3 +1,3 @@\n" + "".join(
                               f"-  key{n}: old\n+  key{n}: new\n" for n in range(diff_lines))))
        changes.add(Change(ObjectKey("apps", "Deployment", "apps", f"web-{index}"),
                           Action.CREATED))
        changes.add(Change(ObjectKey("", "Service", "apps", f"web-{index}"), Action.UNCHANGED))
        if secret_value:
            changes.add(Change(ObjectKey("", "Secret", "apps", "creds"), Action.CONFIGURED,
                               diff=("--- live\n+++ desired\n@@ -1,4 +1,4 @@\n apiVersion: v1\n"
                                     f" data:\n-  password: '***'\n+  password: {secret_value}\n"
                                     f"+  token: {secret_value}\n kind: Secret\n")))
        outcome = Outcome.FAILED if failed and index == 0 else (
            Outcome.PLANNED if command == "plan" else Outcome.APPLIED)
        report.kustomizations.append(KustomizationReport(
            name=f"apps-{index}", namespace="flux-system", path=f"./apps/{index}",
            outcome=outcome, reason="health check timed out" if outcome == Outcome.FAILED else "",
            changes=changes,
            pruned=[Change(ObjectKey("", "ConfigMap", "apps", f"old-{index}"), Action.DELETED)],
            health=HealthReport(checked=3, ready=3), timings={"total": 1.25 + index}))
    return report


def write_report(path: Path, report: RunReport) -> Path:
    path.write_bytes(orjson.dumps(report.to_json()))
    return path


def validation(findings: int = 1, errors: bool = True) -> dict[str, Any]:
    return {"valid": not (findings and errors), "summary": {},
            "findings": [{"rule": "schema", "severity": "error" if errors else "warning",
                          "message": f"spec.replicas: expected integer (finding {n})",
                          "object": f"Deployment/apps/web-{n}",
                          "kustomization": "flux-system/apps",
                          "file": f"apps/base/web-{n % 7}.yaml", "line": n + 1}
                         for n in range(findings)]}
