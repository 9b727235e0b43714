"""`x-kubernetes-validations` rules of CRDs, evaluated as the API server would on create.

Rules are CEL expressions over `self` (the value at the rule's place in the object). On
create there is no `oldSelf`, so transition rules (those using `oldSelf`) do not apply. The
evaluator is the Rust `cel` crate (package common-expression-language); Kubernetes' CEL
libraries that it lacks (string and list extensions, `isURL`) are added here. A rule that
still uses a function this evaluator does not know is reported as a warning, never as a
verdict on the object.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from runner.validate.model import CelRule, Finding

_UNSUPPORTED_MARKERS = ("Undefined variable or function", "unsupported syntax",
                        "No such overload", "Unsupported")


def _substring(text: str, start: int, end: int | None = None) -> str:
    return text[start:end]


def _index_of(text: str, part: str, start: int = 0) -> int:
    return text.find(part, start)


def _is_url(text: str) -> bool:
    parsed = urlparse(text)
    return bool(parsed.scheme and (parsed.netloc or parsed.path))


def _is_sorted(items: list[Any]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(items))


# Kubernetes CEL library functions (k8s.io/apiserver/pkg/cel/library and cel-go's ext).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": lambda s: s.lower(),
    "upperAscii": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "split": lambda s, sep, limit=-1: s.split(sep) if limit < 0 else s.split(sep, limit - 1),
    "join": lambda items, sep="": sep.join(items),
    "replace": lambda s, old, new, limit=-1: s.replace(old, new, limit),
    "indexOf": _index_of,
    "lastIndexOf": lambda s, part: s.rfind(part),
    "substring": _substring,
    "charAt": lambda s, i: s[i] if i < len(s) else "",
    "reverse": lambda value: value[::-1],
    "isSorted": _is_sorted,
    "sum": lambda items: sum(items),
    "min": lambda items: min(items),
    "max": lambda items: max(items),
    "indexOfList": lambda items, value: items.index(value) if value in items else -1,
    "isURL": _is_url,
}

_programs: dict[str, Any] = {}
_programs_lock = threading.Lock()


@functools.cache
def _cel() -> Any:
    """The `cel` package's compiled core, loaded on first use and on its own: the package's
    __init__ also imports its command line (typer, prompt_toolkit), a quarter of a second
    that a small validation would otherwise spend on every run that meets a CEL rule."""
    package = importlib.util.find_spec("cel")
    if package is None or package.origin is None:
        raise ImportError("the common-expression-language package is not installed")
    binary = next(Path(package.origin).parent.glob("cel.*.so"), None)
    if binary is None:
        import cel  # an unexpected layout: the whole package works too

        return cel
    loader = importlib.machinery.ExtensionFileLoader("cel.cel", str(binary))
    spec = importlib.util.spec_from_file_location("cel.cel", binary, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _program(rule: str) -> Any:
    with _programs_lock:
        if rule not in _programs:
            _programs[rule] = _cel().compile(rule)
        return _programs[rule]


def check(manifest: dict[str, Any], rules: list[CelRule]) -> list[Finding]:
    """Findings for every rule that evaluates to false (or fails) on `manifest`."""
    findings: list[Finding] = []
    for rule in rules:
        if "oldSelf" in rule.rule:
            continue  # a transition rule: only evaluated on update
        for value, pointer in _values_at(manifest, rule.path, ""):
            finding = _evaluate(rule, value, pointer + rule.field_path.replace(".", "/"))
            if finding is not None:
                findings.append(finding)
    return findings


def _evaluate(rule: CelRule, value: Any, pointer: str) -> Finding | None:
    try:
        result = _program(rule.rule).execute(_cel().Context({"self": value}, FUNCTIONS))
    except (RuntimeError, ValueError, TypeError) as error:
        text = str(error).splitlines()[0]
        if any(marker in text for marker in _UNSUPPORTED_MARKERS):
            return Finding("cel-unsupported", f"CEL rule {rule.rule!r} was not evaluated: "
                           f"{text}", severity="warning", path=pointer,
                           hint="check the rule with a server-side dry-run (plan)")
        return Finding("cel", f"CEL rule {rule.rule!r} failed to evaluate: {text}",
                       path=pointer, hint="the API server rejects objects whose rules error")
    if result is True:
        return None
    message = rule.message or f"failed rule: {rule.rule}"
    return Finding("cel", message, path=pointer or "/",
                   hint=f"x-kubernetes-validations rule: {rule.rule}")


def _values_at(value: Any, path: tuple[str, ...], pointer: str) -> Iterator[tuple[Any, str]]:
    if value is None:
        return  # an absent or null optional field: its rules do not run
    if not path:
        yield value, pointer
        return
    step, rest = path[0], path[1:]
    if step == "*" and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _values_at(item, rest, f"{pointer}/{index}")
    elif step == "~" and isinstance(value, dict):
        for key, item in value.items():
            yield from _values_at(item, rest, f"{pointer}/{key}")
    elif isinstance(value, dict) and step in value:
        yield from _values_at(value[step], rest, f"{pointer}/{step}")
