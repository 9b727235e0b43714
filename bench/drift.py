"""Drift check of a large repository on the local control plane: time and API requests.

    python -m bench.drift [--kustomizations 10] [--objects 200] [--repeat 3] [--no-kubectl]

A generated repository of K Kustomizations (one namespace each) x N objects (ConfigMaps,
Secrets, Services, Deployments with 0 replicas), 2,000 objects by default, is applied once to
a fresh local control plane. Then, each --repeat times (median):
  - `drift` with no drift (render + detection);
  - `drift` with 1% drift (ConfigMaps edited, Deployments scaled, Secrets deleted, labels
    added by kubectl-label);
  - `drift --correct` of that 1%, and a check that the next drift finds nothing;
  - peers that compare object by object: the runner's own `plan` (a GET and a server-side
    dry-run per object, as `flux diff` does) and `kubectl diff --server-side`.
Requests are counted by the client (KubeClient.request_count). Targets: under 5 s with no
drift; requests proportional to kinds x namespaces, not to objects.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import markdown_table, write_results
from runner.apply.engine import Engine, EngineOptions
from runner.controlplane.cluster import LocalCluster, StartOptions
from runner.drift.correct import correct
from runner.drift.detect import DetectOptions, Detector, DriftRun
from runner.kube.client import KubeClient
from runner.render.cache import RenderCache
from runner.render.repository import RenderOptions, RepositoryRender, render
from runner.yamlio import dump_all

MIX = (("ConfigMap", 0.6), ("Secret", 0.2), ("Service", 0.1), ("Deployment", 0.1))


def object_of(kind: str, name: str, namespace: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace}
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "data": {"key": f"value of {name}", "mode": "git"}}
    if kind == "Secret":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "stringData": {"password": f"secret-{name}"}}
    if kind == "Service":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta,
                "spec": {"selector": {"app": name},
                         "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta,
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "containers": [{"name": "app", "image": "nginx:1.27",
                                         "resources": {"requests": {"cpu": "100m",
                                                                    "memory": "64Mi"}}}]}}}}


def make_repository(root: Path, kustomizations: int, objects: int) -> list[dict[str, Any]]:
    """The repository, and every object it holds."""
    all_objects: list[dict[str, Any]] = []
    definitions = []
    for k in range(kustomizations):
        namespace = f"bench-{k:02d}"
        documents: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": namespace}}]
        for kind, share in MIX:
            documents += [object_of(kind, f"{kind.lower()}-{i:03d}", namespace)
                          for i in range(round((objects - 1) * share))]
        all_objects += documents
        (root / f"apps/app{k:02d}").mkdir(parents=True, exist_ok=True)
        (root / f"apps/app{k:02d}/all.yaml").write_text(dump_all(documents))
        definitions.append({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": f"app{k:02d}", "namespace": "flux-system"},
            "spec": {"interval": "10m", "path": f"./apps/app{k:02d}", "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}})
    (root / "clusters/bench").mkdir(parents=True, exist_ok=True)
    (root / "clusters/bench/apps.yaml").write_text(dump_all(definitions))
    return all_objects


def render_repo(root: Path) -> RepositoryRender:
    result = render(RenderOptions(path=root / "clusters/bench", repository_root=root,
                                  cache=RenderCache(None)))
    assert result.ok, [e.message for e in result.errors()]
    return result


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def drift_once(client: KubeClient, root: Path) -> tuple[float, float, int, DriftRun]:
    """(render seconds, detection seconds, requests, result)."""
    render_seconds, rendered = timed(lambda: render_repo(root))
    before = client.request_count
    seconds, run = timed(lambda: Detector(client, DetectOptions(revision="bench")).detect(
        rendered))
    return render_seconds, seconds, client.request_count - before, run


def findings(run: DriftRun) -> int:
    return sum(len(k.drift or []) for k in run.report.kustomizations)


def add_drift(client: KubeClient, kustomizations: int, count: int) -> None:
    """`count` drifted objects, spread over the namespaces and kinds."""
    patch = "application/merge-patch+json"
    for i in range(count):
        namespace = f"bench-{i % kustomizations:02d}"
        which = i % 5
        if which in (0, 1):
            client.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/"
                           f"configmap-{i:03d}", params={"fieldManager": "kubectl-edit"},
                           body={"data": {"mode": "edited"}}, content_type=patch)
        elif which == 2:
            client.request("PATCH", f"/apis/apps/v1/namespaces/{namespace}/deployments/"
                           f"deployment-{i % 19:03d}", params={"fieldManager": "ops"},
                           body={"spec": {"replicas": 2}}, content_type=patch)
        elif which == 3:
            client.delete(f"/api/v1/namespaces/{namespace}/secrets/secret-{i:03d}")
        else:
            client.request("PATCH", f"/api/v1/namespaces/{namespace}/services/"
                           f"service-{i % 19:03d}", params={"fieldManager": "kubectl-label"},
                           body={"metadata": {"labels": {"edited-by": "hand"}}},
                           content_type=patch)


def plan_once(client: KubeClient, root: Path) -> tuple[float, int]:
    rendered = render_repo(root)
    before = client.request_count
    seconds, _ = timed(lambda: Engine(client, EngineOptions(dry_run=True, revision="bench"))
                       .run(rendered, "plan"))
    return seconds, client.request_count - before


def kubectl_diff(kubeconfig: Path, objects: list[dict[str, Any]]) -> float | None:
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or \
        shutil.which("kubectl")
    if kubectl is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as manifest:
        manifest.write(dump_all(objects))
        manifest.flush()
        started = time.perf_counter()
        result = subprocess.run([kubectl, "--kubeconfig", str(kubeconfig), "diff",
                                 "--server-side", "--force-conflicts",
                                 "--field-manager", "gitops-runner", "-f", manifest.name],
                                capture_output=True, check=False)
        elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        print(result.stderr.decode()[-2000:])
        return None
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kustomizations", type=int, default=10)
    parser.add_argument("--objects", type=int, default=200, help="per Kustomization")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-kubectl", action="store_true", help="skip kubectl diff")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-drift-") as scratch:
        root = Path(scratch) / "repo"
        objects = make_repository(root, args.kustomizations, args.objects)
        total = len(objects)
        drifted = max(1, total // 100)
        cluster = LocalCluster.start(Path(scratch) / "cluster", options=StartOptions())
        try:
            client = cluster.client()
            applied_seconds, report = timed(lambda: Engine(client, EngineOptions(
                revision="bench", object_workers=16)).run(render_repo(root), "apply"))
            assert report.ok, [(k.id, k.reason) for k in report.kustomizations if k.reason]
            print(f"applied {total} objects in {applied_seconds:.1f}s")

            clean = [drift_once(client, root) for _ in range(args.repeat)]
            assert all(findings(c[3]) == 0 for c in clean), "a fresh apply has no drift"
            dirty: list[tuple[float, float, int, DriftRun]] = []
            corrections: list[tuple[float, int]] = []
            for _ in range(args.repeat):
                add_drift(client, args.kustomizations, drifted)
                dirty.append(drift_once(client, root))
                run = dirty[-1][3]
                assert findings(run) == drifted, (findings(run), drifted)
                before = client.request_count
                seconds, _ = timed(lambda run=run: correct(  # type: ignore[misc]
                    client, render_repo(root), run, EngineOptions(revision="bench")))
                corrections.append((seconds, client.request_count - before))
                assert findings(drift_once(client, root)[3]) == 0, "in sync after --correct"
            plans = [plan_once(client, root) for _ in range(args.repeat)]
            kubectl = None if args.no_kubectl else kubectl_diff(cluster.kubeconfig, objects)
        finally:
            cluster.stop()

    def median(values: list[float]) -> float:
        return statistics.median(values)

    results: dict[str, Any] = {
        "objects": total, "kustomizations": args.kustomizations,
        "namespaces": args.kustomizations, "kinds": len(MIX) + 1,
        "drifted_objects": drifted, "apply_seconds": round(applied_seconds, 2),
        "no_drift": {"render_seconds": round(median([c[0] for c in clean]), 3),
                     "detect_seconds": round(median([c[1] for c in clean]), 3),
                     "total_seconds": round(median([c[0] + c[1] for c in clean]), 3),
                     "requests": clean[0][2]},
        "one_percent_drift": {
            "render_seconds": round(median([d[0] for d in dirty]), 3),
            "detect_seconds": round(median([d[1] for d in dirty]), 3),
            "total_seconds": round(median([d[0] + d[1] for d in dirty]), 3),
            "requests": dirty[0][2], "findings": drifted},
        "correct_one_percent": {"seconds": round(median([c[0] for c in corrections]), 3),
                                "requests": corrections[0][1]},
        "peer_plan_per_object": {"seconds": round(median([p[0] for p in plans]), 3),
                                 "requests": plans[0][1]},
        "peer_kubectl_diff_server_side": {"seconds": round(kubectl, 3)} if kubectl else None,
    }
    no_drift, one = results["no_drift"], results["one_percent_drift"]
    rows: list[list[object]] = [
        [f"drift, no drift ({total} objects)", f"{no_drift['total_seconds']:.2f} s",
         f"{no_drift['detect_seconds']:.2f} s", no_drift["requests"], "target < 5 s"],
        [f"drift, 1% drift ({drifted} objects)", f"{one['total_seconds']:.2f} s",
         f"{one['detect_seconds']:.2f} s", one["requests"], f"{drifted} findings"],
        ["drift --correct of the 1% (after detection)",
         f"{results['correct_one_percent']['seconds']:.2f} s", "",
         results["correct_one_percent"]["requests"], "then drift finds nothing"],
        ["gitops-runner plan on the same objects (LIST + dry-run of suspects)",
         f"{results['peer_plan_per_object']['seconds']:.2f} s", "",
         results["peer_plan_per_object"]["requests"], "no drift; render not included"],
    ]
    if kubectl:
        rows.append(["peer: kubectl diff --server-side", f"{kubectl:.2f} s", "", "-",
                     "one process, all objects"])
    table = markdown_table([f"measure (median of {args.repeat})", "wall (render + check)",
                            "check only", "API requests", "note"], rows)
    table += (f"\n\n{total} objects in {args.kustomizations} Kustomizations/namespaces, "
              f"{len(MIX) + 1} kinds; render is a cold kustomize build (no render cache).")
    command = "python -m bench.drift " + " ".join(sys.argv[1:])
    write_results("drift", command.strip(), results, table)


if __name__ == "__main__":
    main()
