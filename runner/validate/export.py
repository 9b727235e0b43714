"""Write the shipped schemas in kubeconform's file layout, so kubeconform can be run with
exactly the schemas (and strictness) gitops-runner uses: for conformance tests and the
benchmark, or for users who keep kubeconform for something else.

    <dir>/v<version>-standalone[-strict]/<kind>-<group first label>-<version>.json
"""

from __future__ import annotations

from pathlib import Path

import orjson

from runner.validate import schemas
from runner.validate.model import KindSchema

DRAFT7 = "http://json-schema.org/draft-07/schema#"


def write_kubeconform_layout(directory: Path, kubernetes_version: str, strict: bool,
                             extra_crds: list[dict[str, object]] | None = None) -> int:
    """Write every built-in and Flux kind (and `extra_crds`' kinds); return the count."""
    builtin = schemas.load_builtin(kubernetes_version, strict)
    kinds: list[KindSchema] = []
    for group, version, name in builtin.kinds:
        found = builtin.get(group, version, name)
        if found is not None:
            kinds.append(found)
    kinds += schemas.load_flux(builtin).kinds.values()
    if extra_crds:
        custom = schemas.CrdKinds("extra")
        for manifest in extra_crds:
            custom.add(manifest, builtin)
        kinds += custom.kinds.values()
    for kind in kinds:
        path = Path(schemas.render_template(
            str(directory) + schemas.KUBECONFORM_LAYOUT, kind.kind, kind.api_version,
            kubernetes_version, strict))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps({"$schema": DRAFT7, **kind.schema}))
    return len(kinds)
