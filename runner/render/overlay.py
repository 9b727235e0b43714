"""The kustomization.yaml that kustomize-controller would build for one Kustomization,
written into a private mirror of the source instead of into the user's checkout.

Flux edits (or generates) `kustomization.yaml` in the checkout itself, which has corrupted
working trees and fails on read-only ones. Here the directory chain from the source root to
`spec.path` is recreated under a temporary directory, every other entry is a symlink to the
real file or directory, and only the target directory's kustomization file is ours. Relative
references (`../base`) resolve exactly as in the checkout, builds of different
Kustomizations never share a file, and the checkout is never written.

The edits follow fluxcd/pkg/kustomize `Generator.GenerateManifest`, in its order, applied to
a v1 Kustomization as kustomize-controller decodes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import RunnerError
from runner.render.references import KUSTOMIZATION_FILES, is_remote, references
from runner.render.sourceignore import IgnoreRules
from runner.yamlio import YamlError, dump, load_all

KUSTOMIZE_API_VERSION = "kustomize.config.k8s.io/v1beta1"
# Fields of kustomize's Kustomization type: Flux decodes into that struct, which drops
# anything else, so unknown keys are dropped here too (kustomize itself would refuse them).
KNOWN_FIELDS = frozenset({
    "apiVersion", "kind", "metadata", "openapi", "namePrefix", "nameSuffix", "namespace",
    "commonLabels", "labels", "commonAnnotations", "patchesStrategicMerge", "patchesJson6902",
    "patches", "images", "imageTags", "replacements", "replicas", "vars", "sortOptions",
    "resources", "components", "crds", "bases", "configMapGenerator", "secretGenerator",
    "helmGlobals", "helmCharts", "helmChartInflationGenerator", "generatorOptions",
    "configurations", "generators", "transformers", "validators", "buildMetadata",
})


class BuildInputError(RunnerError):
    """The Kustomization's path or files cannot be built."""


@dataclass(frozen=True)
class Overlay:
    """The kustomization Flux would build at `target` (write it with `materialize`)."""

    target: Path
    kustomization: dict[str, Any]
    generated: bool  # True when the path had no kustomization file of its own


def has_kustomization_file(directory: Path) -> bool:
    return any((directory / name).is_file() for name in KUSTOMIZATION_FILES)


def prepare(source_root: Path, spec: dict[str, Any], ignore: IgnoreRules) -> Overlay:
    """The kustomization Flux would build for a Kustomization with this spec (no writes)."""
    target = resolve_path(source_root, str(spec.get("path") or "./"))
    existing = next((target / n for n in KUSTOMIZATION_FILES if (target / n).is_file()), None)
    if existing is not None:
        kustomization = _read_kustomization(existing)
        if not kustomization.get("resources"):
            # Flux: an empty resource list would fail as "kustomization.yaml is empty".
            kustomization["buildMetadata"] = ["originAnnotations"]
    else:
        kustomization = generate(source_root, target, ignore)
    apply_flux_spec(kustomization, spec, target)
    return Overlay(target, kustomization, generated=existing is None)


def materialize(overlay: Overlay, source_root: Path, workdir: Path,
                full_mirror: bool = False) -> Path:
    """Mirror `source_root` into `workdir`, write the overlay's kustomization, and return the
    directory to build.

    By default only what the kustomization refers to is linked beside the directory chain
    (a repository with hundreds of sibling folders would otherwise cost a symlink each, per
    build); `full_mirror` links every sibling, for a build that needs more than it says."""
    needed = None if full_mirror else _needed_paths(overlay.target, overlay.kustomization)
    mirror = _mirror_chain(source_root, overlay.target, workdir, needed)
    (mirror / "kustomization.yaml").write_text(dump(overlay.kustomization))
    return mirror


def resolve_path(source_root: Path, path: str) -> Path:
    """`spec.path` inside the source; it must exist and must not escape the source root."""
    root = source_root.resolve()
    target = (root / path.lstrip("/")).resolve()
    if target != root and root not in target.parents:
        raise BuildInputError(f"spec.path {path!r} points outside the source ({root})",
                              "use a path relative to the repository root")
    if not target.is_dir():
        raise BuildInputError(f"spec.path {path!r} does not exist in the source ({root})",
                              "fix spec.path (it is relative to the repository root), or pass "
                              "--repository-root if the root was guessed wrong")
    return target


def _mirror_chain(source_root: Path, target: Path, workdir: Path,
                  needed: set[Path] | None) -> Path:
    """Real directories from the root down to `target`, symlinks beside them: to every
    entry, or (with `needed`) to the entries that lead to a needed path."""
    real = source_root.resolve()
    mirror = workdir / "src"
    mirror.mkdir(parents=True)
    for part in target.relative_to(real).parts:
        _link_entries(real, mirror, skip={part}, needed=needed)
        real, mirror = real / part, mirror / part
        mirror.mkdir()
    _link_entries(real, mirror, skip=set(KUSTOMIZATION_FILES), needed=None)
    return mirror


def _link_entries(real_dir: Path, mirror_dir: Path, skip: set[str],
                  needed: set[Path] | None) -> None:
    for entry in os.scandir(real_dir):
        if entry.name in skip:
            continue
        if needed is not None and not _leads_to_needed(Path(entry.path), needed):
            continue
        (mirror_dir / entry.name).symlink_to(entry.path)


def _leads_to_needed(path: Path, needed: set[Path]) -> bool:
    return any(path == n or path in n.parents for n in needed)


