"""The local control plane is a real Kubernetes: objects persist, controllers act, kwok's fake
Nodes run Pods, server-side apply tracks field managers, and CRDs become Established."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from runner.controlplane import processes
from runner.controlplane.cluster import LocalCluster
from runner.kube.client import ApiUnavailable, KubeClient
from runner.kube.config import ClusterConfig
from runner.kube.discovery import ResourceMapper

pytestmark = pytest.mark.cluster
MANAGER = "gitops-runner-smoke"


def eventually(check: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def condition(obj: dict[str, object], kind: str) -> str | None:
    status = obj.get("status") or {}
    assert isinstance(status, dict)
    for entry in status.get("conditions") or []:
        if entry.get("type") == kind:
            return str(entry.get("status"))
    return None


def test_all_processes_run_and_version_is_pinned(local_cluster: LocalCluster,
                                                 kube: KubeClient) -> None:
    names = {p.name for p in local_cluster.state.processes}
    assert names == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                     "kwok"}
    assert all(processes.is_running(p) for p in local_cluster.state.processes)
    assert kube.get("/version")["gitVersion"] == local_cluster.state.kubernetes_version


def test_namespace_configmap_and_deployment_become_available(kube: KubeClient) -> None:
    mapper = ResourceMapper(kube)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "smoke"}}
    kube.apply("/api/v1/namespaces/smoke", namespace, MANAGER)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "settings", "namespace": "smoke"},
                  "data": {"greeting": "hello"}}
    cm_path = mapper.resource_for("v1", "ConfigMap").object_path("settings", "smoke")
    applied = kube.apply(cm_path, config_map, MANAGER)
    managers = {entry["manager"] for entry in applied["metadata"]["managedFields"]}
    assert MANAGER in managers
    assert kube.get(cm_path)["data"] == {"greeting": "hello"}

    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "smoke"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}},
        },
    }
    path = mapper.resource_for("apps/v1", "Deployment").object_path("web", "smoke")
    kube.apply(path, deployment, MANAGER)

    def available() -> bool:
        live = kube.get(path)
        return (condition(live, "Available") == "True"
                and live.get("status", {}).get("readyReplicas") == 3)

    eventually(available, what="Deployment smoke/web to have 3 ready replicas via kwok")
    pods = kube.get("/api/v1/namespaces/smoke/pods", labelSelector="app=web")["items"]
    assert len(pods) == 3
    assert all(pod["spec"].get("nodeName", "").startswith("kwok-node-") for pod in pods)


def test_server_side_apply_conflicts_and_force(kube: KubeClient) -> None:
    path = "/api/v1/namespaces/default/configmaps/owned"
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "owned", "namespace": "default"}, "data": {"k": "one"}}
    kube.apply(path, body, "first-manager")
    changed = {**body, "data": {"k": "two"}}
    with pytest.raises(Exception, match="conflict"):
        kube.apply(path, changed, "second-manager", force=False)
    dry = kube.apply(path, changed, "second-manager", dry_run=True)
    assert dry["data"]["k"] == "two"
    assert kube.get(path)["data"]["k"] == "one", "a dry-run must not write"
    kube.apply(path, changed, "second-manager")
    live = kube.get(path)
    assert live["data"]["k"] == "two"
    owners = {e["manager"] for e in live["metadata"]["managedFields"]}
    assert "second-manager" in owners


def test_crd_becomes_established_and_serves_custom_resources(kube: KubeClient) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.smoke.example.com"},
        "spec": {
            "group": "smoke.example.com", "scope": "Namespaced",
            "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget",
                      "listKind": "GadgetList"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                "openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object",
                             "properties": {"size": {"type": "integer"}}}}}}}],
        },
    }
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.smoke.example.com"
    kube.apply(crd_path, crd, MANAGER)
    eventually(lambda: condition(kube.get(crd_path), "Established") == "True",
               what="CRD gadgets.smoke.example.com Established")
    mapper = ResourceMapper(kube)
    resource = mapper.resource_for("smoke.example.com/v1", "Gadget")
    gadget = {"apiVersion": "smoke.example.com/v1", "kind": "Gadget",
              "metadata": {"name": "g1", "namespace": "default"}, "spec": {"size": 3}}
    kube.apply(resource.object_path("g1", "default"), gadget, MANAGER)
    assert kube.get(resource.object_path("g1", "default"))["spec"]["size"] == 3


def test_client_reports_an_unreachable_server_clearly() -> None:
    port = processes.free_port()
    client = KubeClient(ClusterConfig(server=f"https://127.0.0.1:{port}", verify_tls=False))
    with pytest.raises(ApiUnavailable, match="cannot reach the API server"):
        client.get("/version")
