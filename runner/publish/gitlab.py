"""Publishing to GitLab: a commit status in the job's own pipeline (`pipeline_id`), one sticky
merge request note updated in place, and a Code Quality report of validation findings.

`CI_JOB_TOKEN` may not create commit statuses or notes: an access token with the `api` scope
is needed, and a setup without one gets an error saying exactly that, before any request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from runner.errors import RunnerError
from runner.publish import comment
from runner.publish.comment import Validation
from runner.publish.context import GitLabContext
from runner.publish.github import Result
from runner.publish.http import HttpClient, HttpError
from runner.report.model import RunReport

Log = Callable[[str], None]
TOKEN_HINT = ("create a project (or group) access token with the `api` scope and the "
              "Developer role (Settings > Access tokens), and store it as a masked CI/CD "
              "variable named GITOPS_RUNNER_GITLAB_TOKEN")


class TokenError(RunnerError):
    """The job has no token that may write commit statuses or notes."""


@dataclass
class Settings:
    context: str
    comment: bool = True
    status: bool = True
    report_hint: str = ""


class GitLabPublisher:
    def __init__(self, context: GitLabContext, log: Log, http: HttpClient | None = None) -> None:
        self.ctx = context
        self.log = log
        self.http = http or HttpClient(context.api_url, {"PRIVATE-TOKEN": context.token},
                                       log=log, retry_conflicts=True)
        self.http.retry_conflicts = True
        self.project = f"/projects/{quote(context.project_id, safe='')}"

    def check_token(self) -> None:
        if self.ctx.token:
            return
        if self.ctx.job_token_only:
            raise TokenError("GitLab's CI_JOB_TOKEN cannot create commit statuses or merge "
                             "request notes, and it is the only token this job has",
                             TOKEN_HINT)
        raise TokenError("no GitLab token: set GITOPS_RUNNER_GITLAB_TOKEN", TOKEN_HINT)

    def publish(self, report: RunReport | None, validation: Validation | None,
                settings: Settings) -> Result:
        result = Result()
        if settings.status or settings.comment:
            self.check_token()
        try:
            if settings.status:
                result.posted.append(self.post_status(report, validation, settings))
            if settings.comment:
                if self.ctx.merge_request_iid is None:
                    result.notes.append("not a merge request pipeline "
                                        f"({self.ctx.pipeline_source or 'unknown source'}): "
                                        "no note")
                else:
                    result.posted.append(self.upsert_note(report, validation, settings))
        except HttpError as error:
            if error.status in (401, 403):
                error.hint = (f"the token was refused (HTTP {error.status}): {TOKEN_HINT}")
            raise
        return result

    def post_status(self, report: RunReport | None, validation: Validation | None,
                    settings: Settings) -> str:
        state = "success" if comment.succeeded(report, validation) else "failed"
        body: dict[str, Any] = {"state": state, "name": settings.context,
                                "description": comment.description(report, validation)}
        if self.ctx.pipeline_id is not None:
            body["pipeline_id"] = self.ctx.pipeline_id  # else GitLab makes a new pipeline
        if self.ctx.ref:
            body["ref"] = self.ctx.ref
        if self.ctx.job_url:
            body["target_url"] = self.ctx.job_url
        self.http.request("POST", f"{self.project}/statuses/{self.ctx.sha}", json=body)
        return f"commit status {state} on {self.ctx.sha[:12]}"

    def upsert_note(self, report: RunReport | None, validation: Validation | None,
                    settings: Settings) -> str:
        text = comment.body(settings.context, report, validation, comment.GITLAB_NOTE_LIMIT,
                            self.ctx.job_url, settings.report_hint)
        notes = f"{self.project}/merge_requests/{self.ctx.merge_request_iid}/notes"
        found = self.find_sticky(notes, settings.context)
        if found:
            first, *duplicates = found
            self.http.request("PUT", f"{notes}/{first}", json={"body": text})
            for extra in duplicates:
                self.http.request("DELETE", f"{notes}/{extra}")
            return f"note {first} updated"
        response = self.http.request("POST", notes, json={"body": text})
        return f"note {response.body['id']} created"

    def find_sticky(self, notes: str, context: str) -> list[int]:
        found: list[int] = []
        page = "1"
        for _ in range(100):
            response = self.http.request("GET", notes, query={
                "per_page": 100, "page": page, "sort": "asc", "order_by": "created_at"})
            for item in response.body or []:
                if not item.get("system") and comment.is_sticky(str(item.get("body") or ""),
                                                                context):
                    found.append(int(item["id"]))
            page = response.header("x-next-page")
            if not page:
                break
        return sorted(found)


def codequality(validation: Validation) -> list[dict[str, Any]]:
    """A GitLab Code Quality report (the same issues as `validate -o gitlab`)."""
    issues = []
    for finding in validation.findings:
        fingerprint = hashlib.sha256(
            f"{finding.get('rule', '')}|{finding.get('object', '')}|{finding.get('file', '')}|"
            f"{finding.get('message', '')}".encode()).hexdigest()
        subject = finding.get("object") or finding.get("kustomization") or ""
        message = str(finding.get("message", ""))
        issues.append({
            "description": f"{subject}: {message}" if subject else message,
            "check_name": str(finding.get("rule", "validate")),
            "fingerprint": fingerprint,
            "severity": "major" if finding.get("severity", "error") == "error" else "minor",
            "location": {"path": str(finding.get("file") or "<render>"),
                         "lines": {"begin": max(int(finding.get("line") or 1), 1)}},
        })
    return issues


def write_codequality(validation: Validation | None, path: Path) -> None:
    issues = codequality(validation) if validation is not None else []
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(issues, option=orjson.OPT_INDENT_2) + b"\n")
