"""`gitops-runner apply`: make the cluster match the repository, Flux's way."""

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
@click.option("--max-prune-ratio", type=click.FloatRange(0, 1), default=0.5,
              show_default=True,
              help="Refuse to prune more than this share of a Kustomization's objects.")
@click.option("--allow-mass-prune", is_flag=True,
              help="Allow pruning everything (an empty render) or past --max-prune-ratio.")
@click.option("--lock-timeout", type=float, default=300.0, show_default=True,
              help="Seconds to wait for another runner's cluster lock (a Lease).")
@click.option("--lock-namespace", default="kube-system", show_default=True,
              help="Namespace of the cluster lock's Lease.")
@click.option("--revision", default="",
              help="Revision to record (default: the Git commit of --path).")
def apply(path: Path, repository_root: Path | None, sources: tuple[str, ...],
          strict_substitute: bool, use_cache: bool, concurrency: int | None,
         changed_since: str | None,
          kubeconfig: Path | None, context: str | None, local_cluster: bool,
          kustomization_concurrency: int, object_concurrency: int, apply_flux_objects: bool,
          wait_for_jobs: bool, wait_for_load_balancers: bool, report_file: Path | None,
          output: str, max_prune_ratio: float, allow_mass_prune: bool, lock_timeout: float,
          lock_namespace: str, revision: str, publish_to_forge: bool) -> None:
    """Apply the repository to the cluster in dependency order, wait for health, prune.

    Everything is rendered and checked first; nothing is written if any of it fails (exit
    2). Then each Kustomization starts once its dependencies are applied and healthy:
    staged server-side apply (CRDs and Namespaces, then classes, then the rest), health
    checks (`wait` / `healthChecks`, within `timeout`), pruning of what left Git (`prune`,
    after health passed), and its inventory recorded in the cluster. Dependents of a failed
    Kustomization are skipped. One runner at a time holds the cluster's lock. Exit 0 when
    everything applied and is healthy, 1 otherwise.
    """
    result = render_checked(path, repository_root, sources, strict_substitute, use_cache,
                            changed_since)
    options = EngineOptions(concurrency=kustomization_concurrency,
                            object_workers=object_concurrency,
                            apply_flux_objects=apply_flux_objects,
                            max_prune_ratio=max_prune_ratio, allow_mass_prune=allow_mass_prune,
                            health=health_options(wait_for_jobs, wait_for_load_balancers),
                            revision=revision)
    report = run_engine(result, "apply", options, kubeconfig, context, local_cluster,
                        lock_timeout, lock_namespace)
    emit(report, output, report_file)
    publish_after_run(report, report_file, publish_to_forge)
    sys.exit(0 if report.ok else 1)
