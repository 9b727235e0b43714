"""CRD -> JSON schema: int-or-string, preserve-unknown-fields, nullable, strictness, CEL."""

from __future__ import annotations

from typing import Any

from runner.validate import crd, schemas
from runner.validate.model import compile_schema

OPENAPI: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["port"],
            "properties": {
                "port": {"x-kubernetes-int-or-string": True,
                         "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "nullable": {"type": "string", "nullable": True},
                "items": {"type": "array", "items": {
                    "type": "object", "properties": {"n": {"type": "integer"}},
                    "x-kubernetes-validations": [{"rule": "self.n > 0"}]}},
                "embedded": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object"}}},
            },
        },
    },
}


def _valid(document: dict[str, Any], strict: bool = True) -> bool:
    schema = crd.to_json_schema(OPENAPI, strict)
    builtin = schemas.load_builtin(schemas.DEFAULT_KUBERNETES_VERSION, strict)
    schema["definitions"] = builtin.closure("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    return bool(compile_schema(schema).is_valid(document))


def _object(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "x.io/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"port": 80, **spec}}


def test_int_or_string_and_required() -> None:
    assert _valid(_object(port="http"))
    assert not _valid(_object(port=1.5))
    assert not _valid({**_object(), "spec": {}})


def test_preserve_unknown_fields_is_never_closed_and_maps_stay_open() -> None:
    assert _valid(_object(free={"any": {"thing": 1}}, labels={"a": "b"}))
    assert not _valid(_object(labels={"a": 1}))


def test_strict_closes_everything_else() -> None:
    assert not _valid(_object(unknown=1))
    assert _valid(_object(unknown=1), strict=False)
    assert not _valid({**_object(), "metadata": {"name": "a", "nmae": "b"}})


def test_nullable_and_optional_fields_accept_null() -> None:
    assert _valid(_object(nullable=None, free=None))
    assert not _valid({**_object(), "spec": {"port": None}})  # required: null is missing


def test_embedded_resources_get_apiversion_kind_metadata() -> None:
    embedded = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    assert _valid(_object(embedded=embedded))


def test_cel_rules_are_collected_with_their_path() -> None:
    rules: list[Any] = []
    crd.to_json_schema(OPENAPI, True, rules)
    assert [(r.rule, r.path) for r in rules] == [("self.n > 0", ("spec", "items", "*"))]


def test_every_version_of_a_crd_and_unserved_ones() -> None:
    manifest = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "xs.x.io"},
                "spec": {"group": "x.io", "scope": "Cluster", "names": {"kind": "X"},
                         "versions": [
                             {"name": "v1", "served": True, "schema": {"openAPIV3Schema": OPENAPI}},
                             {"name": "v1beta1", "served": False, "deprecated": True,
                              "schema": {"openAPIV3Schema": OPENAPI}}]}}
    kinds = crd.kinds_of(manifest, "test")
    assert [(k.version, k.served, k.namespaced, bool(k.deprecated)) for k in kinds] == [
        ("v1", True, False, False), ("v1beta1", False, False, True)]
