"""The Action and the ready-to-copy workflows, run for real by act (host mode, no Docker)
against the local control plane, with the GitHub API pointed at the contract server that
checks every request against GitHub's OpenAPI description and limits.

One user repository goes through a life: a push to main applies it (commit status, from a
classic token that cannot create check runs); a pull request plans a change twice (one check
run per head commit, one sticky comment edited in place, Secret values masked, the step
summary); a fork's pull request posts nothing; an invalid change fails with annotations; the
schedule runs the drift check.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from runner.controlplane.cluster import LocalCluster
from runner.publish import comment
from tests.ci import workspace
from tests.ci.conftest import APP_TOKEN, CLASSIC_TOKEN, READ_ONLY_TOKEN, REPO
from tests.forges import tools
from tests.forges.github_server import GitHubServer
from tests.integration.repo import (
    config_map,
    deployment,
    kustomization,
    make_repo,
    namespace,
    write,
)

pytestmark = pytest.mark.cluster

SCOPE = "ci-github"
APP_NS = f"{SCOPE}-app"
CONTEXT_PLAN = "gitops-runner/plan (clusters/test)"
FAKE_CHECKOUT = """name: checkout (local copy)
description: Stands in for actions/checkout; copies $SRC into the workspace.
inputs:
  fetch-depth:
    description: ignored
    default: "1"
runs:
  using: composite
  steps:
    - shell: bash
      run: cp -a "$SRC/." "$GITHUB_WORKSPACE/"
"""


def secret(name: str, ns: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "stringData": data}


def app_files(color: str, password: str, replicas: Any = 1) -> dict[str, list[dict[str, Any]]]:
    return {"app/all.yaml": [namespace(APP_NS), config_map("settings", APP_NS, color=color),
                             secret("creds", APP_NS, password=password),
                             deployment("web", APP_NS, replicas=replicas)]}


@dataclass
class Fleet:
    """The user's repository, the tools, and a way to run one workflow with act."""

    repo: Path
    act: Path
    fake_checkout: Path
    project: Path
    server: GitHubServer
    kubeconfig: str
    base: Path
    runs: list[tuple[str, float]] = field(default_factory=list)

    def run(self, event: str, workflow: str, payload: dict[str, Any], token: str
            ) -> subprocess.CompletedProcess[str]:
        payload_file = self.base / f"event-{len(self.runs)}.json"
        payload_file.write_bytes(orjson.dumps(payload))
        args = [str(self.act), event, "-W", f".github/workflows/{workflow}",
                "-e", str(payload_file), "-P", "ubuntu-latest=-self-hosted",
                "--local-repository", f"actions/checkout@v4={self.fake_checkout}",
                "--local-repository", f"gitops-runner/gitops-runner@v0.1.0={self.project}",
                "--env", f"SRC={self.repo}", "--env", f"GITHUB_API_URL={self.server.url}",
                "-s", f"GITHUB_TOKEN={token}", "-s", "KUBECONFIG", "--no-cache-server",
                "--container-daemon-socket", "-", "--defaultbranch", "main"]
        started = time.monotonic()
        result = subprocess.run(args, cwd=self.repo, capture_output=True, text=True,
                                timeout=900, env={**os.environ, "KUBECONFIG": self.kubeconfig},
                                check=False)
        self.runs.append((f"{event} {workflow}", time.monotonic() - started))
        print(f"act {event} {workflow}: exit {result.returncode} in "
              f"{time.monotonic() - started:.1f}s")
        (self.base / f"act-{len(self.runs)}.log").write_text(result.stdout + result.stderr)
        return result

    def pull_request(self, head: str, number: int = 1, fork: str = "") -> dict[str, Any]:
        """A pull_request payload; the work tree is set to GitHub's test merge commit, with
        the base branch fetched (as `actions/checkout` with `fetch-depth: 0` leaves it)."""
        workspace.git(self.repo, "update-ref", "refs/remotes/origin/main", "main")
        workspace.git(self.repo, "checkout", "-q", "-B", f"merge-{number}", "main")
        workspace.git(self.repo, "-c", "user.name=ci", "-c", "user.email=ci@example.com",
                      "merge", "-q", "--no-ff", "-m", "merge", head)
        return {"action": "synchronize", "number": number,
                "pull_request": {"number": number,
                                 "head": {"sha": head, "ref": "change",
                                          "repo": {"full_name": fork or REPO}},
                                 "base": {"sha": workspace.git(self.repo, "rev-parse", "main"),
                                          "ref": "main", "repo": {"full_name": REPO}}},
                "repository": {"full_name": REPO, "name": "fleet",
                               "owner": {"login": "acme"}}}

    def change(self, files: dict[str, list[dict[str, Any]]], message: str) -> str:
        """A new commit on the pull request's branch."""
        workspace.git(self.repo, "checkout", "-q", "change")
        write(self.repo, files)
        return workspace.commit(self.repo, message)


