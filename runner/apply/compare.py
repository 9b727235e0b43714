"""Comparing a desired object with its live one without asking the API server.

Two questions, answered from the live object alone (as a LIST returns it):

1. Does a field that Git sets have another value in the cluster? A recursive "subset"
   comparison: every field of the desired manifest must equal the live value (maps by key,
   lists element by element, associative lists such as containers, env or ports by their
   merge key, wherever the order can differ). Fields Git does not set (defaults, status,
   fields other managers own, such as an HPA's replicas) are never compared.
2. Would apply remove a field? Fields that our field manager owns (managedFields), or that
   apply takes over from kubectl as Flux does, but that Git no longer sets, are removed by the
   next apply unless another manager also owns them.

Both are deliberately eager: a value the API server normalizes (a quantity, an int-or-string)
may look different here. Callers confirm every object flagged by (1) or by our own fields in
(2) with one server-side dry-run; only the kubectl take-over in (2) cannot be dry-run, and is
certain by construction.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from runner.apply.ownership import FIELD_MANAGER, LAST_APPLIED, SSA_ANNOTATION, is_taken_over
from runner.manifest import Manifest, annotations_of

# Metadata the server owns: never compared even if a manifest carries it.
_SERVER_METADATA = frozenset({"creationTimestamp", "generation", "resourceVersion", "uid",
                              "managedFields", "selfLink", "deletionTimestamp"})
# Merge keys of the associative lists whose key is not (only) `name`.
_MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([numkMGTPE]|[KMGTPE]i)?$")
_SUFFIX = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
           "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
           "P": Decimal("1e15"), "E": Decimal("1e18"), "Ki": Decimal(2) ** 10,
           "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
           "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60}

RawPath = tuple[str, ...]  # managedFields keys: ("f:metadata", "f:labels", "f:app")


@dataclass
class Comparison:
    """What differs between a desired object and its live one, before any dry-run."""

    values: list[str] = field(default_factory=list)  # fields Git sets with another live value
    ours_unset: list[str] = field(default_factory=list)  # our fields that Git no longer sets
    taken_unset: list[RawPath] = field(default_factory=list)  # kubectl's fields apply removes
    last_applied: bool = False  # kubectl's last-applied annotation, which apply removes

    @property
    def flagged(self) -> bool:
        """Something may differ: confirm with a dry-run."""
        return bool(self.values or self.ours_unset or self.certain)

    @property
    def certain(self) -> bool:
        """Drift a dry-run cannot show (apply takes kubectl's fields over first)."""
        return bool(self.taken_unset or self.last_applied)

    @property
    def fields(self) -> list[str]:
        return [*self.values, *self.ours_unset, *(display(p) for p in self.taken_unset),
                *(["metadata.annotations." + LAST_APPLIED] if self.last_applied else [])]


def compare(desired: Manifest, live: Manifest) -> Comparison:
    """Compare `desired` (what apply sends) with `live` (as the API server returns it)."""
    result = Comparison()
    _differences(comparable_desired(desired), live, "", "", result.values)
    merge = annotations_of(desired).get(SSA_ANNOTATION, "").lower() == "merge"
    entries = (live.get("metadata") or {}).get("managedFields") or []
    ours = [e for e in entries if _is_ours(e)]
    taken = [] if merge else [e for e in entries if is_taken_over(e)]
    others = [e for e in entries if not _is_ours(e) and e not in taken]
    owned_elsewhere = set().union(*(_leaves(e.get("fieldsV1") or {}) for e in others))
    for entry in ours:
        result.ours_unset += [display(p) for p in _unset(entry.get("fieldsV1") or {}, desired)
                              if p not in owned_elsewhere]
    for entry in taken:
        result.taken_unset += [p for p in _unset(entry.get("fieldsV1") or {}, desired)
                               if p not in owned_elsewhere]
    result.last_applied = not merge and LAST_APPLIED in annotations_of(live)
    result.ours_unset = sorted(set(result.ours_unset))
    result.taken_unset = sorted(set(result.taken_unset))
    return result


def comparable_desired(desired: Manifest) -> Manifest:
    """The desired object as the API server would store what Git sets: no status, no
    server-owned metadata, and a Secret's write-only stringData folded into data."""
    clean = {k: v for k, v in desired.items() if k != "status"}
    metadata = {k: v for k, v in (clean.get("metadata") or {}).items()
                if k not in _SERVER_METADATA}
    clean["metadata"] = metadata
    if clean.get("kind") == "Secret" and clean.get("apiVersion") == "v1" \
            and clean.get("stringData"):
        data = dict(clean.get("data") or {})
        for key, value in (clean.pop("stringData") or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        clean["data"] = data
    return clean


def expected_after_apply(dry_run: Manifest, taken_unset: list[RawPath],
                         drop_last_applied: bool) -> Manifest:
    """The dry-run result less what apply's take-over removes (a dry-run cannot show that)."""
    result = copy.deepcopy(dry_run)
    for path in taken_unset:
        _remove(result, path)
    if drop_last_applied:
        (result.get("metadata") or {}).get("annotations", {}).pop(LAST_APPLIED, None)
    return result


def display(path: RawPath) -> str:
    """A managedFields path for people: ("f:spec", "f:containers", 'k:{"name":"app"}',
    "f:image") -> spec.containers[name=app].image"""
    text = ""
    for part in path:
        kind, _, raw = part.partition(":")
        if kind == "f":
            text += ("." if text else "") + raw
        elif kind == "k":
            keys = json.loads(raw)
            text += "[" + ",".join(f"{k}={v}" for k, v in keys.items()) + "]"
        elif kind == "v":
            text += f"[={json.loads(raw)}]"
        elif kind == "i":
            text += f"[{raw}]"
    return text


# -- (1) subset comparison --------------------------------------------------------------------


def _differences(desired: Any, live: Any, path: str, name: str, found: list[str]) -> None:
    if desired is None:
        return  # null: the field is unset, not compared
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            if desired or live is not None:
                found.append(path or ".")
            return
        for key, value in desired.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in live:
                if not _empty(value):
                    found.append(child)
                continue
            _differences(value, live[key], child, str(key), found)
        return
    if isinstance(desired, list):
        _list_differences(desired, live, path, name, found)
        return
    if live is None:
        if not _empty(desired):  # "", 0 and false are omitted from the stored object
            found.append(path)
        return
    if not same_scalar(desired, live):
        found.append(path)


def _list_differences(desired: list[Any], live: Any, path: str, name: str,
                      found: list[str]) -> None:
    if live is None:
        if desired:
            found.append(path)
        return
    if not isinstance(live, list):
        found.append(path)
        return
    keys = merge_keys(name, desired)
    if keys is None:  # positional (atomic lists: args, rules, subjects ...)
        if len(desired) != len(live):
            found.append(path)
            return
        for index, (want, have) in enumerate(zip(desired, live, strict=True)):
            _differences(want, have, f"{path}[{index}]", name, found)
        return
    for want in desired:
        label = ",".join(f"{k}={want[k]}" for k in keys if k in want)
        match = _find(live, want, keys)
        if match is None:
            found.append(f"{path}[{label}]")
        else:
            _differences(want, match, f"{path}[{label}]", name, found)


def merge_keys(name: str, elements: list[Any]) -> tuple[str, ...] | None:
    """The keys identifying an element of an associative list, or None if positional."""
    if not elements or not all(isinstance(e, dict) for e in elements):
        return None
    if name in _MERGE_KEYS:
        keys = _MERGE_KEYS[name]
        if all(keys[0] in e for e in elements):
            return keys
    for key, extra in (("containerPort", "protocol"), ("port", "protocol")):
        if name == "ports" and all(key in e for e in elements):
            return key, extra
    names = [e.get("name") for e in elements]
    if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        return ("name",)
    return None


def _find(live: list[Any], want: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for candidate in live:
        if isinstance(candidate, dict) and all(
                k not in want or (k in candidate and same_scalar(want[k], candidate[k]))
                for k in keys):
            return candidate
    return None


def same_scalar(desired: Any, live: Any) -> bool:
    """Equal as the API server would store them: numbers by value, quantities by amount."""
    if isinstance(desired, bool) or isinstance(live, bool):
        return desired is live
    if desired == live and (type(desired) is type(live)
                            or (isinstance(desired, int | float)
                                and isinstance(live, int | float))):
        return True
    if isinstance(desired, str) or isinstance(live, str):
        left, right = quantity(desired), quantity(live)
        return left is not None and left == right
    return False


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity's amount ("500m" -> 0.5, "1Gi" -> 1073741824), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2) or ""]
    except InvalidOperation:
        return None


def _empty(value: Any) -> bool:
    return value is None or value == "" or value is False or value == 0 or value in ({}, [])


# -- (2) fields apply would remove --------------------------------------------------------------


def _is_ours(entry: dict[str, Any]) -> bool:
    return (entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply"
            and not entry.get("subresource"))


def _leaves(fields: dict[str, Any], prefix: RawPath = ()) -> set[RawPath]:
    """Every owned path of a fieldsV1 tree (a "." child means the node itself is owned)."""
    found: set[RawPath] = set()
    for key, child in fields.items():
        if key == ".":
            found.add(prefix)
            continue
        path = (*prefix, key)
        if isinstance(child, dict) and child:
            found |= _leaves(child, path)
        else:
            found.add(path)
    return found


def _unset(fields: dict[str, Any], desired: Any, prefix: RawPath = ()) -> list[RawPath]:
    """Paths owned in `fields` that `desired` does not set (reported at the highest level)."""
    found: list[RawPath] = []
    for key, child in fields.items():
        if key == ".":
            continue
        path = (*prefix, key)
        value = _step(desired, key)
        if value is _ABSENT:
            found.append(path)
        elif isinstance(child, dict) and child:
            found += _unset(child, value, path)
    return found


_ABSENT = object()


def _step(node: Any, key: str) -> Any:
    """The child of `node` that a managedFields key names, or _ABSENT."""
    kind, _, raw = key.partition(":")
    if kind == "f":
        if isinstance(node, dict) and raw in node and node[raw] is not None:
            return node[raw]
        if isinstance(node, dict) and raw == "data" and node.get("stringData"):
            return node["stringData"]  # a Secret applied with stringData
        return _ABSENT
    if not isinstance(node, list):
        return _ABSENT
    if kind == "k":
        wanted = json.loads(raw)
        for element in node:
            if isinstance(element, dict) and all(
                    k not in element or same_scalar(element[k], v) for k, v in wanted.items()):
                return element
        return _ABSENT
    if kind == "v":
        value = json.loads(raw)
        return value if value in node else _ABSENT
    if kind == "i":
        index = int(raw)
        return node[index] if 0 <= index < len(node) else _ABSENT
    return _ABSENT


def _remove(obj: Any, path: RawPath) -> None:
    """Delete the node a managedFields path names from `obj` (if present)."""
    if not path:
        return
    parent = obj
    for key in path[:-1]:
        parent = _step(parent, key)
        if parent is _ABSENT:
            return
    last = path[-1]
    kind, _, raw = last.partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(raw, None)
    elif isinstance(parent, list):
        target = _step(parent, last)
        if target is not _ABSENT:
            parent.remove(target)


# -- after a dry-run: which fields apply would change -------------------------------------------


def changed_paths(live: Manifest, expected: Manifest) -> list[str]:
    """The fields (status and server metadata aside) whose value apply would change."""
    found: list[str] = []
    _changes(_without_server_fields(live), _without_server_fields(expected), "", "", found)
    return found


def _without_server_fields(obj: Manifest) -> Manifest:
    clean = {k: v for k, v in obj.items() if k != "status"}
    clean["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items()
                         if k not in _SERVER_METADATA}
    return clean


def _changes(before: Any, after: Any, path: str, name: str, found: list[str]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            child = f"{path}.{key}" if path else str(key)
            _changes(before.get(key), after.get(key), child, str(key), found)
        return
    if isinstance(before, list) and isinstance(after, list) and before != after:
        keys = merge_keys(name, after) if after else None
        if keys is not None and merge_keys(name, before) == keys:
            def ident(e: dict[str, Any]) -> tuple[Any, ...]:
                return tuple(e.get(k) for k in keys)
            old = {ident(e): e for e in before}
            new = {ident(e): e for e in after}
            for ident_key in [*old, *(k for k in new if k not in old)]:
                label = ",".join(f"{k}={v}" for k, v in zip(keys, ident_key, strict=True)
                                 if v is not None)
                _changes(old.get(ident_key), new.get(ident_key), f"{path}[{label}]", name,
                         found)
            return
        if len(before) == len(after):
            for index, (one, other) in enumerate(zip(before, after, strict=True)):
                _changes(one, other, f"{path}[{index}]", name, found)
            return
    if before != after:
        found.append(path)


def owners_of(live: Manifest, fields: list[str]) -> list[str]:
    """The field managers other than ours that own any of `fields` (or a part of one)."""
    owners: set[str] = set()
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if _is_ours(entry):
            continue
        for leaf in _leaves(entry.get("fieldsV1") or {}):
            owned = display(leaf)
            if owned and any(owned == f or owned.startswith(f + ".") or owned.startswith(f + "[")
                             or f.startswith(owned + ".") or f.startswith(owned + "[")
                             for f in fields):
                owners.add(str(entry.get("manager")))
                break
    return sorted(owners)
