"""Rendering whole repositories: discovery, substitution, bad input, changed-only mode."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from runner.discover.flux import NamespacedName
from runner.render import changes
from runner.render.cache import RenderCache
from runner.render.repository import RenderOptions, RepositoryRender, render
from runner.yamlio import dump_all


def ks(name: str, path: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"interval": "1h", "path": path, "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": "flux-system"}, **spec}}


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": data}


def write(root: Path, files: dict[str, list[dict[str, Any]] | str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else dump_all(content))


def run(root: Path, cache: RenderCache | None = None, strict: bool = True) -> RepositoryRender:
    return render(RenderOptions(path=root / "clusters/test", repository_root=root,
                                cache=cache or RenderCache(None), strict=strict))


def errors(result: RepositoryRender) -> list[str]:
    return [e.message for e in result.errors()]


def test_nested_kustomizations_are_discovered_with_their_parent(tmp_path: Path) -> None:
    write(tmp_path, {"clusters/test/ks.yaml": [ks("infra", "./infra")],
                     "infra/ks.yaml": [ks("apps", "./apps", dependsOn=[{"name": "infra"}])],
                     "infra/cm.yaml": [cm("infra")], "apps/cm.yaml": [cm("app")]})
    result = run(tmp_path)
    assert result.ok, errors(result)
    apps = result.kustomizations[NamespacedName("flux-system", "apps")]
    assert apps.kustomization.parent == NamespacedName("flux-system", "infra")
    assert [o["metadata"]["name"] for o in apps.objects] == ["app"]
    assert [r.kustomization.name for r in result.in_dependency_order()] == [
        "flux-system", "infra", "apps"]


def test_substitute_from_a_sibling_waits_for_it(tmp_path: Path) -> None:
    vars_cm = {**cm("vars", color="blue"), "metadata": {"name": "vars",
                                                        "namespace": "flux-system"}}
    write(tmp_path, {
        "clusters/test/ks.yaml": [
            ks("app", "./app", postBuild={"substituteFrom": [{"kind": "ConfigMap",
                                                             "name": "vars"}]}),
            ks("settings", "./settings")],
        "settings/vars.yaml": [vars_cm],
        "app/cm.yaml": [cm("app", color="${color}")],
    })
    result = run(tmp_path)
    assert result.ok, errors(result)
    app = result.kustomizations[NamespacedName("flux-system", "app")]
    assert app.objects[0]["data"] == {"color": "blue"}


def test_inline_substitute_overrides_substitute_from(tmp_path: Path) -> None:
    vars_cm = {**cm("vars", color="blue"), "metadata": {"name": "vars",
                                                        "namespace": "flux-system"}}
    write(tmp_path, {
        "clusters/test/ks.yaml": [
            vars_cm,
            ks("app", "./app", postBuild={"substitute": {"color": "red"}, "substituteFrom": [
                {"kind": "ConfigMap", "name": "vars"}]})],
        "app/cm.yaml": [cm("app", color="${color}")],
    })
    app = run(tmp_path).kustomizations[NamespacedName("flux-system", "app")]
    assert app.objects[0]["data"] == {"color": "red"}


def test_unresolved_variable_names_variable_and_object(tmp_path: Path) -> None:
    write(tmp_path, {"clusters/test/ks.yaml": [
        ks("app", "./app", postBuild={"substitute": {"other": "x"}})],
        "app/cm.yaml": [cm("app", color="${color}")]})
    result = run(tmp_path)
    assert not result.ok
    message = errors(result)[0]
    assert "Kustomization/flux-system/app" in message
    assert "ConfigMap/default/app" in message
    assert '"color"' in message
    lenient = run(tmp_path, strict=False)
    # Flux re-parses `color: ` after substituting the empty string: a null, as here.
    assert lenient.kustomizations[NamespacedName("flux-system", "app")].objects[0]["data"] == {
        "color": None}


def test_missing_substitute_from_fails_unless_optional(tmp_path: Path) -> None:
    ref = {"kind": "Secret", "name": "absent"}
    write(tmp_path, {"clusters/test/ks.yaml": [
        ks("app", "./app", postBuild={"substituteFrom": [ref]})],
        "app/cm.yaml": [cm("app", a="1")]})
    assert "substitute from 'Secret/absent' error" in errors(run(tmp_path))[0]
    ref["optional"] = True  # type: ignore[assignment]
    write(tmp_path, {"clusters/test/ks.yaml": [
        ks("app", "./app", postBuild={"substituteFrom": [ref]})]})
    assert run(tmp_path).ok


def test_broken_yaml_names_file_and_line_and_others_still_render(tmp_path: Path) -> None:
    write(tmp_path, {"clusters/test/ks.yaml": [ks("bad", "./bad"), ks("good", "./good")],
                     "bad/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n",
                     "good/cm.yaml": [cm("good")]})
    result = run(tmp_path)
    assert not result.ok
    message = next(e for e in errors(result) if "bad" in e)
    assert "Kustomization/flux-system/bad" in message
    assert re.search(r"bad/cm\.yaml:\d+:\d+: invalid YAML", message)
    assert result.kustomizations[NamespacedName("flux-system", "good")].ok


def test_missing_path_unknown_component_and_kustomize_errors(tmp_path: Path) -> None:
    write(tmp_path, {"clusters/test/ks.yaml": [
        ks("nopath", "./does-not-exist"),
        ks("component", "./app", components=["../no-such-component"]),
        ks("kustomize", "./broken")],
        "app/cm.yaml": [cm("app")],
        "broken/kustomization.yaml": "resources: [missing.yaml]\n"})
    result = run(tmp_path)
    by_name = {ks_id.name: r.error.message for ks_id, r in result.kustomizations.items()
               if r.error}
    assert "spec.path './does-not-exist' does not exist" in by_name["nopath"]
    assert "no-such-component" in by_name["component"]
    assert "missing.yaml" in by_name["kustomize"]
    assert "kustomize build failed" in by_name["kustomize"]
    assert "/tmp/gitops-runner-build" not in by_name["kustomize"], "real paths, not temp ones"


def test_cache_serves_unchanged_builds_and_sees_changes(tmp_path: Path) -> None:
    write(tmp_path, {"clusters/test/ks.yaml": [ks("app", "./app")],
                     "app/cm.yaml": [cm("app", v="1")]})
    cache = RenderCache(tmp_path / "cache")
    run(tmp_path, cache)
    second = run(tmp_path, RenderCache(tmp_path / "cache"))
    assert all(r.cache_hit for r in second.kustomizations.values())
    write(tmp_path, {"app/cm.yaml": [cm("app", v="2")]})
    third = run(tmp_path, RenderCache(tmp_path / "cache"))
    app = third.kustomizations[NamespacedName("flux-system", "app")]
    assert not app.cache_hit and app.objects[0]["data"] == {"v": "2"}


def test_unavailable_source_is_reported_and_the_rest_renders(tmp_path: Path) -> None:
    other = ks("tenant", "./")
    other["spec"]["sourceRef"] = {"kind": "GitRepository", "name": "tenant-repo"}
    write(tmp_path, {"clusters/test/ks.yaml": [other, ks("app", "./app")],
                     "app/cm.yaml": [cm("app")]})
    result = run(tmp_path)
    tenant = result.kustomizations[NamespacedName("flux-system", "tenant")]
    assert tenant.error is not None and "--source GitRepository/flux-system/tenant-repo" in \
        tenant.error.hint
    assert result.kustomizations[NamespacedName("flux-system", "app")].ok


def test_duplicate_kustomization_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"clusters/test/ks.yaml": [ks("one", "./one")],
                     "clusters/test/more.yaml": "",
                     "one/ks.yaml": [ks("one", "./two")], "two/cm.yaml": [cm("x")],
                     "one/cm.yaml": [cm("y")]})
    result = run(tmp_path)
    assert any("defined more than once" in p.message for p in result.problems)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   cwd=root, check=True, capture_output=True)


def test_changed_since_selects_changed_inputs_and_dependents(tmp_path: Path) -> None:
    write(tmp_path, {
        "clusters/test/ks.yaml": [ks("base", "./base"),
                                  ks("app", "./app", dependsOn=[{"name": "base"}]),
                                  ks("other", "./other")],
        "base/cm.yaml": [cm("base")], "app/cm.yaml": [cm("app")],
        "other/cm.yaml": [cm("other")]})
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "start")
    write(tmp_path, {"base/cm.yaml": [cm("base", changed="yes")]})
    result = run(tmp_path)
    from runner.discover import git as gitinfo

    selected = changes.affected(result, gitinfo.changed_files(tmp_path, "HEAD"),
                                lambda path: gitinfo.read_at(path, "HEAD"))
    assert {s.name for s in selected} == {"base", "app"}
    git(tmp_path, "commit", "-qam", "base changed")
    write(tmp_path, {"clusters/test/ks.yaml": [
        ks("base", "./base"), ks("app", "./app", dependsOn=[{"name": "base"}]),
        ks("other", "./other", timeout="5m")]})
    result = run(tmp_path)
    selected = changes.affected(result, gitinfo.changed_files(tmp_path, "HEAD"),
                                lambda path: gitinfo.read_at(path, "HEAD"))
    assert {s.name for s in selected} == {"flux-system", "other"}
    changes.keep_only(result, selected)
    assert result.kustomizations[NamespacedName("flux-system", "other")].kustomization.parent \
        == NamespacedName("flux-system", "flux-system")

