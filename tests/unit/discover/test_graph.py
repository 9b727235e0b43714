"""dependsOn layers, cycles named in order, unknown dependencies, implicit parent edges."""

from __future__ import annotations

import pytest

from runner.discover import graph
from runner.discover.flux import Kustomization, NamespacedName, parse_kustomization


def ks(name: str, *deps: str, parent: str | None = None) -> Kustomization:
    manifest = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": name, "namespace": "flux-system"},
                "spec": {"path": f"./{name}", "sourceRef": {"kind": "GitRepository",
                                                             "name": "flux-system"},
                         "dependsOn": [{"name": d} for d in deps]}}
    parsed = parse_kustomization(manifest)
    if parent:
        parsed.parent = NamespacedName("flux-system", parent)
    return parsed


def by_id(*items: Kustomization) -> dict[NamespacedName, Kustomization]:
    return {k.id: k for k in items}


def names(layers: list[list[Kustomization]]) -> list[list[str]]:
    return [[k.name for k in layer] for layer in layers]


def test_layers_follow_depends_on() -> None:
    layers = graph.layers(by_id(ks("apps", "infra"), ks("infra", "crds"), ks("crds"),
                                ks("monitoring", "crds")))
    assert names(layers) == [["crds"], ["infra", "monitoring"], ["apps"]]


def test_a_child_comes_after_the_kustomization_that_defines_it() -> None:
    layers = graph.layers(by_id(ks("flux-system"), ks("apps", parent="flux-system")))
    assert names(layers) == [["flux-system"], ["apps"]]


def test_cycle_is_named_in_order() -> None:
    with pytest.raises(graph.DependencyError) as raised:
        graph.layers(by_id(ks("a", "b"), ks("b", "c"), ks("c", "a"), ks("d")))
    assert "flux-system/a -> flux-system/b -> flux-system/c -> flux-system/a" in \
        raised.value.message


def test_unknown_dependency_names_both_sides() -> None:
    with pytest.raises(graph.DependencyError) as raised:
        graph.layers(by_id(ks("apps", "infra")))
    assert "Kustomization/flux-system/apps depends on flux-system/infra" in raised.value.message


def test_dependents_are_transitive() -> None:
    items = [ks("a"), ks("b", "a"), ks("c", "b"), ks("d")]
    found = graph.dependents(items, {NamespacedName("flux-system", "a")})
    assert {n.name for n in found} == {"a", "b", "c"}


def test_dependency_namespace_defaults_to_the_dependent_namespace() -> None:
    manifest = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": "apps", "namespace": "team"},
                "spec": {"sourceRef": {"kind": "GitRepository", "name": "repo"},
                         "dependsOn": [{"name": "infra"},
                                       {"name": "crds", "namespace": "flux-system"}]}}
    parsed = parse_kustomization(manifest)
    assert parsed.depends_on == [NamespacedName("team", "infra"),
                                 NamespacedName("flux-system", "crds")]
    assert parsed.source_ref.namespace == "team"
