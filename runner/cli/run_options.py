"""Options and steps shared by the commands that talk to a cluster (plan, apply, drift):
connecting, the engine's settings, and writing the report."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from runner.health.status import HealthOptions
from runner.kube import config as kubeconfig
from runner.kube.client import KubeClient
from runner.report.model import RunReport

F = TypeVar("F", bound=Callable[..., Any])

_CLUSTER_OPTIONS = [
    click.option("--kubeconfig", type=click.Path(path_type=Path, dir_okay=False),
                 default=None, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."),
    click.option("--context", default=None, help="kubeconfig context to use."),
    click.option("--local-cluster", is_flag=True,
                 help="Run against a throwaway local control plane started for this run "
                      "(real kube-apiserver + kwok), to try a change without a shared cluster."),
]

_ENGINE_OPTIONS = [
    click.option("--kustomization-concurrency", type=click.IntRange(1, 64), default=4,
                 show_default=True, help="Kustomizations applied at once."),
    click.option("--object-concurrency", type=click.IntRange(1, 128), default=8,
                 show_default=True, help="API requests in flight within a Kustomization."),
    click.option("--apply-flux-objects", is_flag=True,
                 help="Also apply Flux's Kustomization and source objects (for clusters that "
                      "run Flux too); by default they are instructions to the runner only."),
    click.option("--wait-for-jobs", is_flag=True,
                 help="Health: a Job is ready only once it completed (as Flux waits)."),
    click.option("--wait-for-load-balancers", is_flag=True,
                 help="Health: a LoadBalancer Service is ready only once it has an ingress."),
    click.option("--report", "report_file", type=click.Path(path_type=Path, dir_okay=False),
                 default=None, help="Write the JSON run report here (schemas/report.schema.json)."),
    click.option("-o", "--output", type=click.Choice(["text", "json", "markdown"]),
                 default="text", show_default=True),
]


def cluster_options(command: F) -> F:
    for option in reversed(_CLUSTER_OPTIONS):
        command = option(command)
    return command


def engine_options(command: F) -> F:
    for option in reversed(_ENGINE_OPTIONS):
        command = option(command)
    return command


def health_options(wait_for_jobs: bool, wait_for_load_balancers: bool) -> HealthOptions:
    return HealthOptions(wait_for_job_completion=wait_for_jobs,
                         wait_for_load_balancer=wait_for_load_balancers)


@contextlib.contextmanager
def connect(kubeconfig_path: Path | None, context: str | None,
            local_cluster: bool) -> Iterator[KubeClient]:
    """A client for the target cluster (a fresh local one with --local-cluster)."""
    if not local_cluster:
        client = KubeClient(kubeconfig.load(kubeconfig_path, context), pool_size=32)
        try:
            yield client
        finally:
            client.close()
        return
    from runner.controlplane.cluster import LocalCluster, StartOptions  # --local-cluster only

    with tempfile.TemporaryDirectory(prefix="gitops-runner-local-") as workdir:
        started = LocalCluster.start(Path(workdir) / "cluster", name="run",
                                     options=StartOptions(), log=progress)
        client = started.client()
        try:
            yield client
        finally:
            client.close()
            started.stop()


def progress(line: str) -> None:
    click.echo(line, err=True)


def emit(report: RunReport, output: str, report_file: Path | None) -> None:
    """Print the report in the chosen form, and write the JSON report if asked."""
    as_json = orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2)
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_bytes(as_json + b"\n")
    if output == "json":
        sys.stdout.buffer.write(as_json + b"\n")
    elif output == "markdown":
        from runner.report import markdown

        click.echo(markdown.render(report, report_hint=str(report_file or "")))
    else:
        from rich.console import Console  # tables and colour: only for text output

        from runner.report import text

        console = Console(width=None if sys.stdout.isatty() else 160)
        text.print_report(report, console, show_diffs=report.command == "plan")