def _needed_paths(target: Path, kustomization: dict[str, Any]) -> set[Path]:
    """Where the kustomization's own relative references point (outside `target`)."""
    found = set()
    for reference in references(kustomization):
        if not is_remote(reference):
            found.add(Path(os.path.normpath(target / reference)))
    return {p for p in found if not (p == target or target in p.parents)}


def _read_kustomization(path: Path) -> dict[str, Any]:
    try:
        documents = load_all(path.read_text(), str(path))
    except YamlError as error:
        raise BuildInputError(error.message, error.hint) from error
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise BuildInputError(f"{path}: a kustomization file must hold one YAML mapping")
    content = {k: v for k, v in documents[0].items() if k in KNOWN_FIELDS}
    content.setdefault("apiVersion", KUSTOMIZE_API_VERSION)
    content.setdefault("kind", "Kustomization")
    return content


def generate(source_root: Path, target: Path, ignore: IgnoreRules) -> dict[str, Any]:
    """Flux's generated kustomization: every manifest file below `target`, except that a
    sub-directory with its own kustomization file is one resource and is not entered."""
    resources = [f"./{p.relative_to(target).as_posix()}"
                 for p in scan_manifests(source_root, target, ignore)]
    kustomization: dict[str, Any] = {"apiVersion": KUSTOMIZE_API_VERSION,
                                     "kind": "Kustomization"}
    if resources:
        kustomization["resources"] = resources
    else:
        # Flux: a placeholder keeps an empty directory from failing the build.
        kustomization["namespace"] = "_placeholder"
    return kustomization


def scan_manifests(source_root: Path, target: Path, ignore: IgnoreRules) -> list[Path]:
    """Files (and kustomization sub-directories) in Go's filepath.Walk order (lexical)."""
    found: list[Path] = []
    root = source_root.resolve()
    for entry in sorted(os.scandir(target), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.is_dir():
            if ignore.ignored_path(root, path):
                continue
            if has_kustomization_file(path):
                found.append(path)
            else:
                found += scan_manifests(source_root, path, ignore)
        elif path.suffix in (".yaml", ".yml") and not ignore.ignored_path(root, path):
            _check_manifest_file(path)
            found.append(path)
    return found


def _check_manifest_file(path: Path) -> None:
    """Flux refuses the build if any scanned file is not Kubernetes YAML."""
    try:
        documents = load_all(path.read_text(errors="replace"), str(path))
    except YamlError as error:
        raise BuildInputError(f"failed to decode Kubernetes YAML from {path}: {error.message}",
                              error.hint) from error
    for document in documents:
        if not isinstance(document, dict) or not document.get("kind"):
            raise BuildInputError(
                f"failed to decode Kubernetes YAML from {path}: a document is not a "
                "Kubernetes object (no kind)",
                "move non-Kubernetes YAML out of the Kustomization's path, or list the "
                "files in a kustomization.yaml, or ignore them in .sourceignore")


def apply_flux_spec(kustomization: dict[str, Any], spec: dict[str, Any], target: Path) -> None:
    """Lay the Kustomization's own fields over the kustomization file, as Flux does."""
    for field, key in (("targetNamespace", "namespace"), ("namePrefix", "namePrefix"),
                       ("nameSuffix", "nameSuffix")):
        if field in spec and spec[field] is not None:
            kustomization[key] = spec[field]
    patches = [_patch(p) for p in spec.get("patches") or []]
    if patches:
        kustomization["patches"] = [*(kustomization.get("patches") or []), *patches]
    _add_components(kustomization, spec, target)
    # spec.patchesStrategicMerge / patchesJson6902 (v1beta2) are not read: Flux 2.x decodes
    # every Kustomization as v1, which has no such fields (parse_kustomization warns).
    _merge_images(kustomization, spec.get("images") or [])
    if spec.get("buildMetadata"):
        kustomization["buildMetadata"] = list(spec["buildMetadata"])


def _patch(entry: dict[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {"patch": entry.get("patch", "")}
    if entry.get("target"):
        patch["target"] = _selector(entry["target"])
    return patch


def _selector(target: dict[str, Any]) -> dict[str, Any]:
    fields = ("group", "version", "kind", "name", "namespace", "labelSelector",
              "annotationSelector")
    return {f: target[f] for f in fields if target.get(f)}


def _add_components(kustomization: dict[str, Any], spec: dict[str, Any], target: Path) -> None:
    ignore_missing = bool(spec.get("ignoreMissingComponents", False))
    for component in spec.get("components") or []:
        if not is_local_relative_path(str(component)):
            raise BuildInputError(f"component path '{component}' must be local and relative",
                                  "components must be paths inside the repository")
        if ignore_missing and not (target / component).exists():
            continue
        kustomization.setdefault("components", []).append(component)


def is_local_relative_path(path: str) -> bool:
    return bool(path) and not path.startswith("/") and "://" not in path


def _merge_images(kustomization: dict[str, Any], images: list[dict[str, Any]]) -> None:
    """Merge by name: newName replaces only if set; newTag and digest are replaced together."""
    existing: list[dict[str, Any]] = kustomization.setdefault("images", [])
    for image in images:
        current = next((i for i in existing if i.get("name") == image.get("name")), None)
        if current is None:
            existing.append({k: image[k] for k in ("name", "newName", "newTag", "digest")
                             if image.get(k)})
            continue
        if image.get("newName"):
            current["newName"] = image["newName"]
        if image.get("newTag") or image.get("digest"):
            for key in ("newTag", "digest"):
                if image.get(key):
                    current[key] = image[key]
                else:
                    current.pop(key, None)
    if not existing:
        del kustomization["images"]
