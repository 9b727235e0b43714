"""Publishing a run to the pull/merge request: a commit status (or check run), one sticky
comment updated in place, the GitHub step summary and annotations, a GitLab Code Quality
report.

`publish()` is what `gitops-runner publish` runs; `publish_option` and `publish_after_run`
let plan/apply publish directly (`--publish`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from runner.errors import RunnerError
from runner.publish import comment, context
from runner.publish.comment import Validation
from runner.publish.github import GitHubPublisher
from runner.publish.github import Settings as GitHubSettings
from runner.publish.gitlab import GitLabPublisher, write_codequality
from runner.publish.gitlab import Settings as GitLabSettings
from runner.report.model import RunReport

F = TypeVar("F", bound=Callable[..., Any])
Log = Callable[[str], None]


@dataclass
class PublishOptions:
    forge: str = "auto"  # auto | github | gitlab
    comment: bool = True
    status: bool = True
    summary: bool = True  # GitHub step summary
    annotations: bool = True  # GitHub workflow annotations for validation findings
    status_api: str = "auto"  # GitHub: auto | check-run | commit-status
    context: str = ""
    report_hint: str = ""  # where the full report is, named when diffs are cut
    codequality: Path | None = None  # GitLab Code Quality report to write


@dataclass
class Published:
    forge: str
    posted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def publish(report: RunReport | None, validation: Validation | None, options: PublishOptions,
            log: Log, env: Mapping[str, str] | None = None) -> Published:
    """Publish to the forge the environment names (or `options.forge`)."""
    env = os.environ if env is None else env
    if report is None and validation is None:
        raise RunnerError("nothing to publish: give --report FILE and/or --validation FILE")
    forge = options.forge if options.forge != "auto" else context.detect_forge(env)
    if not forge:
        raise RunnerError("no CI forge detected (neither GITHUB_ACTIONS nor GITLAB_CI is set)",
                          "run publish inside GitHub Actions or GitLab CI, or pass --forge "
                          "with the forge's variables set")
    if report is not None:
        report.path = comment.display_path(report.path)  # not the runner's own absolute path
    name = options.context or comment.default_context(report)
    if forge == "github":
        gh = context.github(env)
        hint = options.report_hint or (f"in the artifacts of {gh.run_url}" if gh.run_url else "")
        result = GitHubPublisher(gh, log).publish(report, validation, GitHubSettings(
            context=name, comment=options.comment, status=options.status,
            summary=options.summary, annotations=options.annotations,
            status_api=options.status_api, report_hint=hint))
    elif forge == "gitlab":
        gl = context.gitlab(env)
        if options.codequality is not None:
            write_codequality(validation, options.codequality)
            log(f"wrote the Code Quality report {options.codequality}")
        hint = options.report_hint or (f"in the artifacts of {gl.job_url}" if gl.job_url else "")
        result = GitLabPublisher(gl, log).publish(report, validation, GitLabSettings(
            context=name, comment=options.comment, status=options.status, report_hint=hint))
    else:
        raise RunnerError(f"unknown forge {forge!r}: use github or gitlab")
    for line in result.posted:
        log(f"published: {line}")
    for line in result.notes:
        log(f"note: {line}")
    return Published(forge, result.posted, result.notes)


def publish_option(command: F) -> F:
    """`--publish` for plan/apply: post the report as `gitops-runner publish` would."""
    return click.option(
        "--publish", "publish_to_forge", is_flag=True,
        help="Also publish the report to the pull/merge request (commit status and sticky "
             "comment), as `gitops-runner publish` does.")(command)


def publish_after_run(report: RunReport, report_file: Path | None, enabled: bool) -> None:
    """Called by plan/apply after the report is written. A failure to publish is reported
    (stderr) but does not change the run's own exit code."""
    if not enabled:
        return
    try:
        publish(report, None, PublishOptions(report_hint=str(report_file or "")),
                lambda line: click.echo(line, err=True))
    except RunnerError as error:
        click.secho(f"warning: publishing failed: {error.message}", fg="yellow", err=True)
        if error.hint:
            click.echo(f"  hint: {error.hint}", err=True)
