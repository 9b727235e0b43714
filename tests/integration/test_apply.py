"""The apply engine against the real local control plane (kube-apiserver + kwok)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from runner.apply import inventory
from runner.apply.lease import ClusterLock, LockTimeout
from runner.discover.flux import NamespacedName
from runner.kube.client import KubeClient
from tests.integration.repo import (
    actions,
    apply_repo,
    config_map,
    deployment,
    kustomization,
    make_repo,
    namespace,
    outcome,
    render_repo,
    write,
)

pytestmark = pytest.mark.cluster


def secret(name: str, ns: str, **string_data: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "stringData": string_data}


def resource_versions(kube: KubeClient, paths: list[str]) -> list[str]:
    return [kube.get(p)["metadata"]["resourceVersion"] for p in paths]


def test_layers_apply_in_order_and_wait_for_rollouts(tmp_path: Path, kube: KubeClient) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.layers.example.com"},
        "spec": {"group": "layers.example.com", "scope": "Namespaced",
                 "names": {"kind": "Gizmo", "plural": "gizmos", "singular": "gizmo"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": True}}}]}}
    gizmo = {"apiVersion": "layers.example.com/v1", "kind": "Gizmo",
             "metadata": {"name": "g", "namespace": "layers-app"}, "spec": {"size": 1}}
    make_repo(tmp_path, "layers", [
        kustomization("namespaces", "layers", "./ns"),
        kustomization("crds", "layers", "./crds", dependsOn=[{"name": "namespaces"}]),
        kustomization("apps", "layers", "./apps", dependsOn=[{"name": "crds"}], wait=True,
                      timeout="60s"),
    ], {"ns/ns.yaml": [namespace("layers-app")], "crds/crd.yaml": [crd],
        "apps/apps.yaml": [gizmo, deployment("web", "layers-app", replicas=3)]})
    report = apply_repo(kube, tmp_path)
    assert report.ok, [(k.id, k.reason) for k in report.kustomizations]
    assert [k.name for k in report.kustomizations] == ["root", "namespaces", "crds", "apps"]
    apps = next(k for k in report.kustomizations if k.name == "apps")
    assert apps.health.checked == 2 and apps.health.ready == 2
    live = kube.get("/apis/apps/v1/namespaces/layers-app/deployments/web")
    assert live["status"]["readyReplicas"] == 3
    assert live["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"


def test_second_apply_of_the_same_revision_writes_nothing(tmp_path: Path,
                                                          kube: KubeClient) -> None:
    # Four ConfigMaps: enough to be read with one LIST (the bulk path), not GETs.
    make_repo(tmp_path, "idem", [kustomization("app", "idem", "./app", wait=True)],
              {"app/all.yaml": [namespace("idem-app"), config_map("c", "idem-app", a="1"),
                                *[config_map(f"c{i}", "idem-app", a="1") for i in range(3)],
                                secret("s", "idem-app", token="t"),
                                deployment("d", "idem-app")]})
    assert apply_repo(kube, tmp_path).ok
    paths = ["/api/v1/namespaces/idem-app", "/api/v1/namespaces/idem-app/configmaps/c",
             "/apis/apps/v1/namespaces/idem-app/deployments/d",
             "/api/v1/namespaces/idem/configmaps/gitops-runner-app"]
    before = resource_versions(kube, paths)
    again = apply_repo(kube, tmp_path)
    assert again.ok and not again.changed
    assert set(actions(again, "app").values()) == {"unchanged"}
    assert resource_versions(kube, paths) == before, "not even the inventory is rewritten"


def test_removed_file_is_pruned_and_prune_disabled_is_kept(tmp_path: Path,
                                                          kube: KubeClient) -> None:
    kept = config_map("kept", "prune-app", a="1")
    kept["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
    files = {"app/ns.yaml": [namespace("prune-app")],
             "app/keep.yaml": [config_map("stays", "prune-app", a="1")],
             "app/gone.yaml": [config_map("goes", "prune-app", a="1")],
             "app/kept.yaml": [kept]}
    make_repo(tmp_path, "prune", [kustomization("app", "prune", "./app")], files)
    assert apply_repo(kube, tmp_path).ok
    (tmp_path / "app/gone.yaml").unlink()
    (tmp_path / "app/kept.yaml").unlink()
    report = apply_repo(kube, tmp_path)
    assert report.ok
    pruned = {k: v for k, v in actions(report, "app").items() if v.startswith("pruned")}
    assert pruned == {"ConfigMap/prune-app/goes": "pruned:deleted",
                      "ConfigMap/prune-app/kept": "pruned:skipped"}
    assert kube.get_or_none("/api/v1/namespaces/prune-app/configmaps/goes") is None
    assert kube.get_or_none("/api/v1/namespaces/prune-app/configmaps/kept") is not None
    assert kube.get_or_none("/api/v1/namespaces/prune-app/configmaps/stays") is not None
    stored = inventory.load(kube, render_repo(tmp_path).kustomizations[
        NamespacedName("prune", "app")].kustomization)
    assert stored is not None
    assert {str(k) for k in stored.entries} == {"Namespace/prune-app",
                                                "ConfigMap/prune-app/stays"}


def test_mass_prune_is_refused(tmp_path: Path, kube: KubeClient) -> None:
    files = {"app/all.yaml": [namespace("mass-app")] + [
        config_map(f"c{i}", "mass-app", a="1") for i in range(4)]}
    make_repo(tmp_path, "mass", [kustomization("app", "mass", "./app")], files)
    assert apply_repo(kube, tmp_path).ok
    write(tmp_path, {"app/all.yaml": [namespace("mass-app"), config_map("c0", "mass-app",
                                                                        a="1")]})
    report = apply_repo(kube, tmp_path)
    assert outcome(report, "app") == "failed"
    assert "--max-prune-ratio" in next(k.reason for k in report.kustomizations
                                       if k.name == "app")
    assert kube.get_or_none("/api/v1/namespaces/mass-app/configmaps/c3") is not None


def test_field_edited_by_another_manager_is_taken_back(tmp_path: Path,
                                                       kube: KubeClient) -> None:
    make_repo(tmp_path, "owner", [kustomization("app", "owner", "./app")],
              {"app/all.yaml": [namespace("owner-app"), config_map("c", "owner-app", k="git")]})
    assert apply_repo(kube, tmp_path).ok
    path = "/api/v1/namespaces/owner-app/configmaps/c"
    kube.request("PATCH", path, params={"fieldManager": "kubectl-edit"},
                 body={"data": {"k": "edited"}},
                 content_type="application/merge-patch+json")
    report = apply_repo(kube, tmp_path)
    assert actions(report, "app")["ConfigMap/owner-app/c"] == "configured"
    assert kube.get(path)["data"]["k"] == "git"


def test_kubectl_owned_fields_are_taken_over(tmp_path: Path, kube: KubeClient) -> None:
    path = "/api/v1/namespaces/takeover/configmaps/c"
    kube.apply("/api/v1/namespaces/takeover", namespace("takeover"), "kubectl")
    kube.apply(path, config_map("c", "takeover", old="from-kubectl", k="v"), "kubectl")
    make_repo(tmp_path, "takeover-ks", [kustomization("app", "takeover-ks", "./app")],
              {"app/all.yaml": [config_map("c", "takeover", k="v")]})
    assert apply_repo(kube, tmp_path).ok
    live = kube.get(path)
    assert "old" not in live["data"], "a field only kubectl set, and Git dropped, is removed"
    assert {e["manager"] for e in live["metadata"]["managedFields"]} == {"gitops-runner"}


def test_immutable_change_fails_without_force_and_recreates_with_it(
        tmp_path: Path, kube: KubeClient) -> None:
    def job(image: str) -> dict[str, object]:
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "migrate", "namespace": "immutable-app"},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "m", "image": image}]}}}}
    make_repo(tmp_path, "immutable", [kustomization("app", "immutable", "./app")],
              {"app/all.yaml": [namespace("immutable-app"), job("migrate:1")]})
    assert apply_repo(kube, tmp_path).ok
    uid = kube.get("/apis/batch/v1/namespaces/immutable-app/jobs/migrate")["metadata"]["uid"]
    write(tmp_path, {"app/all.yaml": [namespace("immutable-app"), job("migrate:2")]})
    report = apply_repo(kube, tmp_path)
    assert outcome(report, "app") == "failed"
    reason = next(k.reason for k in report.kustomizations if k.name == "app")
    assert "immutable" in reason and "spec.force" in reason
    write(tmp_path, {"clusters/test/kustomizations.yaml": [
        kustomization("app", "immutable", "./app", force=True)]})
    report = apply_repo(kube, tmp_path)
    assert report.ok, report.kustomizations[-1].reason
    assert actions(report, "app")["Job.batch/immutable-app/migrate"] == "recreated"
    live = kube.get("/apis/batch/v1/namespaces/immutable-app/jobs/migrate")
    assert live["metadata"]["uid"] != uid
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "migrate:2"


def test_unready_deployment_times_out_and_stops_dependents(tmp_path: Path,
                                                           kube: KubeClient) -> None:
    stuck = deployment("stuck", "timeout-app", nodeSelector={"no-such-node": "true"})
    make_repo(tmp_path, "timeout", [
        kustomization("app", "timeout", "./app", wait=True, timeout="4s"),
        kustomization("after", "timeout", "./after", dependsOn=[{"name": "app"}]),
    ], {"app/all.yaml": [namespace("timeout-app"), stuck],
        "after/all.yaml": [config_map("never", "timeout-app", a="1")]})
    started = time.monotonic()
    report = apply_repo(kube, tmp_path)
    assert time.monotonic() - started < 30
    assert outcome(report, "app") == "failed"
    app = next(k for k in report.kustomizations if k.name == "app")
    assert app.health.timed_out
    assert any("Deployment.apps/timeout-app/stuck" in p for p in app.health.pending)
    assert outcome(report, "after") == "skipped"
    assert "timeout/app" in next(k.reason for k in report.kustomizations if k.name == "after")
    assert kube.get_or_none("/api/v1/namespaces/timeout-app/configmaps/never") is None


def test_concurrent_runs_are_serialized_by_the_lease(kube: KubeClient) -> None:
    order: list[str] = []
    first = ClusterLock(kube, "default", timeout=10)
    first.acquire()
    order.append("first acquired")

    def second() -> None:
        with ClusterLock(kube, "default", timeout=20):
            order.append("second acquired")

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(1.5)
    order.append("first releasing")
    first.release()
    thread.join(timeout=30)
    assert order == ["first acquired", "first releasing", "second acquired"]
    holder = ClusterLock(kube, "default", timeout=60)
    holder.acquire()
    try:
        with pytest.raises(LockTimeout, match="holds the cluster lock"):
            ClusterLock(kube, "default", timeout=1).acquire()
    finally:
        holder.release()


def test_plan_reports_without_writing(tmp_path: Path, kube: KubeClient) -> None:
    make_repo(tmp_path, "plan", [kustomization("app", "plan", "./app")],
              {"app/all.yaml": [namespace("plan-app"), config_map("c", "plan-app", k="v1")]})
    report = apply_repo(kube, tmp_path, dry_run=True)
    assert report.ok and report.changed
    assert kube.get_or_none("/api/v1/namespaces/plan-app") is None
    assert apply_repo(kube, tmp_path).ok
    write(tmp_path, {"app/all.yaml": [namespace("plan-app"), config_map("c", "plan-app",
                                                                        k="v2")]})
    report = apply_repo(kube, tmp_path, dry_run=True)
    change = next(c for k in report.kustomizations for c in k.changes.entries
                  if str(c.key) == "ConfigMap/plan-app/c")
    assert str(change.action) == "configured"
    assert change.diff is not None and "-  k: v1" in change.diff and "+  k: v2" in change.diff
    assert kube.get("/api/v1/namespaces/plan-app/configmaps/c")["data"]["k"] == "v1"


def test_plan_masks_secret_values(tmp_path: Path, kube: KubeClient) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "s", "namespace": "mask-app"},
              "stringData": {"password": "hunter2"}}
    make_repo(tmp_path, "mask", [kustomization("app", "mask", "./app")],
              {"app/all.yaml": [namespace("mask-app"), secret]})
    assert apply_repo(kube, tmp_path).ok
    secret["stringData"] = {"password": "correct-horse"}
    write(tmp_path, {"app/all.yaml": [namespace("mask-app"), secret]})
    report = apply_repo(kube, tmp_path, dry_run=True)
    diff = next(c.diff for k in report.kustomizations for c in k.changes.entries
                if c.diff)
    assert diff is not None and "*** (changed)" in diff
    assert "correct-horse" not in diff and "hunter2" not in diff
    assert "Y29ycmVjdC1ob3JzZQ" not in diff  # nor base64 of it


def test_reports_follow_the_published_schema(tmp_path: Path, kube: KubeClient) -> None:
    import json

    import jsonschema_rs

    schema = json.loads((Path(__file__).parents[2] / "schemas/report.schema.json").read_text())
    validator = jsonschema_rs.validator_for(schema)
    make_repo(tmp_path, "schema", [kustomization("app", "schema", "./app", wait=True),
                                   kustomization("after", "schema", "./after",
                                                 dependsOn=[{"name": "app"}])],
              {"app/all.yaml": [namespace("schema-app"), config_map("c", "schema-app", k="1")],
               "after/all.yaml": [config_map("d", "schema-app", k="1")]})
    for report in (apply_repo(kube, tmp_path, dry_run=True), apply_repo(kube, tmp_path)):
        errors = [e.message for e in validator.iter_errors(report.to_json())]
        assert not errors, errors


def test_objects_seen_healthy_when_applied_are_not_watched(kube: KubeClient) -> None:
    from runner.apply.wait import HealthWaiter
    from runner.kube.discovery import ResourceMapper
    from runner.manifest import ObjectKey

    created = kube.apply("/api/v1/namespaces/seen-app", namespace("seen-app"), "test")
    stored = kube.apply("/api/v1/namespaces/seen-app/configmaps/c",
                        config_map("c", "seen-app", a="1"), "test")
    rollout = kube.apply("/apis/apps/v1/namespaces/seen-app/deployments/d",
                         deployment("d", "seen-app"), "test")
    keys = {ObjectKey("", "Namespace", "", "seen-app"): "v1",
            ObjectKey("", "ConfigMap", "seen-app", "c"): "v1"}
    observed = {ObjectKey.of(o): o for o in (created, stored, rollout)}
    mapper = ResourceMapper(kube)
    mapper.resource_for("v1", "ConfigMap")  # discovery, not part of what is measured
    before = kube.request_count
    result = HealthWaiter(kube, mapper).wait(keys, 30, observed)
    assert result.ok and kube.request_count == before, "Current when applied: no LIST"
    # A Deployment is not Current in its apply response (no controller has seen it yet):
    # it is watched until kwok makes it available.
    deploy_key = ObjectKey("apps", "Deployment", "seen-app", "d")
    result = HealthWaiter(kube, mapper).wait({**keys, deploy_key: "apps/v1"}, 60, observed)
    assert result.ok and kube.request_count > before


def test_a_namespace_created_by_the_run_is_not_read_again(tmp_path: Path, kube: KubeClient,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
    listed: list[str] = []
    real_list = kube.list_items

    def recording_list(path: str, params: Mapping[str, str] | None = None,
                       page_size: int = 500) -> list[dict[str, Any]]:
        listed.append(path)
        return real_list(path, params, page_size)

    monkeypatch.setattr(kube, "list_items", recording_list)
    # The controllers make a `default` ServiceAccount in every new namespace, maybe before
    # the apply: then it merges into that one and says so.
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "default", "namespace": "fresh-app"},
               "imagePullSecrets": [{"name": "registry"}]}
    make_repo(tmp_path, "fresh", [kustomization("app", "fresh", "./app")],
              {"app/all.yaml": [namespace("fresh-app"), account,
                                *[config_map(f"c{i}", "fresh-app", a="1") for i in range(4)]]})
    report = apply_repo(kube, tmp_path)
    assert report.ok
    found = actions(report, "app")
    assert found["Namespace/fresh-app"] == "created"
    assert {found[f"ConfigMap/fresh-app/c{i}"] for i in range(4)} == {"created"}
    assert found["ServiceAccount/fresh-app/default"] in ("created", "configured")
    assert not [p for p in listed if "/namespaces/fresh-app/" in p]
    live = kube.get("/api/v1/namespaces/fresh-app/serviceaccounts/default")
    assert live["imagePullSecrets"] == [{"name": "registry"}]
    # Once the namespace exists, objects are read (one LIST) and found unchanged.
    again = apply_repo(kube, tmp_path)
    assert set(actions(again, "app").values()) == {"unchanged"}
    assert "/api/v1/namespaces/fresh-app/configmaps" in listed
