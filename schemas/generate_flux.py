"""Regenerate schemas/flux/flux-<version>.json: the CRDs of Flux's controllers, compacted.

    .venv/bin/python schemas/generate_flux.py [--flux v2.9.5]

Reads which controller API versions the Flux CLI release pins (its go.mod), downloads each
controller's Go module with `go mod download` (the Go module proxy) and takes its
`config/crd/bases/*.yaml`. The CRDs are kept whole except descriptions
(runner.validate.crd.compact), so custom resources are converted to JSON schemas by the
same code as the CRDs of a repository.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.validate import crd  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "flux"
CONTROLLERS = ("kustomize-controller", "source-controller", "helm-controller",
               "notification-controller", "image-reflector-controller",
               "image-automation-controller")


def module_dir(module: str, version: str) -> Path | None:
    result = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"],
                            capture_output=True, text=True, check=False, cwd="/tmp")
    info = json.loads(result.stdout or "{}")
    if "Dir" not in info:
        print(f"skipped {module}@{version}: {info.get('Error', result.stderr).strip()}")
        return None
    return Path(info["Dir"])


def generate(flux_version: str) -> Path:
    flux = module_dir("github.com/fluxcd/flux2/v2", flux_version)
    if flux is None:
        raise SystemExit("cannot download the Flux CLI module")
    pins = dict(re.findall(r"github\.com/fluxcd/([\w-]+)/api (v[\w.\-]+)",
                           (flux / "go.mod").read_text()))
    crds, versions = [], {}
    for controller in CONTROLLERS:
        if controller not in pins:
            continue
        directory = module_dir(f"github.com/fluxcd/{controller}", pins[controller])
        if directory is None:
            continue
        versions[controller] = pins[controller]
        for path in sorted((directory / "config" / "crd" / "bases").glob("*.yaml")):
            crds.extend(crd.compact(doc) for doc in yaml.safe_load_all(path.read_text())
                        if doc and crd.is_crd(doc))
    target = OUTPUT / f"flux-{flux_version}.json"
    target.write_bytes(orjson.dumps({"flux": flux_version, "controllers": versions,
                                     "crds": crds}) + b"\n")
    print(f"{target}: {len(crds)} CRDs from {versions}, {target.stat().st_size} bytes")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flux", default="v2.9.5", help="Flux CLI release (default v2.9.5)")
    generate(parser.parse_args().flux)


if __name__ == "__main__":
    main()
