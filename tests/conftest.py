"""Shared fixtures. The `local_cluster` fixture starts one real control plane per test session.

Tests that need it are marked `cluster`. When Go is absent (so the control plane can be
neither found nor built) they skip with that reason; any other failure to start is an error,
so CI fails loudly instead of silently testing nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.controlplane import binaries
from runner.controlplane.cluster import LocalCluster, StartOptions
from runner.kube.client import KubeClient

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"
CORPORA = REPO_ROOT.parent / "shared" / "corpora"


def control_plane_skip_reason() -> str | None:
    """None if a control plane can be started, else why not (Go truly absent)."""
    if binaries.all_cached():
        return None
    explicit = binaries._env_path(binaries.BIN_DIR_ENV)
    if explicit is not None or shutil.which("go"):
        return None
    return "Go is not installed and no control-plane binaries are cached: cannot build one"


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    reason = control_plane_skip_reason()
    if reason:
        print(f"SKIPPING cluster tests: {reason}")
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("control-plane")
    cluster = LocalCluster.start(directory / "cluster", name="tests",
                                 options=StartOptions(start_timeout=90), log=print)
    yield cluster
    cluster.stop()


@pytest.fixture()
def kube(local_cluster: LocalCluster) -> Iterator[KubeClient]:
    client = local_cluster.client()
    yield client
    client.close()
