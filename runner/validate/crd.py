"""CustomResourceDefinitions turned into JSON schemas, one per served version.

A CRD's `openAPIV3Schema` is a structural schema in Kubernetes' OpenAPI dialect; the API
server validates custom resources with it after pruning unknown fields. The JSON schema made
here gives the same verdicts:
- `x-kubernetes-int-or-string` accepts an integer or a string;
- `x-kubernetes-preserve-unknown-fields` keeps an object open, whatever the strictness;
- in strict mode every other object is closed (`additionalProperties: false`): a field the
  API server would prune is reported, as server-side apply and `kubectl --validate=strict`
  report it;
- `nullable: true`, and every optional field, accept null (the API server drops null
  optional fields before validating);
- `metadata` at the root (and in embedded resources) is validated as ObjectMeta, as the
  API server does whatever the CRD says;
- `x-kubernetes-validations` rules are collected with their location, for runner.validate.cel.
"""

from __future__ import annotations

from typing import Any

from runner.errors import RunnerError
from runner.manifest import Manifest
from runner.validate.model import JSON, OBJECT_META, CelRule, KindSchema

_METADATA_REF = {"$ref": f"#/definitions/{OBJECT_META}"}
_KEPT_EXTENSIONS = ("x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
                    "x-kubernetes-embedded-resource", "x-kubernetes-validations")


class CrdError(RunnerError):
    """A CustomResourceDefinition in the input cannot be read."""


def is_crd(manifest: Manifest) -> bool:
    return (manifest.get("kind") == "CustomResourceDefinition"
            and str(manifest.get("apiVersion", "")).startswith("apiextensions.k8s.io/"))


def kinds_of(crd: Manifest, source: str, strict: bool = True) -> list[KindSchema]:
    """One KindSchema per version of `crd` (unserved versions too, marked so)."""
    spec = crd.get("spec") or {}
    group = str(spec.get("group", ""))
    kind = str((spec.get("names") or {}).get("kind", ""))
    if not group or not kind:
        name = (crd.get("metadata") or {}).get("name", "?")
        raise CrdError(f"CustomResourceDefinition {name} has no spec.group or spec.names.kind",
                       "fix the CRD; its custom resources cannot be validated")
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    shared = (spec.get("validation") or {}).get("openAPIV3Schema")  # apiextensions v1beta1
    result = []
    for version in spec.get("versions") or []:
        openapi = ((version.get("schema") or {}).get("openAPIV3Schema") or shared
                   or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
        rules: list[CelRule] = []
        schema = to_json_schema(openapi, strict, rules)
        warning = ""
        if version.get("deprecated"):
            warning = str(version.get("deprecationWarning") or
                          f"{group}/{version.get('name')} {kind} is deprecated")
        result.append(KindSchema(group, str(version.get("name", "")), kind, schema, source,
                                 namespaced=namespaced, cel_rules=rules, deprecated=warning,
                                 served=bool(version.get("served", True))))
    return result


def to_json_schema(openapi: JSON, strict: bool, rules: list[CelRule] | None = None) -> JSON:
    """The JSON schema (draft 7) of a CRD version's `openAPIV3Schema`."""
    collected: list[CelRule] = [] if rules is None else rules
    root = _convert(openapi, strict, required=True, path=(), rules=collected)
    _add_resource_fields(root, strict)
    return root


def _convert(node: JSON, strict: bool, required: bool, path: tuple[str, ...],
             rules: list[CelRule]) -> JSON:
    out: JSON = {}
    for key, value in node.items():
        if key in ("properties", "items", "additionalProperties", "allOf", "anyOf", "oneOf",
                   "not", "description", "default", "example", "externalDocs", "nullable",
                   "x-kubernetes-validations", "x-kubernetes-list-type",
                   "x-kubernetes-list-map-keys", "x-kubernetes-map-type"):
            continue
        out[key] = value
    _collect_rules(node, path, rules)
    required_names = set(node.get("required") or [])
    if isinstance(node.get("properties"), dict):
        out["properties"] = {
            name: _convert(child, strict, name in required_names, (*path, name), rules)
            for name, child in node["properties"].items()}
    items = node.get("items")
    if isinstance(items, dict):
        out["items"] = _convert(items, strict, True, (*path, "*"), rules)
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = _convert(additional, strict, True, (*path, "~"), rules)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional
    for combinator in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(combinator), list):
            # Structural schemas only use combinators to restrict values; they carry no
            # types, so they are checked with the same conversion, never closed.
            out[combinator] = [_convert(sub, False, True, path, []) for sub in node[combinator]]
    if isinstance(node.get("not"), dict):
        out["not"] = _convert(node["not"], False, True, path, [])
    if node.get("x-kubernetes-embedded-resource"):
        _add_resource_fields(out, strict)
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    if (strict and not preserve and "additionalProperties" not in out
            and (out.get("type") == "object" or "properties" in out)):
        out["additionalProperties"] = False
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}, *out.get("anyOf", [])][:2]
    if node.get("nullable") or not required:
        _allow_null(out)
    return out


def _allow_null(schema: JSON) -> None:
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif "anyOf" in schema and "type" not in schema:
        schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]


def _add_resource_fields(schema: JSON, strict: bool) -> None:
    """apiVersion, kind and metadata exist on every resource, even if the schema omits them."""
    properties = schema.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": ["string", "null"]})
    properties.setdefault("kind", {"type": ["string", "null"]})
    properties["metadata"] = dict(_METADATA_REF)


def _collect_rules(node: JSON, path: tuple[str, ...], rules: list[CelRule]) -> None:
    for entry in node.get("x-kubernetes-validations") or []:
        if isinstance(entry, dict) and entry.get("rule"):
            rules.append(CelRule(str(entry["rule"]), path, str(entry.get("message") or ""),
                                 str(entry.get("fieldPath") or "")))


def compact(crd: Manifest) -> Manifest:
    """The parts of a CRD that validation reads (no descriptions): for committed schemas."""
    spec = crd.get("spec") or {}
    return {
        "apiVersion": crd.get("apiVersion"), "kind": "CustomResourceDefinition",
        "metadata": {"name": (crd.get("metadata") or {}).get("name")},
        "spec": {
            "group": spec.get("group"), "scope": spec.get("scope"),
            "names": {"kind": (spec.get("names") or {}).get("kind"),
                      "plural": (spec.get("names") or {}).get("plural")},
            "versions": [{
                **{k: v for k, v in version.items()
                   if k in ("name", "served", "storage", "deprecated", "deprecationWarning")},
                "schema": {"openAPIV3Schema": _strip(
                    (version.get("schema") or {}).get("openAPIV3Schema") or {})},
            } for version in spec.get("versions") or []],
        },
    }


def _strip(node: Any) -> Any:
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            result[key] = {name: _strip(child) for name, child in value.items()}
        elif key not in ("description", "example", "externalDocs") and (
                not key.startswith("x-kubernetes-") or key in _KEPT_EXTENSIONS):
            result[key] = _strip(value)
    return result
