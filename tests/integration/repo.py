"""Small Flux repositories written by tests, and running the real engine on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.apply.engine import Engine, EngineOptions
from runner.health.status import HealthOptions
from runner.kube.client import KubeClient
from runner.render.cache import RenderCache
from runner.render.repository import RenderOptions, RepositoryRender, render
from runner.report.model import RunReport
from runner.yamlio import dump_all


def kustomization(name: str, namespace: str, path: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"interval": "10m", "path": path, "prune": True,
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system",
                               "namespace": "flux-system"}, **spec},
    }


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def config_map(name: str, ns: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns}, "data": data}


def deployment(name: str, ns: str, replicas: int = 1, **pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "nginx"}],
                                       **pod_spec}}},
    }


def make_repo(root: Path, scope: str, kustomizations: list[dict[str, Any]],
              files: dict[str, list[dict[str, Any]]]) -> None:
    """A repository whose cluster folder defines its own root Kustomization `<scope>/root`
    (as flux bootstrap does), so tests sharing one cluster never share an inventory."""
    root_ks = kustomization("root", scope, "./clusters/test")
    write(root, {"clusters/test/root.yaml": [root_ks],
                 "clusters/test/kustomizations.yaml": kustomizations, **files})


def write(root: Path, files: dict[str, list[dict[str, Any]]]) -> None:
    """Write each file as a multi-document YAML stream (replacing what was there)."""
    for name, documents in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_all(documents))


def render_repo(root: Path, cluster: str = "clusters/test") -> RepositoryRender:
    result = render(RenderOptions(path=root / cluster, repository_root=root,
                                  cache=RenderCache(None)))
    assert result.ok, [e.message for e in result.errors()]
    return result


def apply_repo(client: KubeClient, root: Path, cluster: str = "clusters/test",
               dry_run: bool = False, **options: Any) -> RunReport:
    options.setdefault("health", HealthOptions())
    engine = Engine(client, EngineOptions(dry_run=dry_run, **options))
    return engine.run(render_repo(root, cluster), "plan" if dry_run else "apply")


def outcome(report: RunReport, name: str) -> str:
    return str(next(k.outcome for k in report.kustomizations if k.name == name))


def actions(report: RunReport, name: str) -> dict[str, str]:
    ks = next(k for k in report.kustomizations if k.name == name)
    found = {str(c.key): str(c.action) for c in ks.changes.entries}
    found.update({str(c.key): f"pruned:{c.action}" for c in ks.pruned})
    return found
