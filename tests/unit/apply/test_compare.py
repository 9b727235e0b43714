"""The local comparison of a desired object with its live one (no API server)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from runner.apply import compare
from runner.apply.compare import changed_paths, quantity, same_scalar


def deployment(**container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}, "creationTimestamp": None},
                              "spec": {"containers": [{"name": "app", "image": "nginx",
                                                       **container}]}}},
    }


def live_of(desired: dict[str, Any], managed: list[dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    """What the API server stores: defaults added, status, server metadata."""
    live = copy.deepcopy(desired)
    live["metadata"].update(uid="u1", resourceVersion="7", generation=1,
                            creationTimestamp="2026-01-01T00:00:00Z",
                            managedFields=managed or [])
    spec = live["spec"]
    spec.update(strategy={"type": "RollingUpdate"}, revisionHistoryLimit=10)
    spec["template"]["metadata"].pop("creationTimestamp")
    for container in spec["template"]["spec"]["containers"]:
        container.update(terminationMessagePath="/dev/termination-log",
                         imagePullPolicy="Always")
    live["status"] = {"replicas": 2, "readyReplicas": 2}
    return live


def fields_of(*paths: dict[str, Any]) -> dict[str, Any]:
    """A managedFields fieldsV1 tree from nested dicts."""
    merged: dict[str, Any] = {}
    for path in paths:
        merged = _merge(merged, path)
    return merged


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    out = dict(left)
    for key, value in right.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def entry(manager: str, operation: str, fields: dict[str, Any],
          subresource: str = "") -> dict[str, Any]:
    found = {"manager": manager, "operation": operation, "apiVersion": "apps/v1",
             "fieldsType": "FieldsV1", "fieldsV1": fields}
    if subresource:
        found["subresource"] = subresource
    return found


REPLICAS = {"f:spec": {"f:replicas": {}}}
IMAGE = {"f:spec": {"f:template": {"f:spec": {"f:containers": {
    'k:{"name":"app"}': {".": {}, "f:image": {}, "f:name": {}}}}}}}
TEAM_LABEL = {"f:metadata": {"f:labels": {"f:team": {}}}}


def test_defaults_status_and_server_metadata_are_not_drift() -> None:
    desired = deployment()
    result = compare.compare(desired, live_of(desired))
    assert not result.flagged and result.fields == []


def test_a_changed_value_is_flagged_with_its_path() -> None:
    desired = deployment()
    live = live_of(desired)
    live["spec"]["replicas"] = 5
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:evil"
    result = compare.compare(desired, live)
    assert result.values == ["spec.replicas",
                             "spec.template.spec.containers[name=app].image"]
    assert not result.certain, "a value change is confirmed by a dry-run"


def test_fields_git_does_not_set_are_not_compared() -> None:
    desired = deployment()
    del desired["spec"]["replicas"]  # an HPA owns it
    live = live_of(desired, [entry("hpa", "Update", REPLICAS)])
    live["spec"]["replicas"] = 7
    assert not compare.compare(desired, live).flagged


def test_associative_lists_match_by_key_whatever_the_order() -> None:
    desired = deployment(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         ports=[{"containerPort": 8080}, {"containerPort": 9090}])
    live = live_of(desired)
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["env"].reverse()
    container["env"].append({"name": "INJECTED", "value": "by a webhook"})
    container["ports"] = [{"containerPort": 9090, "protocol": "TCP"},
                          {"containerPort": 8080, "protocol": "TCP"}]
    assert not compare.compare(desired, live).flagged
    container["env"][0]["value"] = "changed"
    assert compare.compare(desired, live).values == [
        "spec.template.spec.containers[name=app].env[name=B].value"]


def test_positional_lists_must_match_in_order_and_length() -> None:
    desired = deployment(args=["--a", "--b"])
    live = live_of(desired)
    live["spec"]["template"]["spec"]["containers"][0]["args"] = ["--a"]
    assert compare.compare(desired, live).values == [
        "spec.template.spec.containers[name=app].args"]


@pytest.mark.parametrize(("desired", "live", "same"), [
    (0.5, "500m", True), ("1000m", "1", True), (1, "1", True), ("1Gi", "1024Mi", True),
    ("64Mi", "64Mi", True), ("100m", "200m", False), (8080, "http", False), (1, 1.0, True),
    (True, 1, False), ("true", True, False), ("1e3", "1k", True),
])
def test_scalars_compare_as_the_api_server_stores_them(desired: object, live: object,
                                                       same: bool) -> None:
    assert same_scalar(desired, live) is same


def test_quantity_parsing() -> None:
    assert quantity("250m") == quantity("0.25")
    assert quantity("2Ki") == 2048
    assert quantity("nginx") is None and quantity(None) is None


def test_empty_and_null_desired_values_match_absent_live_fields() -> None:
    desired = deployment(command=[], workingDir="", stdin=False)
    desired["spec"]["template"]["spec"]["hostNetwork"] = False
    desired["metadata"]["annotations"] = {}
    assert not compare.compare(desired, live_of(deployment())).flagged


def test_secret_string_data_is_compared_as_data() -> None:
    desired = {"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "s", "namespace": "a"}, "stringData": {"pw": "hunter2"}}
    live = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "s", "namespace": "a"}, "data": {"pw": "aHVudGVyMg=="}}
    assert not compare.compare(desired, live).flagged
    live["data"]["pw"] = "b3RoZXI="
    assert compare.compare(desired, live).values == ["data.pw"]


def test_our_fields_that_git_no_longer_sets_are_flagged() -> None:
    desired = deployment()
    live = live_of(desired, [entry("gitops-runner", "Apply", fields_of(
        REPLICAS, IMAGE, {"f:metadata": {"f:labels": {"f:old": {}}}}))])
    live["metadata"]["labels"]["old"] = "x"
    result = compare.compare(desired, live)
    assert result.ours_unset == ["metadata.labels.old"] and not result.certain


def test_fields_another_manager_also_owns_are_not_removed() -> None:
    desired = deployment()
    shared = {"f:metadata": {"f:labels": {"f:old": {}}}}
    live = live_of(desired, [entry("gitops-runner", "Apply", fields_of(REPLICAS, shared)),
                             entry("operator", "Update", shared)])
    assert compare.compare(desired, live).ours_unset == []


def test_kubectl_fields_are_taken_over_and_removed_like_flux() -> None:
    desired = deployment()
    live = live_of(desired, [entry("gitops-runner", "Apply", fields_of(REPLICAS, IMAGE)),
                             entry("kubectl-label", "Update", TEAM_LABEL)])
    live["metadata"]["labels"]["team"] = "by-hand"
    result = compare.compare(desired, live)
    assert result.certain and result.fields == ["metadata.labels.team"]
    expected = compare.expected_after_apply(live, result.taken_unset, False)
    assert "team" not in expected["metadata"]["labels"]
    assert changed_paths(live, expected) == ["metadata.labels.team"]
    assert "team" in live["metadata"]["labels"], "the live object is not changed"


@pytest.mark.parametrize(("manager", "operation", "subresource", "taken"), [
    ("kubectl", "Update", "", True), ("kubectl-edit", "Update", "", True),
    ("kubectl-client-side-apply", "Update", "", True), ("kubectl", "Apply", "", True),
    ("before-first-apply", "Update", "", True), ("kubectl-scale", "Update", "scale", False),
    ("helm", "Update", "", False), ("kubectl", "Apply", "status", False),
])
def test_which_managers_apply_takes_over(manager: str, operation: str, subresource: str,
                                         taken: bool) -> None:
    desired = deployment()
    live = live_of(desired, [entry(manager, operation, TEAM_LABEL, subresource)])
    live["metadata"]["labels"]["team"] = "x"
    assert compare.compare(desired, live).certain is taken


def test_ssa_merge_keeps_kubectl_fields_and_last_applied() -> None:
    desired = deployment()
    desired["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/ssa": "Merge"}
    live = live_of(desired, [entry("kubectl-label", "Update", TEAM_LABEL)])
    live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    assert not compare.compare(desired, live).flagged
    del desired["metadata"]["annotations"]
    live["metadata"]["annotations"].pop("kustomize.toolkit.fluxcd.io/ssa")
    result = compare.compare(desired, live)
    assert result.last_applied and result.certain


def test_list_element_keys_and_values_in_managed_fields() -> None:
    desired = deployment(env=[{"name": "A", "value": "1"}])
    desired["metadata"]["finalizers"] = ["example.com/keep"]
    env_b = {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"app"}': {
        "f:env": {'k:{"name":"B"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}}}
    finalizer = {"f:metadata": {"f:finalizers": {'v:"example.com/x"': {}}}}
    live = live_of(desired, [entry("kubectl", "Update", fields_of(env_b, finalizer))])
    live["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "B", "value": "2"})
    live["metadata"]["finalizers"] = ["example.com/keep", "example.com/x"]
    result = compare.compare(desired, live)
    assert [compare.display(p) for p in result.taken_unset] == [
        "metadata.finalizers[=example.com/x]",
        "spec.template.spec.containers[name=app].env[name=B]"]
    expected = compare.expected_after_apply(live, result.taken_unset, False)
    assert expected["metadata"]["finalizers"] == ["example.com/keep"]
    assert [e["name"] for e in expected["spec"]["template"]["spec"]["containers"][0]["env"]] \
        == ["A"]


def test_display_of_managed_field_paths() -> None:
    key = 'k:' + json.dumps({"containerPort": 80, "protocol": "TCP"}, separators=(",", ":"))
    assert compare.display(("f:spec", "f:ports", key, "f:name")) == \
        "spec.ports[containerPort=80,protocol=TCP].name"
    assert compare.display(("f:spec", "f:items", "i:2")) == "spec.items[2]"


def test_changed_paths_ignore_status_and_server_metadata() -> None:
    before = live_of(deployment())
    after = copy.deepcopy(before)
    after["status"] = {}
    after["metadata"]["resourceVersion"] = "8"
    assert changed_paths(before, after) == []
    after["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert changed_paths(before, after) == ["spec.template.spec.containers[name=app].image"]


def test_owners_of_changed_fields() -> None:
    live = live_of(deployment(), [entry("gitops-runner", "Apply", REPLICAS),
                                  entry("kubectl-scale", "Update", REPLICAS, "scale"),
                                  entry("kube-controller-manager", "Update",
                                        {"f:status": {"f:replicas": {}}})])
    assert compare.owners_of(live, ["spec.replicas"]) == ["kubectl-scale"]
