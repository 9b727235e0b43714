"""`gitops-runner drift`: compare the cluster with Git and, with --correct, put it back."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

import click

from runner.apply.engine import EngineOptions
from runner.apply.lease import ClusterLock
from runner.cli.options import render_options
from runner.cli.pipeline import render_checked
from runner.cli.run_options import (
    cluster_options,
    connect,
    emit,
    engine_options,
    health_options,
    progress,
)
from runner.discover import git
from runner.drift import notify
from runner.drift.correct import correct as correct_drift
from runner.drift.detect import DetectOptions, Detector
from runner.drift.model import DriftStatus
from runner.errors import RunnerError
from runner.report.model import RunReport


@click.command()
@render_options
@cluster_options
@engine_options
@click.option("--correct", "do_correct", is_flag=True,
              help="Re-apply what drifted (same stages, health waits and prune rules as "
                   "apply) and delete strays, under the cluster lock.")
@click.option("--exit-code-on-corrected/--no-exit-code-on-corrected", default=True,
              show_default=True,
              help="With --correct: exit 1 when drift was found and corrected (else 0).")
@click.option("--ignore-untouched", is_flag=True,
              help="Findings that are never touched (ignored objects, suspended "
                   "Kustomizations) are reported but neither exit 1 nor open an issue.")
@click.option("--notify-webhook", metavar="URL", envvar="GITOPS_RUNNER_DRIFT_WEBHOOK",
              default=None,
              help="POST a JSON summary (Slack-compatible `text`) here when there is drift "
                   "[env GITOPS_RUNNER_DRIFT_WEBHOOK].")
@click.option("--notify-in-sync", is_flag=True,
              help="Also send the webhook when there is no drift.")
@click.option("--notify-github-issue", is_flag=True,
              help="Open/update one drift issue, closed once back in sync (GITHUB_TOKEN, "
                   "GITHUB_REPOSITORY; permissions: issues: write).")
@click.option("--notify-gitlab-issue", is_flag=True,
              help="Open/update one drift issue, closed once back in sync (GITLAB_TOKEN with "
                   "api scope, CI_API_V4_URL, CI_PROJECT_ID; CI_JOB_TOKEN cannot).")
@click.option("--notify-key", default=None,
              help="Names this check in its issue (default: --path), so several clusters can "
                   "share one repository's issues.")
@click.option("--max-prune-ratio", type=click.FloatRange(0, 1), default=0.5,
              show_default=True, help="With --correct: as for apply.")
@click.option("--allow-mass-prune", is_flag=True, help="With --correct: as for apply.")
@click.option("--lock-timeout", type=float, default=300.0, show_default=True,
              help="With --correct: seconds to wait for another runner's cluster lock.")
@click.option("--lock-namespace", default="kube-system", show_default=True,
              help="Namespace of the cluster lock's Lease.")
@click.option("--revision", default="",
              help="Revision Git is at (default: the Git commit of --path); Kustomizations "
                   "applied at another revision have drifted.")
def drift(path: Path, repository_root: Path | None, sources: tuple[str, ...],
          strict_substitute: bool, use_cache: bool, concurrency: int | None,
          kubeconfig: Path | None, context: str | None, local_cluster: bool,
          kustomization_concurrency: int, object_concurrency: int, apply_flux_objects: bool,
          wait_for_jobs: bool, wait_for_load_balancers: bool, report_file: Path | None,
          output: str, do_correct: bool, exit_code_on_corrected: bool,
          ignore_untouched: bool, notify_webhook: str | None, notify_in_sync: bool,
          notify_github_issue: bool, notify_gitlab_issue: bool, notify_key: str | None,
          max_prune_ratio: float, allow_mass_prune: bool, lock_timeout: float,
          lock_namespace: str, revision: str, changed_since: str | None = None) -> None:
    """Find where the cluster moved away from Git and, with --correct, put it back.

    Renders --path (check out the default branch first) and compares every Kustomization
    with the cluster: fields Git sets (or we own) that differ, confirmed by a server-side
    dry-run, so defaults, status and fields other managers own (an HPA's replicas) are not
    drift; objects missing from the cluster; strays (objects with a Kustomization's owner
    labels in no inventory); Kustomizations never applied or applied at another revision.
    One LIST per kind, not a GET per object. Objects annotated
    kustomize.toolkit.fluxcd.io/ssa: Ignore or reconcile: disabled, and suspended
    Kustomizations, are reported and never touched.

    Exit 0 when in sync, 1 when drift was found (with --correct: corrected, unless
    --no-exit-code-on-corrected), 2 on error (a failed correction or notification too).
    """
    result = render_checked(path, repository_root, sources, strict_substitute, use_cache,
                            changed_since)
    revision = revision or git.revision(result.path)
    with connect(kubeconfig, context, local_cluster) as client:
        lock = ClusterLock(client, lock_namespace, lock_timeout, progress) if do_correct \
            else contextlib.nullcontext()
        with lock:
            detector = Detector(client, DetectOptions(
                revision=revision, apply_flux_objects=apply_flux_objects,
                workers=object_concurrency, progress=progress))
            run = detector.detect(result)
            if do_correct:
                requests = run.report.requests
                started = client.request_count
                correct_drift(client, result, run, EngineOptions(
                    concurrency=kustomization_concurrency, object_workers=object_concurrency,
                    apply_flux_objects=apply_flux_objects, max_prune_ratio=max_prune_ratio,
                    allow_mass_prune=allow_mass_prune,
                    health=health_options(wait_for_jobs, wait_for_load_balancers),
                    revision=revision, progress=progress), detector.mapper)
                run.report.requests = requests + client.request_count - started
    report = run.report
    failed_notifications = _notify(report, ignore_untouched, notify_webhook, notify_in_sync,
                                   notify_github_issue, notify_gitlab_issue,
                                   notify_key or str(path))
    emit(report, output, report_file)
    sys.exit(exit_code(report, do_correct, exit_code_on_corrected, ignore_untouched,
                       failed_notifications))


def exit_code(report: RunReport, corrected: bool, exit_code_on_corrected: bool,
              ignore_untouched: bool, failed_notifications: bool = False) -> int:
    """0 in sync, 1 drift (or corrected drift, if asked), 2 error."""
    if not report.ok or failed_notifications:
        return 2
    statuses = [d.status for k in report.kustomizations for d in k.drift or []]
    if DriftStatus.FAILED in statuses:
        return 2
    if DriftStatus.DETECTED in statuses:
        return 1
    if DriftStatus.UNTOUCHED in statuses and not ignore_untouched:
        return 1
    if corrected and exit_code_on_corrected and DriftStatus.CORRECTED in statuses:
        return 1
    return 0


def _notify(report: RunReport, ignore_untouched: bool, webhook: str | None, in_sync: bool,
            github: bool, gitlab: bool, key: str) -> bool:
    """Send what was asked for; True if any notification failed (each is tried)."""
    state = notify.state_of(report, count_untouched=not ignore_untouched)
    failed = False
    senders: list[Callable[[], str]] = []
    if webhook:
        senders.append(lambda: notify.send_webhook(webhook, report, state, in_sync))
    if github:
        senders.append(lambda: notify.GitHubIssues().sync(report, state, key))
    if gitlab:
        senders.append(lambda: notify.GitLabIssues().sync(report, state, key))
    for send in senders:
        try:
            progress(f"notify: {send()}")
        except RunnerError as error:
            failed = True
            click.secho(f"error: {error.message}", fg="red", err=True)
            if error.hint:
                click.echo(f"  hint: {error.hint}", err=True)
    return failed
