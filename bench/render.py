"""Rendering a Flux repository: gitops-runner vs `flux build` called once per Kustomization
(what CI tools do today), on the same input, in one run.

    python -m bench.render [--kustomizations 300] [--objects 30] [--repeat 3]

Inputs: (a) ../shared/corpora/bjw-s-labs-home-ops (94 Kustomizations), (b) a generated
repository of N Kustomizations x M objects. For each: the runner cold (no render cache;
kustomize-batch engine, and the kubectl engine that needs no Go), the runner with a warm cache
after one file changed, and the Flux CLI v2.9.5 sequentially, one process per Kustomization.
Wall time is the median of --repeat runs; peak memory is the largest process of each
contender's process tree. Targets: >= 3x faster than flux build cold, < 1 s re-render of a
one-file change with the cache.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import peers
from bench.common import markdown_table, measure, write_results
from runner.render import postbuild
from runner.render.repository import RenderOptions, RepositoryRender, render
from runner.yamlio import dump, dump_all

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bjw-s-labs-home-ops"
RUNNER = str(Path(sys.executable).parent / "gitops-runner")


def generate_repository(root: Path, kustomizations: int, objects: int) -> None:
    """clusters/gen with N Kustomizations, each an overlay (namespace, labels, a patch) over
    its own base of M objects (Deployments, Services, ConfigMaps in equal shares)."""
    defs = []
    for index in range(kustomizations):
        name = f"app-{index:03d}"
        defs.append({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                     "metadata": {"name": name, "namespace": "flux-system"},
                     "spec": {"interval": "10m", "path": f"./apps/{name}", "prune": True,
                              "targetNamespace": name,
                              "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
                              "postBuild": {"substitute": {"app": name}}}})
        _write_app(root / "apps" / name, name, objects)
    (root / "clusters" / "gen").mkdir(parents=True)
    (root / "clusters" / "gen" / "apps.yaml").write_text(dump_all(defs))


def _write_app(directory: Path, name: str, objects: int) -> None:
    directory.mkdir(parents=True)
    documents: list[dict[str, Any]] = []
    for index in range(objects):
        kind = ("Deployment", "Service", "ConfigMap")[index % 3]
        documents.append(_object(kind, f"{name}-{index}"))
    (directory / "resources.yaml").write_text(dump_all(documents))
    (directory / "kustomization.yaml").write_text(dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["resources.yaml"],
        "labels": [{"pairs": {"app.kubernetes.io/part-of": name}}],
        "patches": [{"target": {"kind": "Deployment"},
                     "patch": "- op: replace\n  path: /spec/replicas\n  value: 2\n"}]}))


def _object(kind: str, name: str) -> dict[str, Any]:
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                "data": {"APP": "${app}", "LOG_LEVEL": "info"}}
    if kind == "Service":
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app",
                                                           "image": "nginx:1.27"}]}}}}


def flux_script(result: RepositoryRender, flux: Path, workdir: Path) -> Path:
    """A shell script running `flux build kustomization` once per Kustomization.

    substituteFrom cannot be read by a dry-run, so (as in the conformance test) the values
    the runner resolved are given inline; the work flux does is the same."""
    lines = ["#!/bin/sh", "set -e", f"cd {result.repository_root}"]
    index = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
             for r in result.kustomizations.values() for o in r.objects
             if o.get("kind") in ("ConfigMap", "Secret")}
    for number, rendered in enumerate(result.kustomizations.values()):
        ks = rendered.kustomization
        manifest = copy.deepcopy(ks.manifest)
        post_build = manifest.get("spec", {}).get("postBuild")
        if post_build and post_build.get("substituteFrom"):
            del post_build["substituteFrom"]
            post_build["substitute"] = postbuild.variables_for(
                ks, lambda kind, ns, name: index.get((kind, ns, name)))
        definition = workdir / f"ks-{number}.yaml"
        definition.write_text(dump(manifest))
        lines.append(f"{flux} build kustomization {ks.name} --namespace {ks.namespace} "
                     f"--path {ks.path} --kustomization-file {definition} --dry-run "
                     "--in-memory-build > /dev/null")
    script = workdir / "flux-build-all.sh"
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return script


def runner_command(cluster: Path, root: Path, cache: bool) -> list[str]:
    return [RUNNER, "build", "--path", str(cluster), "--repository-root", str(root),
            "-o", "json", "--cache" if cache else "--no-cache"]


def median_of(repeat: int, command: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = None) -> tuple[float, float]:
    runs = [measure(command, cwd=cwd, env=env) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def bench_input(name: str, root: Path, cluster: Path, repeat: int,
                change_file: Path) -> dict[str, Any]:
    result = render(RenderOptions(path=cluster, repository_root=root))
    assert result.ok, [e.message for e in result.errors()]
    count = len(result.kustomizations)
    objects = sum(len(r.objects) for r in result.kustomizations.values())
    with tempfile.TemporaryDirectory(prefix="bench-render-") as scratch:
        work = Path(scratch)
        env = {**os.environ, "GITOPS_RUNNER_CACHE": str(work / "cache")}
        flux = median_of(repeat, [str(flux_script(result, peers.flux(), work))])
        batch = median_of(repeat, runner_command(cluster, root, cache=False), env)
        kubectl = median_of(repeat, runner_command(cluster, root, cache=False),
                            {**env, "GITOPS_RUNNER_KUSTOMIZE_ENGINE": "kubectl"})
        changed = _one_file_change(root, cluster, change_file, work, repeat)
    return {"input": name, "kustomizations": count, "objects": objects,
            "flux_build_seconds": flux[0], "flux_build_peak_mb": flux[1],
            "runner_cold_seconds": batch[0], "runner_cold_peak_mb": batch[1],
            "runner_kubectl_engine_seconds": kubectl[0],
            "runner_kubectl_engine_peak_mb": kubectl[1],
            "runner_one_file_change_cached_seconds": changed[0],
            "runner_one_file_change_cached_peak_mb": changed[1]}


def _one_file_change(root: Path, cluster: Path, change_file: Path, work: Path,
                     repeat: int) -> tuple[float, float]:
    """Warm the cache on a copy, change one file, time the re-render (median of runs, each
    after a fresh change, so every run has exactly one Kustomization to rebuild)."""
    copy_root = work / "copy"
    shutil.copytree(root, copy_root, symlinks=True)
    copy_cluster = copy_root / cluster.relative_to(root)
    target = copy_root / change_file.relative_to(root)
    env = {**os.environ, "GITOPS_RUNNER_CACHE": str(work / "warm-cache")}
    measure(runner_command(copy_cluster, copy_root, cache=True), env=env)
    runs = []
    for attempt in range(repeat):
        target.write_text(target.read_text() + f"\n# edit {attempt}\n")
        runs.append(measure(runner_command(copy_cluster, copy_root, cache=True), env=env))
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kustomizations", type=int, default=300)
    parser.add_argument("--objects", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = []
    if CORPUS.is_dir():
        results.append(bench_input(
            "bjw-s-labs-home-ops", CORPUS, CORPUS / "kubernetes/flux/cluster", args.repeat,
            CORPUS / "kubernetes/apps/media/jellyfin/app/helmrelease.yaml"))
    with tempfile.TemporaryDirectory(prefix="bench-generated-") as generated:
        root = Path(generated)
        generate_repository(root, args.kustomizations, args.objects)
        results.append(bench_input(
            f"generated {args.kustomizations}x{args.objects}", root, root / "clusters/gen",
            args.repeat, root / "apps/app-000/resources.yaml"))
    rows = [[r["input"], r["kustomizations"], r["objects"],
             f"{r['flux_build_seconds']:.2f} s / {r['flux_build_peak_mb']:.0f} MB",
             f"{r['runner_cold_seconds']:.2f} s / {r['runner_cold_peak_mb']:.0f} MB",
             f"{r['flux_build_seconds'] / r['runner_cold_seconds']:.1f}x",
             f"{r['runner_kubectl_engine_seconds']:.2f} s "
             f"({r['flux_build_seconds'] / r['runner_kubectl_engine_seconds']:.1f}x)",
             f"{r['runner_one_file_change_cached_seconds']:.2f} s"] for r in results]
    table = markdown_table(["input", "Kustomizations", "objects", "flux build x N",
                            "runner cold", "speed-up", "runner (kubectl engine)",
                            "one-file change, cached"], rows)
    command = (f"python -m bench.render --kustomizations {args.kustomizations} "
               f"--objects {args.objects} --repeat {args.repeat}")
    write_results("render", command, {"inputs": results}, table)


if __name__ == "__main__":
    main()
