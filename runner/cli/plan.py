"""`gitops-runner plan`: what apply would change, from a server-side dry-run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runner.apply.engine import EngineOptions
from runner.cli.options import render_options
from runner.cli.pipeline import render_checked, run_engine
from runner.cli.run_options import cluster_options, emit, engine_options, health_options
from runner.publish import publish_after_run, publish_option


@click.command()
@render_options
@cluster_options
@engine_options
@publish_option
def plan(path: Path, repository_root: Path | None, sources: tuple[str, ...],
         strict_substitute: bool, use_cache: bool, concurrency: int | None,
         changed_since: str | None,
         kubeconfig: Path | None, context: str | None, local_cluster: bool,
         kustomization_concurrency: int, object_concurrency: int, apply_flux_objects: bool,
         wait_for_jobs: bool, wait_for_load_balancers: bool, report_file: Path | None,
         output: str, publish_to_forge: bool) -> None:
    """Show what `apply` would do, without changing the cluster.

    Renders and checks the repository, then server-side dry-runs every object against the
    cluster: per Kustomization the objects to be created, configured (with a diff; Secret
    values masked), pruned, unchanged or skipped, and why. Exit 0 when nothing would change,
    1 when something would, 2 on error (like `flux diff`).
    """
    result = render_checked(path, repository_root, sources, strict_substitute, use_cache,
                            changed_since)
    options = EngineOptions(dry_run=True, concurrency=kustomization_concurrency,
                            object_workers=object_concurrency,
                            apply_flux_objects=apply_flux_objects,
                            health=health_options(wait_for_jobs, wait_for_load_balancers))
    report = run_engine(result, "plan", options, kubeconfig, context, local_cluster)
    emit(report, output, report_file)
    publish_after_run(report, report_file, publish_to_forge)
    sys.exit(2 if not report.ok else (1 if report.changed else 0))
