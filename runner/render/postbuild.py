"""After kustomize: postBuild variable substitution, then Flux's labels and common metadata.

Substitution runs over each object's YAML text exactly as kustomize printed it (Flux runs it
over `resource.AsYAML()`, which is the same text), then the text is parsed again, so
`replicas: ${N}` becomes an integer. Variables: `substituteFrom` entries in list order (later
wins), then the inline `substitute` map over all of them; newlines are removed from values.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from runner.discover.flux import Kustomization, SubstituteFrom
from runner.errors import RunnerError
from runner.manifest import (
    Manifest,
    ObjectKey,
    annotations_of,
    labels_of,
    set_annotations,
    set_labels,
)
from runner.render.envsubst import SubstitutionError, check_variable_names, substitute_vars
from runner.yamlfast import parse
from runner.yamlio import YamlError, split_documents

SUBSTITUTE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
OWNER_NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
OWNER_NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"

# (kind, namespace, name) -> the object, for ConfigMaps/Secrets that substituteFrom may name.
ObjectLookup = Callable[[str, str, str], Manifest | None]


class SubstitutionFailed(RunnerError):
    """A variable had no value (strict mode) or the substituted YAML did not parse."""


@dataclass(frozen=True)
class PostBuildOptions:
    strict: bool = True  # Flux 2.9 (kustomize-controller v1.9) default


def variables_for(kustomization: Kustomization, lookup: ObjectLookup) -> dict[str, str]:
    """The variables Flux would use for `kustomization` (substituteFrom, then substitute)."""
    variables: dict[str, str] = {}
    for reference in kustomization.substitute_from:
        source = lookup(reference.kind, kustomization.namespace, reference.name)
        if source is None:
            if reference.optional:
                continue
            raise SubstitutionFailed(
                f"{kustomization}: substitute from '{reference.kind}/{reference.name}' error: "
                f"not found in namespace {kustomization.namespace}",
                "add it to the repository (or the cluster), or mark the entry optional: true")
        variables.update(_data_of(source, reference))
    variables.update({k: v.replace("\n", "") for k, v in kustomization.substitute.items()})
    return variables


def _data_of(source: Manifest, reference: SubstituteFrom) -> dict[str, str]:
    values: dict[str, str] = {}
    if reference.kind == "Secret":
        for key, encoded in (source.get("data") or {}).items():
            try:
                # surrogateescape keeps non-UTF-8 bytes exact, as Flux substitutes raw bytes.
                values[key] = base64.b64decode(str(encoded)).decode(errors="surrogateescape")
            except (binascii.Error, ValueError):
                values[key] = str(encoded)
        values.update({k: str(v) for k, v in (source.get("stringData") or {}).items()})
    else:
        values.update({k: str(v) for k, v in (source.get("data") or {}).items()})
    return {k: v.replace("\n", "") for k, v in values.items()}


def finish(stream: str, kustomization: Kustomization, variables: dict[str, str],
           options: PostBuildOptions) -> list[Manifest]:
    """Parse kustomize's output, substitute variables, and add Flux's labels."""
    substitute = kustomization.has_post_build and (bool(variables)
                                                   or kustomization.substitute_always)
    if substitute:
        try:
            check_variable_names(variables)
        except SubstitutionError as error:
            raise SubstitutionFailed(f"{kustomization}: {error}",
                                     "rename the variable in postBuild") from error
    objects: list[Manifest] = []
    for _line, text in split_documents(stream):
        objects += _finish_document(text, kustomization, variables, substitute, options)
    for manifest in objects:
        set_labels(manifest, {OWNER_NAME_LABEL: kustomization.name,
                              OWNER_NAMESPACE_LABEL: kustomization.namespace})
        set_labels(manifest, kustomization.common_labels)
        set_annotations(manifest, kustomization.common_annotations)
    return objects


def _finish_document(text: str, kustomization: Kustomization, variables: dict[str, str],
                     substitute: bool, options: PostBuildOptions) -> list[Manifest]:
    documents = _parse(text, kustomization)
    if not substitute or "$" not in text or any(_substitution_disabled(d) for d in documents):
        return documents
    try:
        substituted = substitute_vars(text, variables, options.strict)
    except SubstitutionError as error:
        where = ", ".join(str(ObjectKey.of(d)) for d in documents)
        raise SubstitutionFailed(
            f"{kustomization}: variable substitution failed in {where}: {error}",
            "define the variable in postBuild.substitute or substituteFrom, give it a default "
            "(${var:=default}), or escape a literal as $${var}") from error
    return _parse(substituted, kustomization)


def _parse(text: str, kustomization: Kustomization) -> list[Manifest]:
    try:
        documents = parse(text, f"output of {kustomization}").documents
    except YamlError as error:
        raise SubstitutionFailed(error.message, "check the values substituted into it") from error
    return [d for _line, d in documents if isinstance(d, dict)]


def _substitution_disabled(manifest: Manifest) -> bool:
    return "disabled" in (labels_of(manifest).get(SUBSTITUTE_KEY),
                          annotations_of(manifest).get(SUBSTITUTE_KEY))
