"""Telling people about drift: a webhook, and one drift issue on GitHub or GitLab.

- Webhook (in the spirit of Flux's notification-controller generic provider): one JSON POST
  with a Slack-compatible `text` (so a Slack or Mattermost incoming webhook shows it as is),
  Flux-event-like fields (`severity`, `reason`, `message`, `reportingController`,
  `metadata.revision`) and the findings per Kustomization. Diffs are left out: they can hold
  configuration values. Sent when there is drift (found, corrected or failed); with
  `in_sync=True` also when there is none.
- Issue: one open issue per drift check key (default: the cluster path), found by a label and
  a hidden marker in its body. Drift left in the cluster opens it or updates it; once nothing
  is left (in sync, or all corrected) a comment says so and the issue is closed.

Tokens come from the environment and are never printed; neither is the webhook URL (it is a
secret too), only its host. Plain urllib3, bounded retries that honour Retry-After.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3

from runner import __version__
from runner.drift.model import DriftStatus
from runner.errors import RunnerError
from runner.report import markdown
from runner.report.model import RunReport

ISSUE_LABEL = "gitops-runner-drift"
MAX_ATTEMPTS = 4
MAX_WAIT_SECONDS = 60.0
GITHUB_BODY_MAX = 60000  # GitHub refuses issue bodies over 65536 characters
GITLAB_BODY_MAX = 200000  # GitLab allows 1,048,576; keep issues readable
SLACK_FINDINGS_MAX = 20


class NotifyError(RunnerError):
    """A notification could not be sent."""


@dataclass(frozen=True)
class State:
    """What a notification says: is drift left in the cluster, was some corrected?"""

    remaining: int  # findings still in the cluster (detected, untouched, failed)
    corrected: int
    failed: bool  # the run or a correction failed

    @property
    def reason(self) -> str:
        if self.failed:
            return "DriftCorrectionFailed" if self.corrected else "DriftCheckFailed"
        if self.remaining:
            return "DriftDetected"
        return "DriftCorrected" if self.corrected else "InSync"


def state_of(report: RunReport, count_untouched: bool = True) -> State:
    remaining = corrected = 0
    for ks in report.kustomizations:
        for drift in ks.drift or []:
            if drift.status == DriftStatus.CORRECTED:
                corrected += 1
            elif drift.status != DriftStatus.UNTOUCHED or count_untouched:
                remaining += 1
    return State(remaining, corrected, not report.ok)


# -- webhook --------------------------------------------------------------------------------


def webhook_payload(report: RunReport, state: State) -> dict[str, Any]:
    findings = [(ks.id, d) for ks in report.kustomizations for d in ks.drift or []]
    icon = {"DriftDetected": ":warning:", "DriftCorrected": ":wrench:",
            "InSync": ":white_check_mark:"}.get(state.reason, ":x:")
    headline = {"DriftDetected": "drift detected", "DriftCorrected": "drift corrected",
                "InSync": "in sync with Git", "DriftCorrectionFailed": "drift correction failed",
                "DriftCheckFailed": "drift check failed"}[state.reason]
    totals = ", ".join(f"{n} {k}" for k, n in report.drift_totals().items()) or "no drift"
    lines = [f"{icon} *gitops-runner*: `{report.path}` {headline} ({totals})",
             f"revision `{report.revision or 'working tree'}`, cluster `{report.cluster}`"]
    lines += [f"• `{ks_id}` {d.kind} `{d.key or 'Kustomization'}` ({d.status})"
              + (f": {d.reason}" if d.reason else "") for ks_id, d in findings[:SLACK_FINDINGS_MAX]]
    if len(findings) > SLACK_FINDINGS_MAX:
        lines.append(f"… and {len(findings) - SLACK_FINDINGS_MAX} more")
    lines += [f"• error: {error}" for error in report.errors[:5]]
    run_url = ci_run_url()
    if run_url:
        lines.append(f"<{run_url}|CI job>")
    return {
        "text": "\n".join(lines),
        "severity": "error" if state.failed or state.remaining else "info",
        "reason": state.reason,
        "message": f"{report.path}: {headline} ({totals})",
        "timestamp": report.started_at,
        "reportingController": "gitops-runner",
        "reportingInstance": f"gitops-runner {__version__}",
        "metadata": {"revision": report.revision, "path": report.path,
                     "cluster": report.cluster, **({"run": run_url} if run_url else {})},
        "drift": report.drift_totals(),
        "kustomizations": [
            {"id": ks.id, "outcome": str(ks.outcome), "reason": ks.reason,
             "drift": [{k: v for k, v in d.to_json().items() if k != "diff"}
                       for d in ks.drift or []]}
            for ks in report.kustomizations if ks.drift or ks.reason],
    }


def send_webhook(url: str, report: RunReport, state: State, in_sync: bool = False) -> str:
    """POST the payload to `url`; what was done, for the log."""
    if not (state.remaining or state.corrected or state.failed or in_sync):
        return f"webhook {_host(url)}: nothing to report (in sync)"
    _Http().request("POST", url, webhook_payload(report, state), {}, what=f"webhook {_host(url)}")
    return f"webhook {_host(url)}: sent ({state.reason})"


# -- issues ----------------------------------------------------------------------------------


def marker(key: str) -> str:
    return f"<!-- gitops-runner:drift:{key} -->"


def issue_body(report: RunReport, key: str, limit: int) -> str:
    footer = f"\n\n{marker(key)}\n"
    run_url = ci_run_url()
    head = (f"Drift check of `{key}` by gitops-runner"
            + (f" ([CI job]({run_url}))" if run_url else "") + ". This issue is updated by "
            "every scheduled drift check and closed once the cluster is back in sync.\n\n")
    room = limit - len(head) - len(footer)
    return head + markdown.render(report, max_chars=room,
                                  report_hint="in the drift job's artifacts") + footer


def issue_title(key: str) -> str:
    return f"Drift: the cluster differs from Git ({key})"


def closing_comment(report: RunReport, state: State) -> str:
    if state.corrected:
        findings = [f"- {d.kind} `{d.key or ks.id}`" for ks in report.kustomizations
                    for d in ks.drift or [] if d.status == DriftStatus.CORRECTED]
        return ("Corrected by gitops-runner drift --correct; the cluster is back in sync with "
                f"`{report.revision or 'the working tree'}`:\n\n" + "\n".join(findings[:100]))
    return (f"The cluster is back in sync with `{report.revision or 'the working tree'}`: "
            "no drift found.")


class GitHubIssues:
    """The drift issue of one repository (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL)."""

    def __init__(self, environ: Mapping[str, str] | None = None,
                 label: str = ISSUE_LABEL) -> None:
        env = os.environ if environ is None else environ
        token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
        self.repository = env.get("GITHUB_REPOSITORY", "")
        if not token or "/" not in self.repository:
            raise NotifyError(
                "--notify-github-issue needs GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name)",
                "in a workflow: env GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }} with "
                "`permissions: issues: write`")
        self.api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        self.label = label
        self.http = _Http({"Authorization": f"Bearer {token}",
                           "Accept": "application/vnd.github+json",
                           "X-GitHub-Api-Version": "2022-11-28"})

    def sync(self, report: RunReport, state: State, key: str) -> str:
        base = f"{self.api}/repos/{self.repository}/issues"
        issue = self._find(base, key)
        if state.remaining or state.failed:
            body = issue_body(report, key, GITHUB_BODY_MAX)
            if issue is None:
                created = self.http.request("POST", base, {
                    "title": issue_title(key), "body": body, "labels": [self.label]}, {},
                    what="GitHub: create the drift issue")
                return f"GitHub issue #{created.get('number')} opened"
            if issue.get("body") != body:
                self.http.request("PATCH", f"{base}/{issue['number']}",
                                  {"title": issue_title(key), "body": body}, {},
                                  what="GitHub: update the drift issue")
            return f"GitHub issue #{issue['number']} updated"
        if issue is None:
            return "GitHub: in sync, no drift issue open"
        self.http.request("POST", f"{base}/{issue['number']}/comments",
                          {"body": closing_comment(report, state)}, {},
                          what="GitHub: comment on the drift issue")
        self.http.request("PATCH", f"{base}/{issue['number']}",
                          {"state": "closed", "state_reason": "completed"}, {},
                          what="GitHub: close the drift issue")
        return f"GitHub issue #{issue['number']} closed"

    def _find(self, base: str, key: str) -> dict[str, Any] | None:
        for page in range(1, 51):
            found = self.http.request("GET", base, None, {
                "state": "open", "labels": self.label, "per_page": "100", "page": str(page)},
                what="GitHub: list drift issues")
            issues = found.get("items", []) if isinstance(found, dict) else []
            for issue in issues:
                if "pull_request" not in issue and marker(key) in str(issue.get("body") or ""):
                    return dict(issue)
            if len(issues) < 100:
                return None
        return None


class GitLabIssues:
    """The drift issue of one project (GITLAB_TOKEN, CI_API_V4_URL, CI_PROJECT_ID)."""

    def __init__(self, environ: Mapping[str, str] | None = None,
                 label: str = ISSUE_LABEL) -> None:
        env = os.environ if environ is None else environ
        token = env.get("GITLAB_TOKEN") or env.get("GITOPS_RUNNER_GITLAB_TOKEN")
        if not token:
            hint = ("CI_JOB_TOKEN cannot create or edit issues: " if env.get("CI_JOB_TOKEN")
                    else "")
            raise NotifyError(
                "--notify-gitlab-issue needs GITLAB_TOKEN",
                hint + "create a project access token with the `api` scope (role Reporter or "
                "above) and store it as a masked CI/CD variable GITLAB_TOKEN")
        self.api = env.get("CI_API_V4_URL", "https://gitlab.com/api/v4").rstrip("/")
        project = env.get("CI_PROJECT_ID", "")
        if not project:
            raise NotifyError("--notify-gitlab-issue needs CI_PROJECT_ID",
                              "GitLab CI sets it; elsewhere set it to the project id")
        self.project = urllib.parse.quote(project, safe="")
        self.label = label
        self.http = _Http({"PRIVATE-TOKEN": token})

    def sync(self, report: RunReport, state: State, key: str) -> str:
        base = f"{self.api}/projects/{self.project}/issues"
        issue = self._find(base, key)
        if state.remaining or state.failed:
            body = issue_body(report, key, GITLAB_BODY_MAX)
            if issue is None:
                created = self.http.request("POST", base, {
                    "title": issue_title(key), "description": body, "labels": self.label}, {},
                    what="GitLab: create the drift issue")
                return f"GitLab issue #{created.get('iid')} opened"
            if issue.get("description") != body:
                self.http.request("PUT", f"{base}/{issue['iid']}",
                                  {"title": issue_title(key), "description": body}, {},
                                  what="GitLab: update the drift issue")
            return f"GitLab issue #{issue['iid']} updated"
        if issue is None:
            return "GitLab: in sync, no drift issue open"
        self.http.request("POST", f"{base}/{issue['iid']}/notes",
                          {"body": closing_comment(report, state)}, {},
                          what="GitLab: comment on the drift issue")
        self.http.request("PUT", f"{base}/{issue['iid']}", {"state_event": "close"}, {},
                          what="GitLab: close the drift issue")
        return f"GitLab issue #{issue['iid']} closed"

    def _find(self, base: str, key: str) -> dict[str, Any] | None:
        for page in range(1, 51):
            found = self.http.request("GET", base, None, {
                "state": "opened", "labels": self.label, "per_page": "100",
                "page": str(page)}, what="GitLab: list drift issues")
            issues = found.get("items", []) if isinstance(found, dict) else []
            for issue in issues:
                if marker(key) in str(issue.get("description") or ""):
                    return dict(issue)
            if len(issues) < 100:
                return None
        return None


# -- HTTP -----------------------------------------------------------------------------------


class _Http:
    """JSON over urllib3 with bounded retries (429, 5xx, GitHub's rate-limit 403)."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self.headers = {"User-Agent": f"gitops-runner/{__version__}",
                        "Accept": "application/json", **(headers or {})}
        self.pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(30.0))

    def request(self, method: str, url: str, body: object, params: Mapping[str, str],
                what: str) -> dict[str, Any]:
        """The decoded response (a list comes back as {"items": [...]})."""
        if params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        waited = 0.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = self.pool.request(method, url, body=data, headers=headers)
            except urllib3.exceptions.HTTPError as error:
                if attempt == MAX_ATTEMPTS:
                    raise NotifyError(f"{what}: cannot reach {_host(url)}: "
                                      f"{type(error).__name__}") from error
                time.sleep(min(2.0 ** attempt, 10.0))
                continue
            delay = _retry_delay(response, attempt)
            if delay is not None and attempt < MAX_ATTEMPTS and waited + delay <= MAX_WAIT_SECONDS:
                waited += delay
                time.sleep(delay)
                continue
            return _decode(response, what)
        raise AssertionError("unreachable")


