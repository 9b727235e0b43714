"""Where the control-plane binaries come from: an explicit directory, the cache, or a Go build.

The versions are pinned by the Go modules under `go/` (one module per upstream project, so
their dependency graphs never fight); `runner.gobuild` builds and caches each program.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner import gobuild
from runner.errors import RunnerError
from runner.gobuild import GoProgram

GO_MODULES_DIR = Path(__file__).parent / "go"
BIN_DIR_ENV = "GITOPS_RUNNER_CONTROLPLANE_BIN"
CACHE_DIR_ENV = gobuild.CACHE_DIR_ENV
cache_root = gobuild.cache_root

_KUBE_VERSION_FLAGS = ("-s -w -X k8s.io/component-base/version.gitVersion={v}"
                       " -X k8s.io/component-base/version.gitMajor=1"
                       " -X k8s.io/component-base/version.gitMinor={minor}")


def _kubernetes(command: str) -> GoProgram:
    module = GO_MODULES_DIR / "kubernetes"
    minor = gobuild.pinned_version(module, "k8s.io/kubernetes").split(".")[1]
    return GoProgram(command, module, f"k8s.io/kubernetes/cmd/{command}", "k8s.io/kubernetes",
                     _KUBE_VERSION_FLAGS.replace("{minor}", minor), group="controlplane")


PROGRAMS: tuple[GoProgram, ...] = (
    GoProgram("etcd", GO_MODULES_DIR / "etcd", ".", "go.etcd.io/etcd/server/v3",
              group="controlplane"),
    _kubernetes("kube-apiserver"),
    _kubernetes("kube-controller-manager"),
    _kubernetes("kube-scheduler"),
    GoProgram("kwok", GO_MODULES_DIR / "kwok", "sigs.k8s.io/kwok/cmd/kwok", "sigs.k8s.io/kwok",
              group="controlplane"),
)
BINARY_NAMES = tuple(program.name for program in PROGRAMS)


@dataclass(frozen=True)
class Binaries:
    """Paths of the five executables a local control plane runs."""

    paths: dict[str, Path]
    kubernetes_version: str

    def path(self, name: str) -> Path:
        return self.paths[name]


def kubernetes_version() -> str:
    return gobuild.pinned_version(GO_MODULES_DIR / "kubernetes", "k8s.io/kubernetes")


def missing_binaries(directory: Path) -> list[str]:
    return [name for name in BINARY_NAMES if not gobuild.is_executable(directory / name)]


def all_cached() -> bool:
    return all(gobuild.is_executable(program.cached_path) for program in PROGRAMS)


def locate(explicit_dir: Path | None = None, build: bool = True,
           log: Callable[[str], None] = lambda _msg: None) -> Binaries:
    """Find the binaries: `explicit_dir` (or $GITOPS_RUNNER_CONTROLPLANE_BIN), the cache, a build."""
    explicit = explicit_dir or _env_path(BIN_DIR_ENV)
    if explicit is not None:
        missing = missing_binaries(explicit)
        if missing:
            raise RunnerError(
                f"control-plane binaries missing from {explicit}: {', '.join(missing)}",
                f"put executables named {', '.join(BINARY_NAMES)} there, or unset "
                f"{BIN_DIR_ENV} to use the cache or a Go build",
            )
        return Binaries({name: explicit / name for name in BINARY_NAMES}, kubernetes_version())
    if not build and not all_cached():
        raise RunnerError("control-plane binaries are not in the cache",
                          "run `gitops-runner cluster build` (needs Go) first")
    if not all_cached() and not gobuild.go_available():
        raise RunnerError(
            "Go is not installed, and no control-plane binaries were found",
            f"install Go >= 1.25 (https://go.dev/dl) so they can be built, or point "
            f"{BIN_DIR_ENV} at a directory holding {', '.join(BINARY_NAMES)}",
        )
    paths = {program.name: gobuild.ensure_built(program, log) for program in PROGRAMS}
    return Binaries(paths, kubernetes_version())


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
