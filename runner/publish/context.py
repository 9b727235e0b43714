"""Where a run is published: the forge, repository, commit and pull/merge request, read from
the CI environment (and, on GitHub, from the event payload at `$GITHUB_EVENT_PATH`).

GitHub: on `pull_request` events `GITHUB_SHA` is the test merge commit, which nobody looks at:
statuses go to `pull_request.head.sha`. A pull request from a fork (or from Dependabot) gets a
read-only token, so nothing can be posted; that is detected here, before any request.

GitLab: `CI_JOB_TOKEN` cannot create commit statuses or notes; an access token with the `api`
scope is needed (`GITOPS_RUNNER_GITLAB_TOKEN`, or `GITLAB_TOKEN`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from runner.errors import RunnerError

GITHUB_TOKEN_VARIABLES = ("GITOPS_RUNNER_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN")
GITLAB_TOKEN_VARIABLES = ("GITOPS_RUNNER_GITLAB_TOKEN", "GITLAB_TOKEN")


class ContextError(RunnerError):
    """The CI environment does not say enough to publish."""


@dataclass
class GitHubContext:
    api_url: str
    repository: str  # owner/name
    sha: str  # the commit to report on: the PR's head, never the merge commit
    event_name: str
    token: str = field(default="", repr=False)
    pull_number: int | None = None
    run_url: str = ""
    step_summary: Path | None = None
    read_only_reason: str = ""  # why the token cannot write ("" if it can)
    server_url: str = "https://github.com"


@dataclass
class GitLabContext:
    api_url: str  # .../api/v4
    project_id: str
    sha: str
    pipeline_id: int | None = None
    merge_request_iid: int | None = None
    ref: str = ""
    token: str = field(default="", repr=False)
    job_token_only: bool = False
    job_url: str = ""
    pipeline_source: str = ""


def detect_forge(env: Mapping[str, str]) -> str:
    """"github", "gitlab", or "" when neither CI is recognised."""
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_REPOSITORY"):
        return "github"
    if env.get("GITLAB_CI") == "true" or env.get("CI_PROJECT_ID"):
        return "gitlab"
    return ""


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str:
    return next((env[n] for n in names if env.get(n)), "")


def github(env: Mapping[str, str] | None = None) -> GitHubContext:
    env = os.environ if env is None else env
    repository = env.get("GITHUB_REPOSITORY", "")
    if not repository or "/" not in repository:
        raise ContextError("GITHUB_REPOSITORY is not set: not running in GitHub Actions?",
                           "run publish in a workflow, or set GITHUB_REPOSITORY=owner/name, "
                           "GITHUB_SHA and GITHUB_EVENT_PATH yourself")
    event = _load_event(env.get("GITHUB_EVENT_PATH", ""))
    event_name = env.get("GITHUB_EVENT_NAME", "")
    sha = env.get("GITHUB_SHA", "")
    pull_number: int | None = None
    read_only = ""
    pull = event.get("pull_request")
    if isinstance(pull, dict):
        pull_number = int(pull["number"]) if pull.get("number") else None
        head = pull.get("head") or {}
        sha = str(head.get("sha") or sha)  # never the test merge commit
        head_repo = (head.get("repo") or {}).get("full_name", "")
        base_repo = ((pull.get("base") or {}).get("repo") or {}).get("full_name", repository)
        if event_name == "pull_request" and head_repo and head_repo != base_repo:
            read_only = (f"the pull request comes from the fork {head_repo}: GitHub gives its "
                         "workflows a read-only token")
    elif event_name in ("issue_comment",) and (event.get("issue") or {}).get("pull_request"):
        pull_number = int(event["issue"]["number"])
    if env.get("GITHUB_ACTOR") == "dependabot[bot]" and event_name == "pull_request":
        read_only = read_only or "Dependabot pull requests get a read-only token"
    if not sha:
        raise ContextError("no commit to report on: GITHUB_SHA is not set")
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    run_id = env.get("GITHUB_RUN_ID", "")
    summary = env.get("GITHUB_STEP_SUMMARY", "")
    return GitHubContext(
        api_url=(env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
        repository=repository, sha=sha, event_name=event_name,
        token=_first(env, GITHUB_TOKEN_VARIABLES), pull_number=pull_number,
        run_url=f"{server}/{repository}/actions/runs/{run_id}" if run_id else "",
        step_summary=Path(summary) if summary else None, read_only_reason=read_only,
        server_url=server)


def gitlab(env: Mapping[str, str] | None = None) -> GitLabContext:
    env = os.environ if env is None else env
    project = env.get("CI_PROJECT_ID", "")
    api_url = env.get("CI_API_V4_URL", "").rstrip("/")
    sha = env.get("CI_COMMIT_SHA", "")
    if not project or not api_url or not sha:
        raise ContextError("CI_PROJECT_ID, CI_API_V4_URL and CI_COMMIT_SHA must be set: not "
                           "running in GitLab CI?",
                           "run publish in a GitLab CI job")
    token = _first(env, GITLAB_TOKEN_VARIABLES)
    pipeline = env.get("CI_PIPELINE_ID", "")
    mr_iid = env.get("CI_MERGE_REQUEST_IID", "")
    return GitLabContext(
        api_url=api_url, project_id=project, sha=sha,
        pipeline_id=int(pipeline) if pipeline.isdigit() else None,
        merge_request_iid=int(mr_iid) if mr_iid.isdigit() else None,
        ref=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or env.get("CI_COMMIT_REF_NAME", ""),
        token=token, job_token_only=not token and bool(env.get("CI_JOB_TOKEN")),
        job_url=env.get("CI_JOB_URL", ""), pipeline_source=env.get("CI_PIPELINE_SOURCE", ""))


def _load_event(path: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        return {}
    except orjson.JSONDecodeError as error:
        raise ContextError(f"GITHUB_EVENT_PATH {path} is not JSON: {error}") from None
    return data if isinstance(data, dict) else {}
