"""Drift detection and correction against the real local control plane."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from runner.apply import inventory
from runner.apply.engine import Engine, EngineOptions
from runner.cli.drift import drift as drift_command
from runner.controlplane.cluster import LocalCluster
from runner.discover.flux import NamespacedName
from runner.drift.correct import correct
from runner.drift.detect import DetectOptions, Detector, DriftRun
from runner.health.status import HealthOptions
from runner.kube.client import KubeClient
from runner.render.cache import RenderCache
from runner.render.repository import RenderOptions, render
from runner.report.model import RunReport
from tests.conftest import EXAMPLES
from tests.integration.repo import (
    apply_repo,
    config_map,
    deployment,
    kustomization,
    make_repo,
    namespace,
    render_repo,
    write,
)

pytestmark = pytest.mark.cluster

MERGE_PATCH = "application/merge-patch+json"
OWNER = "kustomize.toolkit.fluxcd.io"


def detect(kube: KubeClient, root: Path, revision: str = "") -> DriftRun:
    return Detector(kube, DetectOptions(revision=revision)).detect(render_repo(root))


def findings(report: RunReport) -> dict[str, tuple[str, str]]:
    """`<kind> <object>` -> (status, fields) of every finding."""
    return {f"{d.kind} {d.key or k.id}": (str(d.status), ",".join(d.fields))
            for k in report.kustomizations for d in k.drift or []}


def edit(kube: KubeClient, path: str, manager: str, body: dict[str, Any]) -> None:
    kube.request("PATCH", path, params={"fieldManager": manager}, body=body,
                 content_type=MERGE_PATCH)


def test_drift_finds_exactly_what_moved_and_correct_puts_it_back(
        tmp_path: Path, kube: KubeClient) -> None:
    ns = "drift-app"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": ns},
              "stringData": {"password": "hunter2"}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": ns},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    web = deployment("web", ns, replicas=2)
    web["spec"]["template"]["spec"]["containers"][0].update(
        resources={"requests": {"cpu": 0.5, "memory": "64Mi"}, "limits": {"cpu": "1000m"}},
        ports=[{"containerPort": 8080}])
    autoscaled = deployment("autoscaled", ns)
    del autoscaled["spec"]["replicas"]  # an HPA owns it
    make_repo(tmp_path, "drift", [kustomization("app", "drift", "./app", wait=True,
                                                timeout="60s")],
              {"app/all.yaml": [namespace(ns), config_map("settings", ns, mode="git"), secret,
                                service, web, autoscaled]})
    assert apply_repo(kube, tmp_path).ok

    before = kube.request_count
    clean = detect(kube, tmp_path)
    assert findings(clean.report) == {}, "a fresh apply has no drift"
    # discovery (2) + inventories (1) + one LIST per kind (5), and no dry-run at all
    assert kube.request_count - before <= 8

    apps = f"/apis/apps/v1/namespaces/{ns}/deployments"
    edit(kube, f"{apps}/web", "manual-scaler", {"spec": {"replicas": 5}})
    edit(kube, f"/api/v1/namespaces/{ns}/configmaps/settings", "kubectl-edit",
         {"data": {"mode": "edited"}})
    kube.delete(f"/api/v1/namespaces/{ns}/secrets/s")
    edit(kube, f"/api/v1/namespaces/{ns}/services/svc", "kubectl-label",
         {"metadata": {"labels": {"team": "by-hand"}}})
    kube.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body=config_map(
        "stray", ns, a="1") | {"metadata": {"name": "stray", "namespace": ns, "labels": {
            f"{OWNER}/name": "app", f"{OWNER}/namespace": "drift"}}})
    kube.apply(f"{apps}/autoscaled", {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "metadata": {"name": "autoscaled", "namespace": ns},
                                      "spec": {"replicas": 3}}, "hpa-like-controller")

    run = detect(kube, tmp_path)
    assert findings(run.report) == {
        "modified ConfigMap/drift-app/settings": ("detected", "data.mode"),
        "missing Secret/drift-app/s": ("detected", ""),
        "modified Service/drift-app/svc": ("detected", "metadata.labels.team"),
        "modified Deployment.apps/drift-app/web": ("detected", "spec.replicas"),
        "stray ConfigMap/drift-app/stray": ("detected", ""),
    }
    app = next(k for k in run.report.kustomizations if k.name == "app")
    assert str(app.outcome) == "drifted"
    web_drift = next(d for d in app.drift or [] if d.key and d.key.name == "web")
    assert web_drift.diff is not None and "-  replicas: 5" in web_drift.diff
    assert "manual-scaler" in web_drift.reason

    correct(kube, render_repo(tmp_path), run, EngineOptions(health=HealthOptions()))
    assert run.report.ok
    assert {v[0] for v in findings(run.report).values()} == {"corrected"}
    assert str(app.outcome) == "corrected"
    assert findings(detect(kube, tmp_path).report) == {}, "back in sync after --correct"
    live_web = kube.get(f"{apps}/web")
    assert live_web["spec"]["replicas"] == 2
    assert kube.get(f"{apps}/autoscaled")["spec"]["replicas"] == 3, "the HPA's field stays"
    assert "team" not in kube.get(f"/api/v1/namespaces/{ns}/services/svc")["metadata"]["labels"]
    assert kube.get_or_none(f"/api/v1/namespaces/{ns}/configmaps/stray") is None
    assert kube.get_or_none(f"/api/v1/namespaces/{ns}/secrets/s") is not None


def test_fresh_apply_of_the_example_repository_has_no_drift(kube: KubeClient) -> None:
    result = render(RenderOptions(path=EXAMPLES / "clusters" / "staging",
                                  cache=RenderCache(None)))
    assert result.ok, [e.message for e in result.errors()]
    applied = Engine(kube, EngineOptions(revision="example@sha1:1")).run(result, "apply")
    assert applied.ok, [(k.id, k.reason) for k in applied.kustomizations]
    again = render(RenderOptions(path=EXAMPLES / "clusters" / "staging",
                                 cache=RenderCache(None)))
    run = Detector(kube, DetectOptions(revision="example@sha1:1")).detect(again)
    assert findings(run.report) == {}
    assert {str(k.outcome) for k in run.report.kustomizations} == {"in-sync"}
    assert run.report.requests < 20


def test_revisions_and_never_applied_kustomizations(tmp_path: Path, kube: KubeClient) -> None:
    make_repo(tmp_path, "drift-rev", [kustomization("app", "drift-rev", "./app")],
              {"app/all.yaml": [namespace("drift-rev-app"),
                                config_map("c", "drift-rev-app", a="1")]})
    run = detect(kube, tmp_path, revision="main@sha1:aaa")
    assert findings(run.report) == {
        "not-applied drift-rev/root": ("detected", ""),
        "not-applied drift-rev/app": ("detected", ""),
        "missing Namespace/drift-rev-app": ("detected", ""),
        "missing ConfigMap/drift-rev-app/c": ("detected", ""),
    }
    assert apply_repo(kube, tmp_path, revision="main@sha1:aaa").ok
    assert findings(detect(kube, tmp_path, revision="main@sha1:aaa").report) == {}
    write(tmp_path, {"app/all.yaml": [namespace("drift-rev-app"),
                                      config_map("c", "drift-rev-app", a="2")]})
    run = detect(kube, tmp_path, revision="main@sha1:bbb")
    found = findings(run.report)
    assert found["revision drift-rev/app"] == ("detected", "")
    assert found["modified ConfigMap/drift-rev-app/c"] == ("detected", "data.a")
    app = next(k for k in run.report.kustomizations if k.name == "app")
    assert "main@sha1:aaa" in next(d.reason for d in app.drift or [] if str(d.kind) == "revision")
    correct(kube, render_repo(tmp_path), run, EngineOptions(revision="main@sha1:bbb"))
    assert run.report.ok
    stored = inventory.load(kube, render_repo(tmp_path).by_id()[NamespacedName("drift-rev", "app")])
    assert stored is not None and stored.revision == "main@sha1:bbb"
    assert findings(detect(kube, tmp_path, revision="main@sha1:bbb").report) == {}


def test_ignored_objects_and_suspended_kustomizations_are_reported_not_touched(
        tmp_path: Path, kube: KubeClient) -> None:
    ignored = config_map("ignored", "drift-keep-app", k="git")
    ignored["metadata"]["annotations"] = {f"{OWNER}/ssa": "Ignore"}
    kept_stray = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "kept-stray", "namespace": "drift-keep-app",
        "labels": {f"{OWNER}/name": "app", f"{OWNER}/namespace": "drift-keep"},
        "annotations": {f"{OWNER}/prune": "disabled"}}}
    make_repo(tmp_path, "drift-keep", [
        kustomization("app", "drift-keep", "./app"),
        kustomization("paused", "drift-keep", "./paused"),
    ], {"app/all.yaml": [namespace("drift-keep-app"), ignored,
                         config_map("plain", "drift-keep-app", k="git")],
        "paused/all.yaml": [config_map("paused", "drift-keep-app", k="git")]})
    assert apply_repo(kube, tmp_path).ok
    write(tmp_path, {"clusters/test/kustomizations.yaml": [
        kustomization("app", "drift-keep", "./app"),
        kustomization("paused", "drift-keep", "./paused", suspend=True)]})
    base = "/api/v1/namespaces/drift-keep-app/configmaps"
    kube.request("POST", base, body=kept_stray)
    edit(kube, f"{base}/paused", "kubectl-edit", {"data": {"k": "edited"}})
    # ssa: Ignore is never applied: the live object is whatever someone made of it
    kube.request("POST", base, body=config_map("ignored", "drift-keep-app", k="edited"))
    run = detect(kube, tmp_path)
    found = findings(run.report)
    assert {k: v[0] for k, v in found.items()} == {
        "stray ConfigMap/drift-keep-app/kept-stray": "untouched",
        "modified ConfigMap/drift-keep-app/ignored": "untouched",
        "modified ConfigMap/drift-keep-app/paused": "untouched",
    }
    assert "data.k" in found["modified ConfigMap/drift-keep-app/ignored"][1].split(",")
    correct(kube, render_repo(tmp_path), run, EngineOptions())
    assert {v[0] for v in findings(run.report).values()} == {"untouched"}
    for name in ("ignored", "paused"):
        assert kube.get(f"{base}/{name}")["data"]["k"] == "edited"
    assert kube.get_or_none(f"{base}/kept-stray") is not None
    paused = next(k for k in run.report.kustomizations if k.name == "paused")
    assert str(paused.outcome) == "suspended"


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[str]:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-path"
    server.shutdown()


def test_cli_exit_codes_json_report_and_webhook(tmp_path: Path, kube: KubeClient,
                                                local_cluster: LocalCluster,
                                                webhook: str) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, "drift-cli", [kustomization("app", "drift-cli", "./app")],
              {"app/all.yaml": [namespace("drift-cli-app"), config_map("c", "drift-cli-app",
                                                                       k="git")]})
    assert apply_repo(kube, repo).ok
    runner = CliRunner()
    common = ["--path", str(repo / "clusters/test"), "--kubeconfig",
              str(local_cluster.kubeconfig), "--no-cache", "--revision", ""]
    result = runner.invoke(drift_command, [*common, "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["drift"] == {}
    edit(kube, "/api/v1/namespaces/drift-cli-app/configmaps/c", "kubectl-edit",
         {"data": {"k": "edited"}})
    report_file = tmp_path / "report.json"
    result = runner.invoke(drift_command, [*common, "-o", "markdown", "--report",
                                           str(report_file), "--notify-webhook", webhook])
    assert result.exit_code == 1, result.output
    assert "drift found drift" in result.stdout and "secret-path" not in result.output
    saved = json.loads(report_file.read_text())
    assert saved["command"] == "drift" and saved["drift"] == {"detected": 1, "modified": 1}
    assert len(_Hook.received) == 1 and _Hook.received[0]["reason"] == "DriftDetected"
    assert "ConfigMap/drift-cli-app/c" in _Hook.received[0]["text"]
    result = runner.invoke(drift_command, [*common, "--correct", "--notify-webhook", webhook])
    assert result.exit_code == 1, result.output  # corrected: 1 unless told otherwise
    assert _Hook.received[-1]["reason"] == "DriftCorrected"
    result = runner.invoke(drift_command, [*common, "--correct",
                                           "--no-exit-code-on-corrected"])
    assert result.exit_code == 0, result.output
    assert kube.get("/api/v1/namespaces/drift-cli-app/configmaps/c")["data"]["k"] == "git"
