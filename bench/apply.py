"""Applying to the real local control plane: gitops-runner vs `kubectl apply --server-side`
(sequential, as one `kubectl apply -f` does it) vs a raw floor (the same server-side applies
from a minimal concurrent client: no reads, no dry-runs, no waits), on the same objects.

    python -m bench.apply [--kustomizations 40] [--objects 50] [--deployments 200] [--rounds 3]

Scenarios: (a) first apply of N x M objects of mixed kinds (the median of --rounds rounds);
(b) re-apply, nothing changed; (c) re-apply after changing 1% of the objects; (d) the same
repository plus Deployments that roll out through kwok, with health waits on. Each contender
works in its own namespaces of one cluster. Targets: (a) within 1.3x of the raw floor and
>= 3x faster than kubectl; (b) zero writes and under 3 s; peak memory under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import markdown_table, measure, write_results
from runner.controlplane.cluster import LocalCluster, StartOptions
from runner.kube.client import KubeClient
from runner.kube.discovery import ResourceMapper
from runner.manifest import Manifest
from runner.yamlio import dump_all

RUNNER = str(Path(sys.executable).parent / "gitops-runner")
KUBECTL = str(Path(sys.executable).parent / "kubectl")
# Part of every repository's content, so that a run never finds renders of an earlier run
# in the render cache: the first apply renders cold, as a new repository does.
RUN = str(int(time.time()))
KINDS = (("ConfigMap", 15), ("Secret", 10), ("Service", 8), ("ServiceAccount", 8),
         ("Role", 4), ("RoleBinding", 4))


def objects_for(namespace: str, per_kustomization: int, deployments: int,
                version: int) -> list[Manifest]:
    """A namespace and its mixed objects; `version` changes 1 in 50 objects' content."""
    documents: list[Manifest] = [{"apiVersion": "v1", "kind": "Namespace",
                                  "metadata": {"name": namespace,
                                               "labels": {"bench-run": RUN}}}]
    quota = dict(KINDS)
    scale = (per_kustomization - 1) / sum(quota.values())
    for kind, share in KINDS:
        for index in range(max(1, round(share * scale))):
            documents.append(_object(kind, f"{kind.lower()}-{index}", namespace,
                                     changed=version > 0 and kind == "ConfigMap" and index == 0))
    for index in range(deployments):
        documents.append(_deployment(f"web-{index}", namespace))
    return documents


def _object(kind: str, name: str, namespace: str, changed: bool) -> Manifest:
    meta = {"name": name, "namespace": namespace}
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "data": {"value": "changed" if changed else "original", "level": "info"}}
    if kind == "Secret":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "stringData": {"token": f"secret-{name}"}}
    if kind == "Service":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}
    if kind == "ServiceAccount":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta}
    if kind == "Role":
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
                "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                           "verbs": ["get", "list"]}]}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                        "name": name.replace("rolebinding", "role")},
            "subjects": [{"kind": "ServiceAccount", "name": "default",
                          "namespace": namespace}]}


def _deployment(name: str, namespace: str) -> Manifest:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app",
                                                           "image": "nginx:1.27"}]}}}}


