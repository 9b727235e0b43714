"""Publishing to GitHub: a check run (falling back to a commit status) on the pull request's
head commit, one sticky pull request comment, the step summary, and annotations.

Limits honoured: status descriptions <= 140 characters, comment bodies <= 65,536
characters, check run summaries <= 65,535 bytes with at most 50 annotations a request (the
rest through PATCH, which appends), the step summary <= 1 MiB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from runner.publish import comment
from runner.publish.comment import Validation
from runner.publish.context import GitHubContext
from runner.publish.http import HttpClient, HttpError, next_link
from runner.report.model import RunReport

API_VERSION = "2022-11-28"
CHECK_SUMMARY_BYTES = 65_535
STEP_SUMMARY_BYTES = 1024 * 1024
ANNOTATIONS_PER_REQUEST = 50
WORKFLOW_ANNOTATIONS = 50  # GitHub keeps at most 50 annotations of a job
Log = Callable[[str], None]


class ReadOnlyToken(Exception):
    """The token may read but not write (a fork's pull request, missing permissions)."""


@dataclass
class Settings:
    context: str
    comment: bool = True
    status: bool = True
    summary: bool = True
    annotations: bool = True
    status_api: str = "auto"  # auto | check-run | commit-status
    report_hint: str = ""


@dataclass
class Result:
    posted: list[str] = field(default_factory=list)  # what was written, e.g. "comment 12"
    notes: list[str] = field(default_factory=list)  # what was not, and why


class GitHubPublisher:
    def __init__(self, context: GitHubContext, log: Log, http: HttpClient | None = None) -> None:
        self.ctx = context
        self.log = log
        auth = {"Authorization": f"Bearer {context.token}"} if context.token else {}
        self.http = http or HttpClient(context.api_url, auth, log=log)
        self.http.auth.update({"X-GitHub-Api-Version": API_VERSION,
                               "Accept": "application/vnd.github+json"})
        self.repo = "/repos/" + "/".join(quote(p, safe="") for p in
                                         context.repository.split("/", 1))

    def publish(self, report: RunReport | None, validation: Validation | None,
                settings: Settings) -> Result:
        result = Result()
        if settings.annotations and validation is not None:
            self.print_annotations(validation)
        read_only = self.ctx.read_only_reason
        if not read_only and not self.ctx.token and (settings.status or settings.comment):
            read_only = "no token: set the `token` input or GITHUB_TOKEN"
        if not read_only:
            try:
                if settings.status:
                    result.posted.append(self.post_status(report, validation, settings))
                if settings.comment:
                    if self.ctx.pull_number is None:
                        event = self.ctx.event_name or "non-PR"
                        result.notes.append(f"no pull request for a {event} event: no comment")
                    else:
                        result.posted.append(self.upsert_comment(report, validation, settings))
            except ReadOnlyToken as why:
                read_only = str(why)
        if read_only:
            result.notes.append(f"nothing was posted to GitHub: {read_only}")
        if settings.summary and self.ctx.step_summary is not None:
            self.write_step_summary(report, validation, settings, result.notes)
            result.posted.append("step summary")
        return result

    # -- statuses ----------------------------------------------------------------------------

    def post_status(self, report: RunReport | None, validation: Validation | None,
                    settings: Settings) -> str:
        if settings.status_api in ("auto", "check-run"):
            try:
                return self.create_check_run(report, validation, settings)
            except HttpError as error:
                if settings.status_api == "check-run" or error.status not in (403, 404):
                    raise self._explain(error) from None
                self.log(f"check runs are not available to this token (HTTP {error.status}); "
                         "posting a commit status instead")
        return self.create_status(report, validation, settings)

    def create_status(self, report: RunReport | None, validation: Validation | None,
                      settings: Settings) -> str:
        body: dict[str, Any] = {
            "state": "success" if comment.succeeded(report, validation) else "failure",
            "description": comment.description(report, validation),
            "context": settings.context}
        if self.ctx.run_url:
            body["target_url"] = self.ctx.run_url
        try:
            self.http.request("POST", f"{self.repo}/statuses/{self.ctx.sha}", json=body)
        except HttpError as error:
            raise self._explain(error) from None
        return f"commit status {body['state']} on {self.ctx.sha[:12]}"

    def create_check_run(self, report: RunReport | None, validation: Validation | None,
                         settings: Settings) -> str:
        annotations = check_annotations(validation)
        summary = comment.fit_bytes(comment.body(settings.context, report, validation, 60_000,
                                                 self.ctx.run_url, settings.report_hint,
                                                 sticky=False), CHECK_SUMMARY_BYTES)
        title = comment.description(report, validation)
        output: dict[str, Any] = {"title": title, "summary": summary,
                                  "annotations": annotations[:ANNOTATIONS_PER_REQUEST]}
        body: dict[str, Any] = {
            "name": settings.context, "head_sha": self.ctx.sha, "status": "completed",
            "conclusion": "success" if comment.succeeded(report, validation) else "failure",
            "output": output}
        if self.ctx.run_url:
            body["details_url"] = self.ctx.run_url
        response = self.http.request("POST", f"{self.repo}/check-runs", json=body)
        check_id = int(response.body["id"])
        for start in range(ANNOTATIONS_PER_REQUEST, len(annotations), ANNOTATIONS_PER_REQUEST):
            more = {"title": title, "summary": summary,
                    "annotations": annotations[start:start + ANNOTATIONS_PER_REQUEST]}
            try:
                self.http.request("PATCH", f"{self.repo}/check-runs/{check_id}",
                                  json={"output": more})
            except HttpError as error:
                raise self._explain(error) from None
        return f"check run {check_id} ({body['conclusion']}) on {self.ctx.sha[:12]}"

    # -- the sticky comment ------------------------------------------------------------------

    def upsert_comment(self, report: RunReport | None, validation: Validation | None,
                       settings: Settings) -> str:
        text = comment.body(settings.context, report, validation, comment.GITHUB_COMMENT_LIMIT,
                            self.ctx.run_url, settings.report_hint)
        try:
            found = self.find_sticky(settings.context)
            if found:
                first, *duplicates = found
                self.http.request("PATCH", f"{self.repo}/issues/comments/{first}",
                                  json={"body": text})
                for extra in duplicates:  # left by a race between two runs
                    self.http.request("DELETE", f"{self.repo}/issues/comments/{extra}")
                return f"comment {first} updated"
            response = self.http.request(
                "POST", f"{self.repo}/issues/{self.ctx.pull_number}/comments", json={"body": text})
        except HttpError as error:
            raise self._explain(error) from None
        return f"comment {response.body['id']} created"

    def find_sticky(self, context: str) -> list[int]:
        found: list[int] = []
        url = f"{self.repo}/issues/{self.ctx.pull_number}/comments"
        query: dict[str, Any] | None = {"per_page": 100, "page": 1}
        for _ in range(100):  # 10,000 comments at most
            response = self.http.request("GET", url, query=query)
            for item in response.body or []:
                if comment.is_sticky(str(item.get("body") or ""), context):
                    found.append(int(item["id"]))
            url = next_link(response.header("link"))
            query = None
            if not url:
                break
        return sorted(found)

    # -- step summary and annotations --------------------------------------------------------

    def write_step_summary(self, report: RunReport | None, validation: Validation | None,
                           settings: Settings, notes: list[str]) -> None:
        path = self.ctx.step_summary
        assert path is not None
        used = path.stat().st_size if path.exists() else 0
        extra = "".join(f"\n> [!NOTE]\n> {note}\n" for note in notes)
        room = STEP_SUMMARY_BYTES - used - len(extra.encode()) - 16
        if room <= 0:
            self.log("the step summary is full (1 MiB): not adding the report")
            return
        text = comment.body(settings.context, report, validation, min(room, 900_000),
                            self.ctx.run_url, settings.report_hint, sticky=False)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(comment.fit_bytes(text, room) + extra)

    def print_annotations(self, validation: Validation) -> None:
        """Workflow-command annotations on the files that caused each finding (need no token,
        so fork pull requests get them too)."""
        shown = 0
        for finding in validation.findings[:WORKFLOW_ANNOTATIONS]:
            level = "error" if finding.get("severity", "error") == "error" else "warning"
            props = []
            if finding.get("file"):
                props.append(f"file={_escape(str(finding['file']), True)}")
                if finding.get("line"):
                    props.append(f"line={int(finding['line'])}")
            props.append(f"title={_escape(str(finding.get('rule', 'validate')), True)}")
            message = _message(finding)
            print(f"::{level} {','.join(props)}::{_escape(message)}", flush=True)
            shown += 1
        hidden = len(validation.findings) - shown
        if hidden > 0:
            print(f"::warning title=validate::{hidden} more findings are in the job log",
                  flush=True)

    def _explain(self, error: HttpError) -> Exception:
        message = str((error.body or {}).get("message", "")) if isinstance(
            error.body, dict) else ""
        if error.status == 403 and "not accessible by integration" in message.lower():
            return ReadOnlyToken("the token may not write here (Resource not accessible by "
                                 "integration): grant `permissions: statuses: write, checks: "
                                 "write, pull-requests: write` to the job, unless this is a "
                                 "fork's pull request")
        if error.status in (401, 403) and not error.hint:
            error.hint = ("the token needs `statuses: write`, `checks: write` (optional) and "
                          "`pull-requests: write`")
        return error


def check_annotations(validation: Validation | None) -> list[dict[str, Any]]:
    """Check run annotations for findings that name a file."""
    out: list[dict[str, Any]] = []
    for finding in (validation.findings if validation else []):
        if not finding.get("file"):
            continue
        line = max(int(finding.get("line") or 1), 1)
        out.append({"path": str(finding["file"]), "start_line": line, "end_line": line,
                    "annotation_level": "failure" if finding.get("severity", "error") == "error"
                    else "warning",
                    "title": comment.shorten(str(finding.get("rule", "validate")), 255),
                    "message": comment.shorten(_message(finding), 64_000)})
    return out


def _message(finding: dict[str, Any]) -> str:
    subject = finding.get("object") or finding.get("kustomization") or ""
    text = f"{subject}: {finding.get('message', '')}" if subject else str(finding.get("message"))
    if finding.get("hint"):
        text += f"\nhint: {finding['hint']}"
    return text


def _escape(value: str, property_value: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value