def workflow(project: Path, name: str, wheel: Path) -> str:
    """A ready-to-copy workflow as a user adapts it: their cluster folder; and, for the test
    only, the runner installed from this tree's wheel instead of PyPI."""
    text = (project / "examples" / "workflows" / name).read_text()
    text = text.replace("path: clusters/staging", "path: clusters/test")
    text, count = re.subn(r"(\n\s+)(command: \w+)\n", rf"\1\2\1runner-source: {wheel}\n", text)
    assert count == 1, name
    return text


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, project_source: Path, runner_wheel: Path,
          github_api: GitHubServer, local_cluster: LocalCluster) -> Iterator[Fleet]:
    base = tmp_path_factory.mktemp("act")
    repo = base / "fleet"
    make_repo(repo, SCOPE, [kustomization("app", SCOPE, "./app", wait=True)],
              app_files("blue", "hunter2"))
    for name in ("gitops-plan.yml", "gitops-apply.yml", "gitops-drift.yml"):
        path = repo / ".github" / "workflows" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(workflow(project_source, name, runner_wheel))
    workspace.git(repo, "init", "-q", "-b", "main")
    workspace.commit(repo, "fleet")
    workspace.git(repo, "remote", "add", "origin", f"https://github.com/{REPO}.git")
    workspace.git(repo, "branch", "change")
    fake = base / "fake-checkout"
    fake.mkdir()
    (fake / "action.yml").write_text(FAKE_CHECKOUT)
    github_api.reset_requests()
    state = Fleet(repo, tools.act(), fake, project_source, github_api,
                  local_cluster.kubeconfig.read_text(), base)
    yield state
    print("act runs: " + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in state.runs))
    print(f"GitHub API requests checked against the OpenAPI description: "
          f"{len(github_api.requests)}")


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    return log


def test_1_push_to_main_applies_and_sets_a_commit_status(fleet: Fleet,
                                                         local_cluster: LocalCluster) -> None:
    workspace.git(fleet.repo, "checkout", "-q", "main")
    sha = workspace.git(fleet.repo, "rev-parse", "HEAD")
    log = _ok(fleet.run("push", "gitops-apply.yml",
                        {"ref": "refs/heads/main", "after": sha, "before": "0" * 40,
                         "repository": {"full_name": REPO}}, CLASSIC_TOKEN))
    assert "gitops-runner apply: applied (exit 0)" in log
    statuses = fleet.server.statuses[(REPO, sha)]  # a classic token: no check run
    assert [(s["state"], s["context"]) for s in statuses] == [
        ("success", "gitops-runner/apply (clusters/test)")]
    assert statuses[0]["description"].startswith("apply: 4 created")
    assert fleet.server.comments == {}
    assert "Summary - ### gitops-runner apply succeeded" in log
    client = local_cluster.client()
    try:
        live = client.get(f"/api/v1/namespaces/{APP_NS}/configmaps/settings")
    finally:
        client.close()
    assert live["data"] == {"color": "blue"}
    assert not fleet.server.violations, fleet.server.violations


