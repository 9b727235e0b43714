"""`gitops-runner demo`: the main job on the embedded default.

Starts a throwaway local control plane (real etcd, kube-apiserver, controller-manager,
scheduler and kwok), applies the bundled example repository (`examples/clusters/staging`) to
it exactly as `gitops-runner apply` does in CI, applies it a second time to show that an
unchanged revision writes nothing, and stops the cluster.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console

from runner.apply.engine import Engine, EngineOptions
from runner.controlplane.cluster import LocalCluster, StartOptions
from runner.discover import git
from runner.errors import RunnerError
from runner.render.cache import RenderCache
from runner.render.repository import RenderOptions, render
from runner.report import text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _log(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.option("--cluster", "cluster_name", default="staging", show_default=True,
              type=click.Choice(["staging", "production"]),
              help="Which cluster folder of examples/ to apply.")
@click.option("--keep", is_flag=True, help="Leave the local cluster running afterwards.")
def demo(cluster_name: str, keep: bool) -> None:
    """Apply the bundled example repository to a local cluster, twice.

    The example has four layers of Kustomizations (namespaces -> crds -> infra-configs ->
    apps) with dependsOn, a CRD and a custom resource of it, postBuild substitution, and a
    Deployment that really rolls out (through kwok's fake nodes) before the run completes.
    """
    if not (EXAMPLES / "clusters" / cluster_name).is_dir():
        raise RunnerError(f"the bundled examples are not at {EXAMPLES}",
                          "run the demo from a source checkout of gitops-runner")
    console = Console(width=None if sys.stdout.isatty() else 140)
    workdir = Path(tempfile.mkdtemp(prefix="gitops-runner-demo-"))
    cluster = LocalCluster.start(workdir / "cluster", name="demo", options=StartOptions(),
                                 log=_log)
    ok = False
    try:
        client = cluster.client()
        for attempt in ("first apply", "second apply (same revision: nothing to write)"):
            console.rule(attempt)
            result = render(RenderOptions(path=EXAMPLES / "clusters" / cluster_name,
                                          repository_root=EXAMPLES, cache=RenderCache(None)))
            if not result.ok:
                raise RunnerError("the example repository did not render: "
                                  + "; ".join(e.message for e in result.errors()))
            options = EngineOptions(revision=git.revision(EXAMPLES), progress=_log)
            report = Engine(client, options).run(result, "apply")
            text.print_report(report, console)
            ok = report.ok
            if not ok:
                break
        if keep:
            click.echo(f"the cluster keeps running: export KUBECONFIG={cluster.kubeconfig}")
    finally:
        if not keep:
            cluster.stop()
    sys.exit(0 if ok else 1)
