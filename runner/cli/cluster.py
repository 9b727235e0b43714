"""`gitops-runner cluster`: a throwaway local Kubernetes control plane for trying a repository.

Real etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok processes on
127.0.0.1; kwok's fake Nodes let Deployments and StatefulSets really become Ready.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from runner.controlplane import binaries, processes
from runner.controlplane.cluster import STATE_FILE, ClusterState, LocalCluster, StartOptions
from runner.errors import RunnerError


def cluster_dir(name: str) -> Path:
    return binaries.cache_root() / "clusters" / name


def _log(message: str) -> None:
    click.echo(message, err=True)


@click.group()
def cluster() -> None:
    """Run a local Kubernetes control plane (real binaries, no Docker) for trying changes."""


@cluster.command("build")
@click.option("--bin-dir", type=click.Path(path_type=Path), default=None,
              help="Use binaries from this directory instead of the cache or a build.")
def build(bin_dir: Path | None) -> None:
    """Build (or find in the cache) etcd, kube-apiserver, kube-controller-manager,
    kube-scheduler and kwok, pinned by the Go modules shipped with the runner."""
    found = binaries.locate(bin_dir, log=_log)
    for name in binaries.BINARY_NAMES:
        click.echo(str(found.path(name)))


name_option = click.option("--name", default="local", show_default=True,
                           help="Name of the local cluster, to run several side by side.")


@cluster.command("up")
@name_option
@click.option("--nodes", default=2, show_default=True, help="Number of fake (kwok) Nodes.")
@click.option("--bin-dir", type=click.Path(path_type=Path), default=None,
              envvar=binaries.BIN_DIR_ENV,
              help="Directory holding the five binaries (default: cache, else build with Go).")
@click.option("--start-timeout", default=60.0, show_default=True,
              help="Seconds to wait for each process to become ready.")
def up(name: str, nodes: int, bin_dir: Path | None, start_timeout: float) -> None:
    """Start a local cluster in the background and print the kubeconfig path.

    The processes keep running after this command returns; stop them with
    `gitops-runner cluster down`.
    """
    options = StartOptions(nodes=nodes, start_timeout=start_timeout, bin_dir=bin_dir)
    started = LocalCluster.start(cluster_dir(name), name=name, options=options, log=_log)
    click.echo(str(started.kubeconfig))


@cluster.command("down")
@name_option
def down(name: str) -> None:
    """Stop the local cluster's processes (only those it started) and delete its data."""
    state = _running_state(name)
    LocalCluster(state).stop()
    _log(f"cluster {name} stopped")


@cluster.command("env")
@name_option
def env(name: str) -> None:
    """Print `export KUBECONFIG=...` for the local cluster (use with eval)."""
    state = _running_state(name)
    click.echo(f"export KUBECONFIG={shlex.quote(str(state.kubeconfig))}")


def _running_state(name: str) -> ClusterState:
    directory = cluster_dir(name)
    if not (directory / STATE_FILE).is_file():
        raise RunnerError(f"no local cluster named {name!r} is running",
                          "start one with `gitops-runner cluster up`")
    state = ClusterState.load(directory)
    dead = [p.name for p in state.processes if not processes.is_running(p)]
    if dead and len(dead) < len(state.processes):
        _log(f"warning: these processes of cluster {name} are not running: {', '.join(dead)}")
    return state
