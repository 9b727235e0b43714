"""Faults during apply: the API server dies mid-run; the next run finishes the job without
losing or wrongly deleting anything. Uses its own control plane, since it kills it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.apply import inventory
from runner.apply.engine import Engine, EngineOptions
from runner.controlplane.cluster import LocalCluster, StartOptions
from runner.discover.flux import NamespacedName
from runner.errors import RunnerError
from tests.conftest import control_plane_skip_reason
from tests.integration.repo import (
    actions,
    apply_repo,
    config_map,
    kustomization,
    make_repo,
    namespace,
    render_repo,
)

pytestmark = pytest.mark.cluster


@pytest.fixture()
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    reason = control_plane_skip_reason()
    if reason:
        pytest.skip(reason)
    cluster = LocalCluster.start(tmp_path / "cluster", name="faults",
                                 options=StartOptions(start_timeout=90))
    yield cluster
    cluster.stop()


def layered_repo(root: Path, objects_per_layer: int = 15) -> None:
    layers = ["one", "two", "three"]
    kustomizations = [kustomization(name, "faults", f"./{name}",
                                    dependsOn=[{"name": layers[i - 1]}] if i else [])
                      for i, name in enumerate(layers)]
    files = {f"{name}/all.yaml": [namespace(f"faults-{name}")] + [
        config_map(f"c{i}", f"faults-{name}", value=str(i)) for i in range(objects_per_layer)]
        for name in layers}
    make_repo(root, "faults", kustomizations, files)


def test_api_server_killed_mid_apply_then_next_run_completes(tmp_path: Path,
                                                             own_cluster: LocalCluster) -> None:
    repo = tmp_path / "repo"
    layered_repo(repo)
    killed = threading.Event()

    def kill_after_first_layer(line: str) -> None:
        if "faults/one" in line and "resources" in line and not killed.is_set():
            killed.set()
            own_cluster.kill("kube-apiserver")

    client = own_cluster.client()
    engine = Engine(client, EngineOptions(progress=kill_after_first_layer))
    try:
        report = engine.run(render_repo(repo), "apply")
        assert not report.ok, "the run cannot succeed with the API server gone"
    except RunnerError:
        pass  # failing loudly is fine too; what matters is the next run
    assert killed.is_set()

    own_cluster.restart("kube-apiserver")
    client = own_cluster.client()
    report = apply_repo(client, repo)
    assert report.ok, [(k.id, k.reason) for k in report.kustomizations]
    for layer in ("one", "two", "three"):
        names = {c["metadata"]["name"] for c in client.get(
            f"/api/v1/namespaces/faults-{layer}/configmaps")["items"]}
        assert {f"c{i}" for i in range(15)} <= names
        ks = render_repo(repo).kustomizations[NamespacedName("faults", layer)].kustomization
        stored = inventory.load(client, ks)
        assert stored is not None and len(stored.entries) == 16

    # Pruning still works exactly after the crash: only the removed object goes.
    layered_repo(repo, objects_per_layer=14)
    report = apply_repo(client, repo)
    assert report.ok
    pruned = {k: v for k, v in actions(report, "one").items() if v.startswith("pruned")}
    assert pruned == {"ConfigMap/faults-one/c14": "pruned:deleted"}
    assert client.get_or_none("/api/v1/namespaces/faults-one/configmaps/c13") is not None
