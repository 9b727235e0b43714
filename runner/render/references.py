"""The local paths a kustomization file refers to, and the names a kustomization file has.

Shared by the overlay (which mirrors just what a build needs) and the input tracking (which
hashes what a build reads).
"""

from __future__ import annotations

from typing import Any

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Fields whose entries are paths (or, for patch-like fields, possibly inline YAML).
_PATH_LIST_FIELDS = ("resources", "bases", "components", "crds", "configurations",
                     "generators", "transformers", "validators", "patchesStrategicMerge")
_ENTRY_PATH_FIELDS = ("patches", "patchesJson6902", "replacements")
_GENERATOR_FIELDS = ("configMapGenerator", "secretGenerator")


def is_remote(reference: str) -> bool:
    return "://" in reference or reference.startswith(("github.com/", "git@"))


def references(kustomization: dict[str, Any]) -> list[str]:
    """Every local path a kustomization file refers to (inline patches are skipped)."""
    found: list[str] = []
    for name in _PATH_LIST_FIELDS:
        found += [e for e in kustomization.get(name) or [] if _looks_like_path(e)]
    for name in _ENTRY_PATH_FIELDS:
        found += [e["path"] for e in kustomization.get(name) or []
                  if isinstance(e, dict) and isinstance(e.get("path"), str)]
    for name in _GENERATOR_FIELDS:
        for generator in kustomization.get(name) or []:
            found += _generator_files(generator)
    openapi = kustomization.get("openapi") or {}
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        found.append(openapi["path"])
    for chart in kustomization.get("helmCharts") or []:
        if isinstance(chart, dict) and isinstance(chart.get("valuesFile"), str):
            found.append(chart["valuesFile"])
    return found


def _generator_files(generator: Any) -> list[str]:
    if not isinstance(generator, dict):
        return []
    files = [f.split("=", 1)[-1] for f in generator.get("files") or [] if isinstance(f, str)]
    envs = [e for e in generator.get("envs") or [] if isinstance(e, str)]
    if isinstance(generator.get("env"), str):
        envs.append(generator["env"])
    return files + envs


def _looks_like_path(entry: Any) -> bool:
    return isinstance(entry, str) and "\n" not in entry and not entry.lstrip().startswith("{")
