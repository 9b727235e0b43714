"""The dependsOn graph: topological layers, cycles and unknown dependencies.

A cycle or a dependency on a Kustomization that does not exist is an error before anything
is applied; the message names the cycle (`a -> b -> a`) or the missing name and who needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from runner.discover.flux import Kustomization, NamespacedName
from runner.errors import RunnerError


class DependencyError(RunnerError):
    """The dependsOn graph cannot be ordered."""


def check(kustomizations: Mapping[NamespacedName, Kustomization]) -> None:
    """Raise DependencyError for unknown dependencies or a cycle."""
    unknown = [f"{ks} depends on {dep}, which does not exist"
               for ks in kustomizations.values() for dep in ks.requires
               if dep not in kustomizations]
    if unknown:
        raise DependencyError("unknown dependencies: " + "; ".join(sorted(unknown)),
                              "fix the dependsOn name/namespace, or add the missing "
                              "Kustomization")
    cycle = find_cycle(kustomizations)
    if cycle:
        names = " -> ".join(str(n) for n in cycle)
        raise DependencyError(f"dependency cycle: {names}",
                              "remove one dependsOn entry of the cycle")


def layers(kustomizations: Mapping[NamespacedName, Kustomization]) -> list[list[Kustomization]]:
    """Kustomizations grouped so that each depends only on earlier groups (sorted by id)."""
    check(kustomizations)
    placed: dict[NamespacedName, int] = {}
    for ks_id in sorted(kustomizations):
        _depth(ks_id, kustomizations, placed)
    result: list[list[Kustomization]] = [[] for _ in range(max(placed.values(), default=-1) + 1)]
    for ks_id in sorted(kustomizations):
        result[placed[ks_id]].append(kustomizations[ks_id])
    return result


def _depth(ks_id: NamespacedName, kustomizations: Mapping[NamespacedName, Kustomization],
           placed: dict[NamespacedName, int]) -> int:
    if ks_id not in placed:
        deps = kustomizations[ks_id].requires
        placed[ks_id] = 1 + max((_depth(d, kustomizations, placed) for d in deps), default=-1)
    return placed[ks_id]


def find_cycle(kustomizations: Mapping[NamespacedName, Kustomization],
               ) -> list[NamespacedName] | None:
    """The first cycle found (first node repeated at the end), or None."""
    state: dict[NamespacedName, int] = {}  # 1 = on the current path, 2 = done
    path: list[NamespacedName] = []

    def visit(node: NamespacedName) -> list[NamespacedName] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(kustomizations[node].requires):
            if dep not in kustomizations:
                continue
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(kustomizations):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def dependents(kustomizations: Iterable[Kustomization], roots: set[NamespacedName],
               include_parents: bool = True) -> set[NamespacedName]:
    """`roots` and everything that depends on them, directly or not (through dependsOn, and
    through the parent that defines a Kustomization unless `include_parents` is False)."""
    reverse: dict[NamespacedName, set[NamespacedName]] = {}
    for ks in kustomizations:
        for dep in ks.requires if include_parents else ks.depends_on:
            reverse.setdefault(dep, set()).add(ks.id)
    result, frontier = set(roots), list(roots)
    while frontier:
        for child in reverse.get(frontier.pop(), set()):
            if child not in result:
                result.add(child)
                frontier.append(child)
    return result
