"""The steps plan and apply share: render and check everything, then run the engine.

Nothing reaches the cluster unless the whole repository rendered and its dependency graph is
sound: a broken file anywhere stops the run before the first write.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runner.apply.engine import Engine, EngineOptions
from runner.apply.lease import ClusterLock
from runner.cli.options import render_repository, report_render_errors
from runner.cli.run_options import connect, progress
from runner.discover import git, graph
from runner.errors import RunnerError
from runner.render.repository import RepositoryRender
from runner.report.model import RunReport


def render_checked(path: Path, repository_root: Path | None, sources: tuple[str, ...],
                   strict_substitute: bool, use_cache: bool,
                   changed_since: str | None) -> RepositoryRender:
    """Render; exit 2 (nothing written) if any Kustomization failed or the graph is broken."""
    result = render_repository(path, repository_root, sources, strict_substitute, use_cache,
                               None, changed_since)
    graph_error = _graph_error(result)
    if not result.ok or graph_error:
        report_render_errors(result)
        if graph_error:
            progress(f"error: {graph_error.message}")
        progress("nothing was applied: the repository must render cleanly first")
        sys.exit(2)
    for warning in result.warnings():
        progress(f"warning: {warning}")
    return result


def _graph_error(result: RepositoryRender) -> RunnerError | None:
    try:
        graph.check(result.by_id())
    except graph.DependencyError as error:
        return error
    return None


def run_engine(result: RepositoryRender, command: str, options: EngineOptions,
               kubeconfig: Path | None, context: str | None, local_cluster: bool,
               lock_timeout: float | None = None, lock_namespace: str = "kube-system",
               ) -> RunReport:
    options.revision = options.revision or git.revision(result.path)
    options.progress = progress
    with connect(kubeconfig, context, local_cluster) as client:
        engine = Engine(client, options)
        if lock_timeout is None:  # plans write nothing, so they need no lock
            return engine.run(result, command)
        with ClusterLock(client, lock_namespace, lock_timeout, progress):
            return engine.run(result, command)
