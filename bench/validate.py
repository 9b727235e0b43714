"""The validate stage against kubeconform: resources per second and peak memory.

    python -m bench.validate [--resources 50000] [--runs 3]

(a) the rendered `../shared/corpora` repositories: each is rendered once (not timed), its
    objects written to one YAML stream, then `gitops-runner validate -f` and kubeconform
    both read that stream;
(b) a generated set of mixed kinds (Deployment, Service, ConfigMap, Secret, RBAC, Ingress,
    HPA, PDB, CronJob, about 1% invalid) in files of 100 documents, spread over 20
    namespaces that the set creates (its first file), as a repository would.
Both tools get the same schemas (runner.validate.export writes ours in kubeconform's layout),
the same strictness (-strict), `-ignore-missing-schemas` (the corpora's CRDs come from Helm
charts that are not in the repositories) and as many workers as cores (`-n`). Peak memory is
the largest sum of the resident memory of the tool's process tree, sampled every 20 ms.
YAML parsing is measured alone too, on (b): PyYAML (runner.yamlio) and the fast path
(runner.yamlfast), single process.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

import peers
from bench.common import command_line, markdown_table, write_results
from runner.render.repository import RenderOptions, render
from runner.validate.export import write_kubeconform_layout
from runner.yamlfast import parse
from runner.yamlio import dump_all, load_documents

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
REPOSITORIES = {
    "flux2-kustomize-helm-example": "clusters/production",
    "flux2-multi-tenancy": "clusters/production",
    "bjw-s-labs-home-ops": "kubernetes/flux/cluster",
}
KUBERNETES_VERSION = "1.35.4"
NAMESPACES = 20
OURS = [sys.executable, "-c", "import sys; from runner.cli.validate import validate; "
                              "validate(sys.argv[1:])"]


def _tree_rss_kb(root: int) -> int:
    """Resident memory of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        entry = proc.name
        if not entry.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parent = int(fields.get("PPid", "0").strip())
        children.setdefault(parent, []).append(int(entry))
        rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += rss.get(pid, 0)
        pending += children.get(pid, [])
    return total


def measure(command: Sequence[str]) -> tuple[float, float, str]:
    """(seconds, peak MB of the process tree, stdout) of one run."""
    peak = 0
    started = time.perf_counter()
    process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{command[0]} failed ({process.returncode}): {stderr.decode()}")
    return seconds, peak / 1024, stdout.decode()


def best_of(runs: int, command: Sequence[str]) -> tuple[float, float, str]:
    results = [measure(command) for _ in range(runs)]
    seconds = min(r[0] for r in results)
    return seconds, max(r[1] for r in results), results[-1][2]


def generate(directory: Path, count: int, per_file: int = 100) -> int:
    """`count` resources of mixed kinds, about 1% invalid, in files of `per_file`."""
    rng = random.Random(42)
    makers = [_deployment, _service, _configmap, _secret, _service_account, _role,
              _role_binding, _ingress, _hpa, _pdb, _cronjob]
    written = 0
    for file_index in range(0, count, per_file):
        documents = [] if file_index else _namespaces()
        for index in range(file_index, min(count, file_index + per_file)):
            document = rng.choice(makers)(f"r{index}", f"ns{index % NAMESPACES}")
            if rng.random() < 0.01:
                document["spec" if "spec" in document else "metadata"]["bogusField"] = 1
            documents.append(document)
        (directory / f"set-{file_index // per_file:05d}.yaml").write_text(dump_all(documents))
        written += len(documents)
    return written


def _namespaces() -> list[dict[str, Any]]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns{index}"}}
            for index in range(NAMESPACES)]


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {"app": name, "tier": "bench"}}


def _deployment(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, namespace),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "containers": [{
                             "name": "app", "image": "nginx:1.27",
                             "ports": [{"name": "http", "containerPort": 8080}],
                             "env": [{"name": "MODE", "value": "fast"}],
                             "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                           "limits": {"cpu": 1, "memory": "128Mi"}},
                             "readinessProbe": {"httpGet": {"path": "/", "port": "http"}}}]}}}}


def _service(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, namespace),
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def _configmap(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, namespace),
            "data": {"config.yaml": "a: 1\nb: [x, y]\n", "LEVEL": "info"}}


def _secret(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name, namespace),
            "type": "Opaque", "stringData": {"password": "hunter2"}}


def _service_account(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, namespace)}


def _role(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": _meta(name, namespace),
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}


def _role_binding(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": _meta(name, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]}


def _ingress(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": _meta(name, namespace),
            "spec": {"rules": [{"host": f"{name}.example.com", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}}


def _hpa(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": _meta(name, namespace),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": name},
                     "minReplicas": 1, "maxReplicas": 5,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization",
                                                   "averageUtilization": 80}}}]}}