def write_repository(root: Path, prefix: str, kustomizations: int, per_kustomization: int,
                     deployments: int, version: int, wait: bool) -> None:
    defs = []
    for index in range(kustomizations):
        name = f"{prefix}{index:02d}"
        spec: dict[str, Any] = {"interval": "10m", "path": f"./apps/{name}", "prune": True,
                                "wait": wait, "timeout": "5m",
                                "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}
        defs.append({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                     "metadata": {"name": name, "namespace": f"{prefix}flux"}, "spec": spec})
        app = root / "apps" / name
        app.mkdir(parents=True, exist_ok=True)
        (app / "objects.yaml").write_text(dump_all(objects_for(
            name, per_kustomization, deployments // kustomizations, version)))
    root_ks = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "root", "namespace": f"{prefix}flux"},
               "spec": {"path": "./clusters/bench", "prune": True,
                        "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}}
    cluster = root / "clusters" / "bench"
    cluster.mkdir(parents=True, exist_ok=True)
    (cluster / "apps.yaml").write_text(dump_all([root_ks, *defs]))


def runner_apply(root: Path, kubeconfig: Path, report: Path) -> dict[str, Any]:
    """`gitops-runner apply` with its default concurrency (4 Kustomizations, 8 objects)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    seconds, peak = measure([RUNNER, "apply", "--path", str(root / "clusters/bench"),
                             "--repository-root", str(root), "--report", str(report),
                             "-o", "json"], env=env)
    data = json.loads(report.read_text())
    assert data["ok"], [k["reason"] for k in data["kustomizations"] if k["reason"]]
    return {"seconds": seconds, "peak_mb": peak, "totals": data["totals"],
            "timings": data["timings"]}


def kubectl_apply(objects: list[Manifest], kubeconfig: Path, work: Path) -> dict[str, Any]:
    manifest = work / "kubectl.yaml"
    manifest.write_text(dump_all(objects))
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    seconds, peak = measure([KUBECTL, "apply", "--server-side", "--force-conflicts",
                             "--field-manager", "bench-kubectl", "-f", str(manifest)], env=env)
    return {"seconds": seconds, "peak_mb": peak}


def kubectl_each(prefix: str, n: int, m: int, kubeconfig: Path, work: Path) -> float:
    """kubectl the way a CI script applies a Flux layout without the runner: one
    `kubectl apply --server-side` per Kustomization, one after the other (dependency order)."""
    files = []
    for index in range(n):
        path = work / f"kubectl-{prefix}-{index:02d}.yaml"
        path.write_text(dump_all(objects_for(f"{prefix}{index:02d}", m, 0, 0)))
        files.append(path)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    started = time.perf_counter()
    for path in files:
        subprocess.run([KUBECTL, "apply", "--server-side", "--force-conflicts",
                        "--field-manager", "bench-kubectl", "-f", str(path)], env=env,
                       check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def raw_floor(objects: list[Manifest], client: KubeClient, workers: int = 16) -> float:
    """The same server-side applies, concurrently, with nothing else: the physical floor."""
    mapper = ResourceMapper(client)

    def apply(manifest: Manifest) -> None:
        resource = mapper.resource_for(manifest["apiVersion"], manifest["kind"])
        meta = manifest["metadata"]
        client.apply(resource.object_path(meta["name"], meta.get("namespace")), manifest,
                     "bench-raw")

    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    rest = [o for o in objects if o["kind"] != "Namespace"]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(apply, namespaces))
        list(pool.map(apply, rest))
    return time.perf_counter() - started


def flat_objects(prefix: str, kustomizations: int, per_kustomization: int, deployments: int,
                 version: int) -> list[Manifest]:
    objects = []
    for index in range(kustomizations):
        objects += objects_for(f"{prefix}{index:02d}", per_kustomization,
                               deployments // kustomizations, version)
    return objects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kustomizations", type=int, default=40)
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--deployments", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of scenario (a)")
    args = parser.parse_args()
    n, m = args.kustomizations, args.objects
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as scratch:
        work = Path(scratch)
        cluster = LocalCluster.start(work / "cluster", name="bench",
                                     options=StartOptions(nodes=4, start_timeout=90))
        try:
            results = run_scenarios(work, cluster, n, m, args.deployments, args.rounds)
        finally:
            cluster.stop()
    report(results, n, m, args.deployments, args.rounds)


def run_scenarios(work: Path, cluster: LocalCluster, n: int, m: int,
                  deployments: int, a_rounds: int) -> dict[str, Any]:
    client = cluster.client()
    results: dict[str, Any] = {"objects": len(flat_objects("r", n, m, 0, 0))}
    # (a) is the noisiest scenario (everything is written): the median of several rounds,
    # each contender on fresh namespaces (the order within a round: _first_apply).
    rounds = [_first_apply(work, cluster, client, n, m, index) for index in range(a_rounds)]
    results["a_rounds"] = [{"runner": r["runner"]["seconds"], "kubectl": r["kubectl"]["seconds"],
                            "kubectl_each": r["kubectl_each"], "raw": r["raw"]}
                           for r in rounds]
    results["a_kubectl_each_seconds"] = statistics.median(r["kubectl_each"] for r in rounds)
    results["a_runner"] = _median(rounds, lambda r: r["runner"]["seconds"])["runner"]
    results["a_kubectl"] = _median(rounds, lambda r: r["kubectl"]["seconds"])["kubectl"]
    results["a_raw_seconds"] = statistics.median(r["raw"] for r in rounds)
    repo = work / "repo0"
    results["b_runner"] = runner_apply(repo, cluster.kubeconfig, work / "b.json")
    results["b_kubectl"] = kubectl_apply(flat_objects("k0", n, m, 0, 0), cluster.kubeconfig,
                                         work)
    write_repository(repo, "r0", n, m, 0, version=1, wait=False)
    results["c_runner"] = runner_apply(repo, cluster.kubeconfig, work / "c.json")
    results["c_kubectl"] = kubectl_apply(flat_objects("k0", n, m, 0, 1), cluster.kubeconfig,
                                         work)
    results["c_raw_seconds"] = raw_floor(flat_objects("f0", n, m, 0, 1), client)
    deploy_repo = work / "deploy-repo"
    write_repository(deploy_repo, "d", n, m, deployments, version=0, wait=True)
    results["d_runner"] = runner_apply(deploy_repo, cluster.kubeconfig, work / "d.json")
    results["d_kubectl"] = _kubectl_and_rollout(flat_objects("e", n, m, deployments, 0),
                                                cluster.kubeconfig, work, n)
    results["total_objects_d"] = results["objects"] + deployments
    return results


def _first_apply(work: Path, cluster: LocalCluster, client: KubeClient, n: int, m: int,
                 index: int) -> dict[str, Any]:
    """One round of (a). Every round adds thousands of objects to the cluster, and writes
    get slower as it grows: the runner and the floor go first, in alternating order, and
    are compared with each other; the kubectl variants follow."""
    repo = work / f"repo{index}"
    write_repository(repo, f"r{index}", n, m, 0, version=0, wait=False)
    floor_objects = flat_objects(f"f{index}", n, m, 0, 0)
    found: dict[str, Any] = {}
    if index % 2:
        found["raw"] = raw_floor(floor_objects, client)
    found["runner"] = runner_apply(repo, cluster.kubeconfig, work / f"a{index}.json")
    if not index % 2:
        found["raw"] = raw_floor(floor_objects, client)
    found["kubectl"] = kubectl_apply(flat_objects(f"k{index}", n, m, 0, 0),
                                     cluster.kubeconfig, work)
    found["kubectl_each"] = kubectl_each(f"q{index}", n, m, cluster.kubeconfig, work)
    return found


def _median(rounds: list[dict[str, Any]], seconds: Callable[[dict[str, Any]], float],
            ) -> dict[str, Any]:
    """The round whose `seconds` is the median (the lower one of an even count)."""
    return sorted(rounds, key=seconds)[(len(rounds) - 1) // 2]


def _kubectl_and_rollout(objects: list[Manifest], kubeconfig: Path, work: Path,
                         namespaces: int) -> dict[str, Any]:
    """kubectl apply, then `kubectl wait` for Available per namespace: kubectl's way."""
    started = time.perf_counter()
    applied = kubectl_apply(objects, kubeconfig, work)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    for index in range(namespaces):
        subprocess.run([KUBECTL, "wait", "--for=condition=Available", "deployment", "--all",
                        "-n", f"e{index:02d}", "--timeout=300s"], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=330)
    applied["seconds"] = time.perf_counter() - started
    return applied


def report(results: dict[str, Any], n: int, m: int, deployments: int, rounds: int) -> None:
    rows = []
    for scenario, label in (("a", "first apply"), ("b", "re-apply, no change"),
                            ("c", "1% changed"), ("d", f"+{deployments} Deployments, wait")):
        ours = results[f"{scenario}_runner"]
        kubectl = results[f"{scenario}_kubectl"]
        raw = results.get(f"{scenario}_raw_seconds")
        timings = ours["timings"]
        split = (f"render {timings.get('render', 0):.1f}, read "
                 f"{timings.get('requests_read', 0):.1f}, dry-run "
                 f"{timings.get('requests_dry_run', 0):.1f}, write "
                 f"{timings.get('requests_write', 0):.1f} (request-seconds)")
        rows.append([label, f"{ours['seconds']:.2f} s / {ours['peak_mb']:.0f} MB",
                     f"{kubectl['seconds']:.2f} s",
                     f"{kubectl['seconds'] / ours['seconds']:.1f}x",
                     f"{raw:.2f} s ({ours['seconds'] / raw:.2f}x of floor)" if raw else "-",
                     json.dumps(ours["totals"]), split])
    table = markdown_table(["scenario", "gitops-runner", "kubectl --server-side",
                            "speed-up vs kubectl", "raw floor", "changes", "time split"], rows)
    each = results["a_kubectl_each_seconds"]
    table += (f"\n\nScenario (a) is the median of {rounds} rounds (runner and floor first, in "
              "alternating order, then kubectl, then kubectl per Kustomization; each on fresh "
              "namespaces). Every round, runner / kubectl / kubectl per Kustomization / floor: "
              + "; ".join(f"{r['runner']:.2f} / {r['kubectl']:.2f} / {r['kubectl_each']:.2f} / "
                          f"{r['raw']:.2f} s ({r['runner'] / r['raw']:.2f}x of floor)"
                          for r in results["a_rounds"])
              + f". kubectl as a CI script applies a Flux layout, one `kubectl apply "
              f"--server-side` per Kustomization in order: {each:.2f} s, "
              f"{each / results['a_runner']['seconds']:.1f}x the runner's time. Other "
              "scenarios: one run each.")
    command = f"python -m bench.apply --kustomizations {n} --objects {m} " \
              f"--deployments {deployments} --rounds {rounds}"
    write_results("apply", command, results, table)


if __name__ == "__main__":
    main()