def _retry_delay(response: urllib3.BaseHTTPResponse, attempt: int) -> float | None:
    status = response.status
    limited = status == 403 and str(response.headers.get("x-ratelimit-remaining", "")) == "0"
    if status not in (429, 500, 502, 503, 504) and not limited:
        return None
    retry_after = str(response.headers.get("Retry-After", ""))
    if retry_after.isdigit():
        return float(retry_after)
    reset = str(response.headers.get("x-ratelimit-reset", ""))
    if limited and reset.isdigit():
        return max(0.0, float(reset) - time.time())
    return min(0.5 * 2.0 ** attempt, 10.0)


def _decode(response: urllib3.BaseHTTPResponse, what: str) -> dict[str, Any]:
    text = response.data.decode(errors="replace")
    if response.status >= 400:
        message = text[:300]
        with contextlib.suppress(ValueError, AttributeError):
            message = str(json.loads(text).get("message", message))
        hint = {401: "the token was refused: check that it is set and not expired",
                403: "the token lacks a permission (GitHub: issues: write; GitLab: api scope, "
                     "Reporter role)",
                404: "check the repository/project and that the token can see it"
                }.get(response.status, "")
        raise NotifyError(f"{what}: HTTP {response.status}: {message}", hint)
    if not text.strip():
        return {}
    try:
        loaded = json.loads(text)
    except ValueError:
        return {"text": text}
    return loaded if isinstance(loaded, dict) else {"items": loaded}


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def ci_run_url(environ: Mapping[str, str] | None = None) -> str:
    """The link to this CI job, where the full report is."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return env.get("CI_JOB_URL", "")
