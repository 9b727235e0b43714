"""`gitops-runner publish`: post a run report to the pull/merge request."""

from __future__ import annotations

from pathlib import Path

import click

from runner.publish import PublishOptions, comment
from runner.publish import publish as publish_run
from runner.publish.http import redact


@click.command()
@click.option("--report", "report_file", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="The JSON run report of plan/apply (`--report FILE`).")
@click.option("--validation", "validation_file",
              type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The output of `gitops-runner validate -o json`: findings become "
                   "annotations, a comment section and (GitLab) a Code Quality report.")
@click.option("--forge", type=click.Choice(["auto", "github", "gitlab"]), default="auto",
              show_default=True, help="Where to publish (auto: from the CI environment).")
@click.option("--comment/--no-comment", "post_comment", default=True, show_default=True,
              help="One sticky comment on the pull/merge request, updated in place.")
@click.option("--status/--no-status", "post_status", default=True, show_default=True,
              help="A commit status (GitHub: a check run where the token allows) on the "
                   "pull request's head commit.")
@click.option("--summary/--no-summary", "step_summary", default=True, show_default=True,
              help="GitHub: add the report to the job's step summary.")
@click.option("--annotations/--no-annotations", default=True, show_default=True,
              help="GitHub: annotate the files that validation findings point at.")
@click.option("--status-api", type=click.Choice(["auto", "check-run", "commit-status"]),
              default="auto", show_default=True,
              help="GitHub: a check run, a commit status, or a check run falling back to a "
                   "status when the token cannot create check runs.")
@click.option("--context", "status_context", default="", metavar="NAME",
              help="Status name and sticky comment key (default: gitops-runner/COMMAND "
                   "(PATH)); one comment per context.")
@click.option("--report-url", default="",
              help="Where the full report is, named when diffs are cut to fit (default: the "
                   "job's artifacts).")
@click.option("--codequality", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="GitLab: write a Code Quality report of the validation findings here.")
def publish(report_file: Path | None, validation_file: Path | None, forge: str,
            post_comment: bool, post_status: bool, step_summary: bool, annotations: bool,
            status_api: str, status_context: str, report_url: str,
            codequality: Path | None) -> None:
    """Publish a run to the pull/merge request that triggered the pipeline.

    Reads the forge's context from the environment (GitHub Actions: GITHUB_* and the event
    payload at $GITHUB_EVENT_PATH; GitLab CI: CI_*), then posts a commit status on the pull
    request's head commit (never the merge commit), and one sticky comment with a table per
    Kustomization and the diffs, found again by a hidden marker and edited in place on the
    next run. Secret values are masked; the comment is kept within the forge's size limit.

    Tokens: GitHub reads GITOPS_RUNNER_GITHUB_TOKEN, GITHUB_TOKEN or GH_TOKEN; GitLab needs
    an access token with the `api` scope in GITOPS_RUNNER_GITLAB_TOKEN (CI_JOB_TOKEN may not
    post). A read-only token (a fork's pull request) posts nothing and says so. Exit 0 when
    published (or when the token could only read), 2 on errors.
    """
    report = comment.load_report(report_file) if report_file is not None else None
    validation = (comment.load_validation(validation_file)
                  if validation_file is not None else None)
    options = PublishOptions(forge=forge, comment=post_comment, status=post_status,
                             summary=step_summary, annotations=annotations,
                             status_api=status_api, context=status_context,
                             report_hint=report_url, codequality=codequality)
    publish_run(report, validation, options, lambda line: click.echo(redact(line), err=True))
