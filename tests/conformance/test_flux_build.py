"""Conformance: every Kustomization the runner renders equals `flux build kustomization`.

The peer is the Flux CLI v2.9.5 built from its Go module (`peers.flux()`), run as
`flux build kustomization NAME --path P --kustomization-file F --dry-run --in-memory-build
--strict-substitute` in the source root, once per Kustomization the runner found.

Normalization, and nothing else: both outputs are parsed with the same YAML reader, objects
are sorted by apiVersion/kind/namespace/name, and integral floats compare equal to integers
(`1e3` and `1000`). Any other difference fails the test, with a diff of the first object that
differs.

Where the dry-run cannot do what Flux does, the runner's own resolution is fed to it:
- `postBuild.substituteFrom` is not read in dry-run mode (there is no cluster); the variables
  the runner resolved from the repository are given to flux as `postBuild.substitute`
  (substituteFrom values first, the inline map over them, as Flux orders them), and
  substituteFrom is removed. Reading and ordering substituteFrom is covered by
  tests/unit/render/test_postbuild.py.
Where flux build itself differs from kustomize-controller, the case says so (see
KNOWN_FLUX_BUILD_DIVERGENCES).
"""

from __future__ import annotations

import copy
import difflib
import json
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import peers
from runner.discover.sources import SourceUnavailable
from runner.render import postbuild
from runner.render.repository import (
    RenderedKustomization,
    RenderOptions,
    RepositoryRender,
    render,
)
from runner.yamlio import dump, load_all
from tests.conftest import CORPORA, EXAMPLES, REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "conformance" / "fixtures"

# (repository root, cluster path) of every repository compared.
CASES = {
    "examples-staging": (EXAMPLES, "clusters/staging"),
    "examples-production": (EXAMPLES, "clusters/production"),
    "rules": (FIXTURES / "rules", "clusters/test"),
    "helm-example-staging": (CORPORA / "flux2-kustomize-helm-example", "clusters/staging"),
    "helm-example-production": (CORPORA / "flux2-kustomize-helm-example",
                                "clusters/production"),
    "multi-tenancy-staging": (CORPORA / "flux2-multi-tenancy", "clusters/staging"),
    "multi-tenancy-production": (CORPORA / "flux2-multi-tenancy", "clusters/production"),
    "bjw-s-home-ops": (CORPORA / "bjw-s-labs-home-ops", "kubernetes/flux/cluster"),
}

# flux build differs from kustomize-controller here; the runner follows the controller.
KNOWN_FLUX_BUILD_DIVERGENCES = {
    ("rules", "flux-system/source-defaults"):
        "source-controller leaves CI files such as .gitlab-ci.yml out of the artifact, so "
        "kustomize-controller never sees them; flux build reads the directory as it is and "
        "fails to decode the CI file as Kubernetes YAML",
}


def _skip_reason(root: Path) -> str | None:
    if not root.is_dir():
        return f"{root} is absent (../shared/corpora is not beside the project)"
    return peers.available()


def _flux_objects(flux: Path, rendered: RenderedKustomization, variables: dict[str, str],
                  source_root: Path) -> tuple[list[Any] | None, str]:
    """flux build's objects for one Kustomization (None and stderr when it fails)."""
    manifest = copy.deepcopy(rendered.kustomization.manifest)
    post_build = manifest.get("spec", {}).get("postBuild")
    if post_build:
        post_build.pop("substituteFrom", None)
        if rendered.kustomization.substitute_from:
            post_build["substitute"] = variables
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        file.write(dump(manifest))
        file.flush()
        ks = rendered.kustomization
        result = subprocess.run(
            [str(flux), "build", "kustomization", ks.name, "--namespace", ks.namespace,
             "--path", ks.path, "--kustomization-file", file.name, "--dry-run",
             "--in-memory-build", "--strict-substitute"],
            cwd=source_root, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        return None, result.stderr
    return load_all(result.stdout, f"flux build {ks}"), ""


def _normalized(objects: list[Any]) -> list[Any]:
    def fix(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    def key(obj: dict[str, Any]) -> tuple[str, ...]:
        meta = obj.get("metadata") or {}
        return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace") or "",
                meta.get("name", ""))

    return sorted((fix(o) for o in objects), key=key)


def _difference(ours: list[Any], theirs: list[Any]) -> str:
    if len(ours) != len(theirs):
        names = sorted(f"{o['kind']}/{o['metadata'].get('name')}" for o in ours)
        flux_names = sorted(f"{o['kind']}/{o['metadata'].get('name')}" for o in theirs)
        return f"object count differs: runner {names} vs flux {flux_names}"
    for mine, flux in zip(ours, theirs, strict=True):
        if mine != flux:
            a = json.dumps(mine, indent=1, sort_keys=True).splitlines()
            b = json.dumps(flux, indent=1, sort_keys=True).splitlines()
            return "\n".join(difflib.unified_diff(a, b, "runner", "flux build", lineterm=""))
    return ""


def _render(root: Path, cluster_path: str) -> RepositoryRender:
    return render(RenderOptions(path=root / cluster_path, repository_root=root))


@pytest.mark.parametrize("case", sorted(CASES))
def test_runner_output_equals_flux_build(case: str) -> None:
    root, cluster_path = CASES[case]
    reason = _skip_reason(root)
    if reason:
        pytest.skip(reason)
    flux = peers.flux()
    result = _render(root, cluster_path)
    assert result.kustomizations, f"{case}: nothing rendered"
    assert not result.problems, [p.message for p in result.problems]

    def compare(item: tuple[Any, RenderedKustomization]) -> str | None:
        ks_id, rendered = item
        known = KNOWN_FLUX_BUILD_DIVERGENCES.get((case, str(ks_id)))
        if isinstance(rendered.error, SourceUnavailable):
            return None  # e.g. a tenant's own GitRepository: reported, compared elsewhere
        assert rendered.ok, f"{ks_id}: runner failed: {rendered.error}"
        variables = postbuild.variables_for(rendered.kustomization, _lookup(result))
        theirs, stderr = _flux_objects(flux, rendered, variables, result.repository_root)
        if known:
            assert theirs is None, f"{ks_id}: flux build no longer diverges ({known})"
            return None
        if theirs is None:
            return f"{ks_id}: flux build failed: {stderr.strip()}"
        difference = _difference(_normalized(rendered.objects), _normalized(theirs))
        return f"{ks_id}:\n{difference}" if difference else None

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(compare, result.kustomizations.items()) if f]
    assert not failures, "\n\n".join(failures[:5])


def _lookup(result: RepositoryRender) -> postbuild.ObjectLookup:
    index = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
             for r in result.kustomizations.values() for o in r.objects
             if o.get("kind") in ("ConfigMap", "Secret")}
    return lambda kind, namespace, name: index.get((kind, namespace, name))