def _pdb(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": _meta(name, namespace),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": name}}}}


def _cronjob(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(name, namespace),
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "job", "image": "busybox", "args": ["true"]}]}}}}}}


def contenders(path: Path, schema_dir: Path, cores: int) -> dict[str, list[str]]:
    return {
        "gitops-runner": [*OURS, "-f", str(path), "--ignore-missing-schemas",
                          "--workers", str(cores), "-o", "json", "--summary"],
        "kubeconform": [str(peers.kubeconform()), "-strict", "-ignore-missing-schemas",
                        "-kubernetes-version", KUBERNETES_VERSION, "-schema-location",
                        str(schema_dir), "-n", str(cores), "-summary", str(path)],
    }


def compare(name: str, path: Path, resources: int, schema_dir: Path, cores: int,
            runs: int) -> dict[str, Any]:
    row: dict[str, Any] = {"input": name, "resources": resources}
    for tool, command in contenders(path, schema_dir, cores).items():
        seconds, peak, stdout = best_of(runs, command)
        row[tool] = {"seconds": round(seconds, 3), "resources_per_second": round(
            resources / seconds), "peak_mb": round(peak, 1)}
        if tool == "gitops-runner":
            report = orjson.loads(stdout)
            row[tool]["summary"] = report["summary"]
            row[tool]["phases"] = report.get("seconds", {})
        else:
            row[tool]["summary"] = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    row["speedup"] = round(row["kubeconform"]["seconds"] / row["gitops-runner"]["seconds"], 2)
    return row


def render_corpora(directory: Path) -> list[tuple[str, Path, int]]:
    rendered = []
    for repository, cluster_path in REPOSITORIES.items():
        root = CORPORA / repository
        if not root.is_dir():
            print(f"skipping {repository}: {root} is absent")
            continue
        result = render(RenderOptions(path=root / cluster_path, repository_root=root))
        objects = [o for r in result.kustomizations.values() for o in r.objects]
        target = directory / f"{repository}.yaml"
        target.write_text(dump_all(objects))
        rendered.append((repository, target, len(objects)))
    return rendered


def parse_share(directory: Path) -> dict[str, float]:
    """Seconds to parse every file of (b) with PyYAML and with the fast path."""
    texts = [p.read_text() for p in sorted(directory.glob("*.yaml"))]
    started = time.perf_counter()
    for text in texts:
        list(load_documents(text))
    pyyaml = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        parse(text)
    fast = time.perf_counter() - started
    megabytes = sum(len(t) for t in texts) / 1e6
    return {"megabytes": round(megabytes, 1), "pyyaml_seconds": round(pyyaml, 2),
            "fast_seconds": round(fast, 2), "pyyaml_mb_per_s": round(megabytes / pyyaml, 2),
            "fast_mb_per_s": round(megabytes / fast, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as scratch:
        work = Path(scratch)
        schema_dir = work / "schemas"
        write_kubeconform_layout(schema_dir, KUBERNETES_VERSION, strict=True)
        rows = []
        (work / "corpora").mkdir()
        for name, path, count in render_corpora(work / "corpora"):
            rows.append(compare(f"(a) {name}", path, count, schema_dir, cores, args.runs))
        generated = work / "generated"
        generated.mkdir()
        count = generate(generated, args.resources)
        rows.append(compare(f"(b) generated {count}", generated, count, schema_dir, cores,
                            args.runs))
        parsing = parse_share(generated)
    big = rows[-1]["gitops-runner"]
    phases = big.get("phases", {})
    table = markdown_table(
        ["input", "resources", "gitops-runner s", "res/s", "peak MB", "kubeconform s",
         "res/s", "peak MB", "speedup"],
        [[r["input"], r["resources"], r["gitops-runner"]["seconds"],
          r["gitops-runner"]["resources_per_second"], r["gitops-runner"]["peak_mb"],
          r["kubeconform"]["seconds"], r["kubeconform"]["resources_per_second"],
          r["kubeconform"]["peak_mb"], f'{r["speedup"]}x'] for r in rows])
    table += (f"\n\nWorkers: {cores} for both (`--workers`, `-n`). YAML parsing of (b), one "
              f"process, {parsing['megabytes']} MB: PyYAML (libyaml) "
              f"{parsing['pyyaml_seconds']} s ({parsing['pyyaml_mb_per_s']} MB/s), fast path "
              f"{parsing['fast_seconds']} s ({parsing['fast_mb_per_s']} MB/s). In the (b) run, "
              f"summed over workers: parse {phases.get('parse')} s, checks "
              f"{phases.get('check')} s, schema loading {phases.get('schemas')} s.")
    write_results("validate", command_line(), {"rows": rows, "yaml_parsing": parsing,
                                                "workers": cores}, table)


if __name__ == "__main__":
    main()
