"""The kustomization Flux would build, prepared without touching the checkout."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from runner.render import overlay, sourceignore
from runner.yamlio import load_all


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


class Prepared:
    """An overlay written to a fresh directory, as a build would see it."""

    def __init__(self, root: Path, spec: dict[str, Any], tmp: Path) -> None:
        planned = overlay.prepare(root, spec, sourceignore.load(root))
        self.kustomization = planned.kustomization
        self.generated = planned.generated
        self.directory = overlay.materialize(planned, root, Path(tempfile.mkdtemp(dir=tmp)))


def prepare(root: Path, spec: dict[str, Any], tmp: Path) -> Prepared:
    return Prepared(root, spec, tmp)


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_generated_kustomization_lists_files_and_kustomization_dirs(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, {
        "apps/a.yaml": CM.format(name="a"),
        "apps/nested/b.yml": CM.format(name="b"),
        "apps/withkust/kustomization.yaml": "resources: [c.yaml]\n",
        "apps/withkust/c.yaml": CM.format(name="c"),
        "apps/notes.txt": "not yaml",
        "apps/.gitlab-ci.yml": "stages: [x]\n",
        "apps/skipme.yaml": "not: kubernetes\n",
        ".sourceignore": "apps/skipme.yaml\n",
    })
    before = snapshot(root)
    prepared = prepare(root, {"path": "./apps"}, tmp_path)
    assert prepared.generated
    assert prepared.kustomization["resources"] == ["./a.yaml", "./nested/b.yml", "./withkust"]
    assert snapshot(root) == before, "the checkout must never be written"
    written = load_all((prepared.directory / "kustomization.yaml").read_text())[0]
    assert written == prepared.kustomization


def test_non_kubernetes_yaml_in_a_generated_path_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, {"apps/values.yaml": "replicaCount: 2\n"})
    with pytest.raises(overlay.BuildInputError, match=r"values\.yaml"):
        prepare(root, {"path": "apps"}, tmp_path)


def test_empty_directory_gets_flux_placeholder(tmp_path: Path) -> None:
    (tmp_path / "repo" / "empty").mkdir(parents=True)
    prepared = prepare(tmp_path / "repo", {"path": "empty"}, tmp_path)
    assert prepared.kustomization["namespace"] == "_placeholder"


def test_missing_path_and_escaping_path_are_errors(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    with pytest.raises(overlay.BuildInputError, match="does not exist"):
        prepare(tmp_path / "repo", {"path": "./nope"}, tmp_path)
    with pytest.raises(overlay.BuildInputError, match="outside the source"):
        prepare(tmp_path / "repo", {"path": "../.."}, tmp_path)


def test_flux_fields_are_laid_over_an_existing_kustomization(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, {
        "app/kustomization.yaml": (
            "namespace: original\nresources: [cm.yaml]\n"
            "patches:\n- patch: '{\"data\": {\"a\": \"1\"}}'\n"
            "images:\n- name: nginx\n  newTag: '1.0'\n  digest: sha256:abc\n"
            "- name: redis\n  newName: my/redis\n"
            "unknownField: dropped\n"),
        "app/cm.yaml": CM.format(name="cm"),
        "app/component/kustomization.yaml": "kind: Component\n",
    })
    spec = {
        "path": "./app", "targetNamespace": "target", "namePrefix": "p-",
        "patches": [{"patch": "x", "target": {"kind": "ConfigMap", "name": "cm",
                                              "labelSelector": "a=b"}}],
        "components": ["component", "missing"], "ignoreMissingComponents": True,
        "images": [{"name": "nginx", "newTag": "2.0"}, {"name": "redis", "newTag": "7"},
                   {"name": "new", "newName": "other"}],
    }
    result = prepare(root, spec, tmp_path).kustomization
    assert result["namespace"] == "target"
    assert result["namePrefix"] == "p-"
    assert result["patches"][-1] == {"patch": "x", "target": {"kind": "ConfigMap",
                                                              "name": "cm",
                                                              "labelSelector": "a=b"}}
    assert result["components"] == ["component"]
    assert "unknownField" not in result
    assert result["images"] == [
        {"name": "nginx", "newTag": "2.0"},  # tag and digest replaced together
        {"name": "redis", "newName": "my/redis", "newTag": "7"},  # newName kept
        {"name": "new", "newName": "other"},
    ]


def test_missing_component_fails_unless_ignored(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, {"app/cm.yaml": CM.format(name="cm")})
    result = prepare(root, {"path": "app", "components": ["../nope"]}, tmp_path)
    assert result.kustomization["components"] == ["../nope"]  # kustomize reports it
    with pytest.raises(overlay.BuildInputError, match="must be local and relative"):
        prepare(root, {"path": "app", "components": ["https://example.com/c"]}, tmp_path)


def test_kustomization_without_resources_gets_origin_annotations(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, {"app/kustomization.yaml": "configMapGenerator:\n- name: x\n  literals: [a=b]\n"})
    result = prepare(root, {"path": "app"}, tmp_path).kustomization
    assert result["buildMetadata"] == ["originAnnotations"]


def test_relative_references_resolve_in_the_mirror(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, {"base/cm.yaml": CM.format(name="cm"),
                 "base/kustomization.yaml": "resources: [cm.yaml]\n",
                 "overlays/prod/kustomization.yaml": "resources: [../../base]\n"})
    prepared = prepare(root, {"path": "overlays/prod"}, tmp_path)
    assert (prepared.directory / "../../base/cm.yaml").resolve() == \
        (root / "base/cm.yaml").resolve()
    assert not (prepared.directory / "kustomization.yaml").is_symlink()