def test_2_pull_request_plan_comments_once_and_edits_in_place(fleet: Fleet) -> None:
    first = fleet.change(app_files("green", "swordfish"), "green")
    log = _ok(fleet.run("pull_request", "gitops-plan.yml", fleet.pull_request(first),
                        APP_TOKEN))
    merge = workspace.git(fleet.repo, "rev-parse", "HEAD")
    assert "plan result changes" in log
    assert "Summary - ### gitops-runner plan succeeded" in log
    comments = fleet.server.comments[(REPO, 1)]
    assert len(comments) == 1
    body = comments[0]["body"]
    assert comment.marker(CONTEXT_PLAN) in body
    assert "| `ci-github/app` |" in body and "+  color: green" in body
    assert "swordfish" not in body and "hunter2" not in body  # Secret values masked

    second = fleet.change(app_files("purple", "swordfish"), "purple")
    _ok(fleet.run("pull_request", "gitops-plan.yml", fleet.pull_request(second), APP_TOKEN))
    comments = fleet.server.comments[(REPO, 1)]
    assert len(comments) == 1, "the second run edits the comment, never adds one"
    assert "+  color: purple" in comments[0]["body"]
    runs = sorted(fleet.server.check_runs.values(), key=lambda r: r["id"])
    assert [(r["head_sha"], r["name"], r["conclusion"]) for r in runs] == [
        (first, CONTEXT_PLAN, "success"), (second, CONTEXT_PLAN, "success")]
    assert merge not in "".join(r.path for r in fleet.server.requests)  # never the merge SHA
    writes = [f"{r.method} {r.path}" for r in fleet.server.writes()]
    assert writes.count(f"POST /repos/{REPO}/issues/1/comments") == 1
    assert writes.count(f"PATCH /repos/{REPO}/issues/comments/{comments[0]['id']}") == 1
    assert not fleet.server.violations, fleet.server.violations


def test_3_a_fork_pull_request_posts_nothing_and_does_not_fail(fleet: Fleet) -> None:
    head = workspace.git(fleet.repo, "rev-parse", "change")
    before = len(fleet.server.requests)
    log = _ok(fleet.run("pull_request", "gitops-plan.yml",
                        fleet.pull_request(head, number=2, fork="someone/fleet"),
                        READ_ONLY_TOKEN))
    assert "nothing was posted to GitHub" in log and "someone/fleet" in log
    assert len(fleet.server.requests) == before
    assert "Summary - ### gitops-runner plan succeeded" in log


def test_4_an_invalid_change_fails_with_annotations(fleet: Fleet) -> None:
    head = fleet.change(app_files("purple", "swordfish", replicas="two"), "broken")
    result = fleet.run("pull_request", "gitops-plan.yml", fleet.pull_request(head), APP_TOKEN)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-4000:]
    assert "gitops-runner plan: invalid (exit 1)" in log
    assert re.search(r"::error file=app/all\.yaml,line=\d+", log) or "app/all.yaml" in log
    run = max(fleet.server.check_runs.values(), key=lambda r: r["id"])
    assert run["head_sha"] == head and run["conclusion"] == "failure"
    assert any(a["path"] == "app/all.yaml" for a in run["annotations"])
    body = fleet.server.comments[(REPO, 1)][0]["body"]
    assert "**Validation**: " in body and "app/all.yaml" in body
    assert len(fleet.server.comments[(REPO, 1)]) == 1
    assert not fleet.server.violations, fleet.server.violations


def test_5_the_schedule_runs_the_drift_check(fleet: Fleet) -> None:
    workspace.git(fleet.repo, "checkout", "-q", "main")
    sha = workspace.git(fleet.repo, "rev-parse", "HEAD")
    result = fleet.run("schedule", "gitops-drift.yml", {"schedule": "17 */6 * * *"},
                       CLASSIC_TOKEN)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "gitops-runner drift: no-drift (exit 0)" in log
    statuses = fleet.server.statuses[(REPO, sha)]
    assert statuses[-1]["context"] == "gitops-runner/drift (clusters/test)"
    assert statuses[-1]["state"] == "success"
    assert not fleet.server.violations, fleet.server.violations
