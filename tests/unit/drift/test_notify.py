"""Drift notifications against small local servers that check the requests' shape; GitHub's
requests also against GitHub's official OpenAPI description (@octokit/openapi), when npm can
install it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner.drift import notify
from runner.drift.model import Drift, DriftKind, DriftStatus
from runner.manifest import ObjectKey
from runner.report.model import KustomizationReport, Outcome, RunReport
from tests.unit.drift.fakeforge import Forge, Recorded, serve

TOKEN = "ghp_" + "S3cr3tT0kenValue1234567890"
OCTOKIT_OPENAPI = "23.0.2"


def report(*drift: Drift, ok: bool = True) -> RunReport:
    run = RunReport("drift", "clusters/prod", "main@sha1:abc", "https://k8s.example:6443")
    ks = KustomizationReport("apps", "flux-system", "./apps", drift=list(drift),
                             outcome=Outcome.DRIFTED if drift else Outcome.IN_SYNC)
    run.kustomizations = [ks, KustomizationReport("infra", "flux-system", "./infra", drift=[],
                                                  outcome=Outcome.IN_SYNC)]
    if not ok:
        run.errors.append("boom")
    return run


def modified(status: DriftStatus = DriftStatus.DETECTED) -> Drift:
    return Drift(DriftKind.MODIFIED, ObjectKey("apps", "Deployment", "podinfo", "web"),
                 reason="differs from Git: spec.replicas (set by kubectl-scale)",
                 fields=["spec.replicas"], diff="-  replicas: 5\n+  replicas: 2\n",
                 status=status)


# -- state and webhook ------------------------------------------------------------------------


def test_state_of_a_report() -> None:
    assert notify.state_of(report()).reason == "InSync"
    assert notify.state_of(report(modified())).reason == "DriftDetected"
    assert notify.state_of(report(modified(DriftStatus.CORRECTED))).reason == "DriftCorrected"
    untouched = report(modified(DriftStatus.UNTOUCHED))
    assert notify.state_of(untouched).remaining == 1
    assert notify.state_of(untouched, count_untouched=False).reason == "InSync"
    assert notify.state_of(report(modified(DriftStatus.FAILED), ok=False)).failed


def test_webhook_payload_is_slack_compatible_and_structured() -> None:
    run = report(modified())
    payload = notify.webhook_payload(run, notify.state_of(run))
    assert payload["text"].startswith(":warning: *gitops-runner*: `clusters/prod` drift detected")
    assert "Deployment.apps/podinfo/web" in payload["text"]
    assert payload["severity"] == "error" and payload["reason"] == "DriftDetected"
    assert payload["reportingController"] == "gitops-runner"
    assert payload["metadata"]["revision"] == "main@sha1:abc"
    assert payload["drift"] == {"detected": 1, "modified": 1}
    [apps] = payload["kustomizations"]
    assert apps["drift"][0]["fields"] == ["spec.replicas"]
    assert "diff" not in apps["drift"][0], "diffs can hold configuration values"


def test_webhook_is_posted_and_retried_without_leaking_its_url() -> None:
    with serve("github") as forge:
        url = f"{forge.url}/hook/T000/B000/XXXX"
        forge.fail_next.append((429, {"Retry-After": "0"}))
        run = report(modified())
        said = notify.send_webhook(url, run, notify.state_of(run))
        assert said == f"webhook {forge.url}: sent (DriftDetected)"
        assert [r.method for r in forge.requests] == ["POST", "POST"]
        sent = forge.requests[-1]
        assert sent.headers["Content-Type"] == "application/json"
        assert sent.body["reason"] == "DriftDetected"
        in_sync = report()
        assert "nothing to report" in notify.send_webhook(url, in_sync,
                                                          notify.state_of(in_sync))
        assert len(forge.requests) == 2
        with pytest.raises(notify.NotifyError) as error:
            notify.send_webhook(f"{forge.url}/not-a-hook/T000/B000/secret-part", run,
                                notify.state_of(run))
        assert "secret-part" not in str(error.value)


# -- GitHub -----------------------------------------------------------------------------------


def github_env(forge: Forge) -> dict[str, str]:
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": "acme/fleet",
            "GITHUB_API_URL": forge.url}


def test_github_issue_is_opened_updated_and_closed() -> None:
    with serve("github") as forge:
        issues = notify.GitHubIssues(github_env(forge))
        forge.add_issue(title="other", body="unrelated", labels=[{"name": notify.ISSUE_LABEL}])
        drifted = report(modified())
        assert issues.sync(drifted, notify.state_of(drifted), "prod") == \
            "GitHub issue #2 opened"
        issue = forge.issues[2]
        assert issue["labels"] == [{"name": notify.ISSUE_LABEL}]
        assert notify.marker("prod") in issue["body"] and "web" in issue["body"]
        assert issues.sync(drifted, notify.state_of(drifted), "prod") == \
            "GitHub issue #2 updated"
        assert forge.calls()[-1] == "GET /repos/acme/fleet/issues", "same body: no PATCH"
        worse = report(modified(), Drift(DriftKind.STRAY, ObjectKey("", "ConfigMap", "x", "y")))
        issues.sync(worse, notify.state_of(worse), "prod")
        assert forge.calls()[-1] == "PATCH /repos/acme/fleet/issues/2"
        assert "ConfigMap/x/y" in issue["body"]
        other_cluster = notify.GitHubIssues(github_env(forge))
        assert other_cluster.sync(drifted, notify.state_of(drifted), "staging") == \
            "GitHub issue #3 opened", "one issue per key"
        fixed = report(modified(DriftStatus.CORRECTED))
        assert issues.sync(fixed, notify.state_of(fixed), "prod") == "GitHub issue #2 closed"
        assert issue["state"] == "closed" and issue["state_reason"] == "completed"
        assert "Corrected by gitops-runner" in forge.comments[2][0]
        assert issues.sync(report(), notify.state_of(report()), "prod") == \
            "GitHub: in sync, no drift issue open"
        for request in forge.requests:
            assert request.headers["Authorization"] == f"Bearer {TOKEN}"
            assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
            assert request.path.startswith("/repos/acme/fleet/issues")
        assert_github_contract(forge.requests)


def test_github_errors_name_the_permission_and_never_the_token() -> None:
    with pytest.raises(notify.NotifyError, match="GITHUB_TOKEN and GITHUB_REPOSITORY"):
        notify.GitHubIssues({"GITHUB_REPOSITORY": "acme/fleet"})
    with serve("github") as forge:
        env = github_env(forge) | {"GITHUB_REPOSITORY": "acme/fleet"}
        forge.fail_next.append((403, {}))
        issues = notify.GitHubIssues(env)
        with pytest.raises(notify.NotifyError) as error:
            issues.sync(report(modified()), notify.state_of(report(modified())), "prod")
        assert "HTTP 403" in error.value.message and "issues: write" in error.value.hint
        assert TOKEN not in str(error.value)


def test_github_issue_body_fits_githubs_limit() -> None:
    many = [Drift(DriftKind.MODIFIED, ObjectKey("", "ConfigMap", "ns", f"c{i}"),
                  reason="differs", diff="-  a: 1\n+  a: 2\n" * 50) for i in range(400)]
    body = notify.issue_body(report(*many), "prod", notify.GITHUB_BODY_MAX)
    assert len(body) <= 65536 and body.rstrip().endswith(notify.marker("prod"))


# -- GitLab -----------------------------------------------------------------------------------


def gitlab_env(forge: Forge) -> dict[str, str]:
    return {"GITLAB_TOKEN": "glpat-S3cr3tT0kenValue123", "CI_API_V4_URL": f"{forge.url}/api/v4",
            "CI_PROJECT_ID": "acme/fleet"}


def test_gitlab_issue_is_opened_updated_and_closed() -> None:
    with serve("gitlab") as forge:
        issues = notify.GitLabIssues(gitlab_env(forge))
        drifted = report(modified())
        assert issues.sync(drifted, notify.state_of(drifted), "prod") == \
            "GitLab issue #1 opened"
        created = forge.requests[-1]
        assert created.path == "/api/v4/projects/acme%2Ffleet/issues"
        assert created.body["labels"] == notify.ISSUE_LABEL
        assert set(created.body) == {"title", "description", "labels"}
        listing = forge.requests[0]
        assert listing.query["state"] == "opened" and listing.query["labels"] == \
            notify.ISSUE_LABEL
        worse = report(modified(), Drift(DriftKind.MISSING, ObjectKey("", "Secret", "a", "b")))
        assert issues.sync(worse, notify.state_of(worse), "prod") == "GitLab issue #1 updated"
        assert forge.requests[-1].method == "PUT"
        assert issues.sync(report(), notify.state_of(report()), "prod") == \
            "GitLab issue #1 closed"
        assert forge.requests[-1].body == {"state_event": "close"}
        assert forge.comments[1] == [notify.closing_comment(report(),
                                                            notify.state_of(report()))]
        assert all(r.headers["PRIVATE-TOKEN"] == "glpat-S3cr3tT0kenValue123"
                   for r in forge.requests)


def test_gitlab_ci_job_token_is_refused_with_a_clear_reason() -> None:
    with pytest.raises(notify.NotifyError) as error:
        notify.GitLabIssues({"CI_JOB_TOKEN": "x", "CI_PROJECT_ID": "1"})
    assert "CI_JOB_TOKEN cannot create or edit issues" in error.value.hint
    assert "api" in error.value.hint


# -- GitHub's OpenAPI description ----------------------------------------------------------


def _octokit_spec() -> dict[str, Any] | None:
    """GitHub's OpenAPI description from the npm package @octokit/openapi (cached)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / \
        "gitops-runner" / "octokit-openapi" / OCTOKIT_OPENAPI
    spec = cache / "node_modules/@octokit/openapi/generated/api.github.com.json"
    if not spec.exists():
        npm = shutil.which("npm")
        if npm is None:
            return None
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix",
                            str(cache), f"@octokit/openapi@{OCTOKIT_OPENAPI}"],
                           check=True, capture_output=True, timeout=240)
        except (subprocess.SubprocessError, OSError):
            return None
    loaded: dict[str, Any] = json.loads(spec.read_text())
    return loaded


def assert_github_contract(requests: list[Recorded]) -> None:
    """Every request is one GitHub's OpenAPI description allows (path, query, body)."""
    openapi_core = pytest.importorskip("openapi_core", reason="openapi-core is not installed")
    from openapi_core.testing import MockRequest

    spec = _octokit_spec()
    if spec is None:
        pytest.skip("npm could not install @octokit/openapi: GitHub contract not checked")
    spec["paths"] = {p: v for p, v in spec["paths"].items()
                     if p.startswith("/repos/{owner}/{repo}/issues")}
    api = openapi_core.OpenAPI.from_dict(spec, config=openapi_core.Config(
        spec_validator_cls=None))
    for request in requests:
        mock = MockRequest("https://api.github.com", request.method.lower(), request.path,
                           args=request.query,
                           data=json.dumps(request.body) if request.body is not None else None,
                           content_type="application/json")
        api.validate_request(mock)
