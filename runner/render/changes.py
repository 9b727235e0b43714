"""Changed-only mode: which Kustomizations a change touches.

A Kustomization is affected when a file its build reads changed, or when its own definition
(the YAML document of kind Kustomization with its name, in a changed file among its parent's
inputs) differs from that file's version at the base ref; everything that depends on an
affected Kustomization (dependsOn, transitively) is affected too, as it is applied after it.
Discovery still renders the parents (from the cache when unchanged), since that is how
Kustomizations are found at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runner.discover import graph
from runner.discover.flux import Kustomization, NamespacedName, is_kustomization
from runner.render.repository import RepositoryRender
from runner.yamlio import YamlError, load_all

OldText = Callable[[Path], str | None]  # a file's content at the base ref (None: absent)


def affected(result: RepositoryRender, changed: set[Path], old_text: OldText
             ) -> set[NamespacedName]:
    """Kustomizations touched by `changed` (absolute, resolved paths), with their dependents."""
    touched = {ks_id for ks_id, rendered in result.kustomizations.items()
               if rendered.inputs & changed}
    touched |= _redefined(result, changed, old_text)
    kustomizations = [r.kustomization for r in result.kustomizations.values()]
    # Along dependsOn only: a change to a parent's own files does not make every child it
    # defines a change (a redefined child is found by _redefined).
    return graph.dependents(kustomizations, touched, include_parents=False)


def _redefined(result: RepositoryRender, changed: set[Path], old_text: OldText
               ) -> set[NamespacedName]:
    """Kustomizations whose own definition changed in a file of their parent's inputs."""
    found: set[NamespacedName] = set()
    for rendered in result.kustomizations.values():
        ks = rendered.kustomization
        parent = result.kustomizations.get(ks.parent) if ks.parent else None
        if parent is None:
            continue
        for path in parent.inputs & changed:
            now = _definition(_read(path), path, ks)
            before = _definition(old_text(path), path, ks)
            if now != before:
                found.add(ks.id)
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _definition(text: str | None, path: Path, ks: Kustomization) -> object:
    """The document defining `ks` in `text` (None if absent; the text if unparsable)."""
    if text is None:
        return None
    try:
        documents = load_all(text, str(path))
    except YamlError:
        return text
    return next((d for d in documents if isinstance(d, dict) and is_kustomization(d)
                 and (d.get("metadata") or {}).get("name") == ks.name), None)


def keep_only(result: RepositoryRender, selected: set[NamespacedName]) -> None:
    """Drop every Kustomization not in `selected` from the render (in place), after checking
    the whole dependency graph; edges to dropped ones go too (they are not part of the run,
    and were applied by an earlier one)."""
    try:
        graph.check(result.by_id())
    except graph.DependencyError as error:
        result.problems.append(error)
        return
    for ks_id in list(result.kustomizations):
        if ks_id not in selected:
            del result.kustomizations[ks_id]
    for rendered in result.kustomizations.values():
        ks = rendered.kustomization
        ks.depends_on = [d for d in ks.depends_on if d in selected]
        if ks.parent not in selected:
            ks.parent = None

