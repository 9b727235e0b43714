"""Local control plane: cold build, warm start to /readyz (and to Ready nodes), and the time
for a 3-replica Deployment to become Available through kwok.

    python -m bench.controlplane [--cold] [--starts 3]

--cold rebuilds every binary with an empty GOCACHE (the module downloads stay cached, so
this measures compilation, which is what a new CI machine pays after `go mod download`).
There is no peer here: the control plane is test infrastructure, measured so its cost stays
visible (target: warm start under 15 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import markdown_table, write_results
from runner import gobuild
from runner.controlplane import binaries
from runner.controlplane.cluster import LocalCluster, StartOptions
from runner.kube.client import KubeClient


def cold_build_seconds() -> float:
    """Build all five binaries with an empty GOCACHE into a throwaway binary cache."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch:
        saved = {name: os.environ.get(name) for name in ("GOCACHE", gobuild.CACHE_DIR_ENV)}
        os.environ["GOCACHE"] = f"{scratch}/gocache"
        os.environ[gobuild.CACHE_DIR_ENV] = f"{scratch}/bin"
        try:
            started = time.perf_counter()
            binaries.locate(log=print)
            return time.perf_counter() - started
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def deployment_available_seconds(client: KubeClient) -> float:
    client.apply("/api/v1/namespaces/bench", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": "bench"}}, "bench")
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "bench"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
    }
    path = "/apis/apps/v1/namespaces/bench/deployments/web"
    started = time.perf_counter()
    client.apply(path, deployment, "bench")
    while True:
        status = client.get(path).get("status", {})
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        if status.get("readyReplicas") == 3 and conditions.get("Available") == "True":
            return time.perf_counter() - started
        if time.perf_counter() - started > 120:
            raise TimeoutError("Deployment bench/web did not become Available in 120s")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="also time a cold build")
    parser.add_argument("--starts", type=int, default=3, help="warm starts to time")
    args = parser.parse_args()

    results: dict[str, object] = {"kubernetes_version": binaries.kubernetes_version()}
    rows: list[list[object]] = []
    if args.cold:
        cold = cold_build_seconds()
        results["cold_build_seconds"] = round(cold, 1)
        rows.append(["cold build of 5 binaries (empty GOCACHE)", f"{cold:.0f} s", ""])
    binaries.locate(log=print)

    starts, rollouts = [], []
    for _ in range(args.starts):
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as workdir:
            started = time.perf_counter()
            cluster = LocalCluster.start(Path(workdir) / "c", options=StartOptions())
            starts.append(time.perf_counter() - started)
            try:
                rollouts.append(deployment_available_seconds(cluster.client()))
            finally:
                cluster.stop()
    results["warm_start_seconds"] = [round(s, 2) for s in starts]
    results["deployment_available_seconds"] = [round(s, 2) for s in rollouts]
    rows.append(["warm start to readyz + Ready nodes (median)",
                 f"{statistics.median(starts):.2f} s", "target < 15 s"])
    rows.append(["3-replica Deployment to Available (median)",
                 f"{statistics.median(rollouts):.2f} s", ""])
    table = markdown_table(["measure", "value", "note"], rows)
    command = "python -m bench.controlplane" + (" --cold" if args.cold else "")
    write_results("controlplane", command, results, table)


if __name__ == "__main__":
    main()
