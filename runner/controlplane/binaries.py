"""Where the control-plane binaries come from: an explicit directory, the cache, or a Go build.

The versions are pinned by the Go modules under `go/` (one module per upstream project, so
their dependency graphs never fight). The cache key is the Kubernetes version plus a hash of
those modules' go.mod/go.sum files, so changing a pin rebuilds and nothing stale is reused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RunnerError

GO_MODULES_DIR = Path(__file__).parent / "go"
BIN_DIR_ENV = "GITOPS_RUNNER_CONTROLPLANE_BIN"
CACHE_DIR_ENV = "GITOPS_RUNNER_CACHE"

# The commands each Go module builds, as (module folder, package, output name).
BUILD_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("etcd", ".", "etcd"),
    ("kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver", "kube-apiserver"),
    ("kubernetes", "k8s.io/kubernetes/cmd/kube-controller-manager", "kube-controller-manager"),
    ("kubernetes", "k8s.io/kubernetes/cmd/kube-scheduler", "kube-scheduler"),
    ("kwok", "sigs.k8s.io/kwok/cmd/kwok", "kwok"),
)
BINARY_NAMES = tuple(name for _, _, name in BUILD_TARGETS)


@dataclass(frozen=True)
class Binaries:
    """Paths of the five executables a local control plane runs."""

    directory: Path
    kubernetes_version: str

    def path(self, name: str) -> Path:
        return self.directory / name


def pinned_version(module: str, requirement: str) -> str:
    """The version of `requirement` that the Go module `module` pins in its go.mod."""
    go_mod = (GO_MODULES_DIR / module / "go.mod").read_text()
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(requirement)} (v\S+)", go_mod, re.M)
    if not match:
        raise RunnerError(f"{module}/go.mod does not pin {requirement}")
    return match.group(1)


def kubernetes_version() -> str:
    return pinned_version("kubernetes", "k8s.io/kubernetes")


def cache_root() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "gitops-runner"


def cache_key() -> str:
    """Kubernetes version + digest of every pinning file, e.g. `v1.35.4-3f2a9c1d`."""
    digest = hashlib.sha256()
    for pin_file in sorted(GO_MODULES_DIR.glob("*/go.*")) + sorted(GO_MODULES_DIR.glob("*/*.go")):
        digest.update(pin_file.relative_to(GO_MODULES_DIR).as_posix().encode())
        digest.update(pin_file.read_bytes())
    return f"{kubernetes_version()}-{digest.hexdigest()[:8]}"


def cached_bin_dir() -> Path:
    return cache_root() / "controlplane" / cache_key()


def missing_binaries(directory: Path) -> list[str]:
    return [name for name in BINARY_NAMES if not os.access(directory / name, os.X_OK)]


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
        return Binaries(explicit, kubernetes_version())
    cached = cached_bin_dir()
    if not missing_binaries(cached):
        return Binaries(cached, kubernetes_version())
    if not build:
        raise RunnerError(f"control-plane binaries are not in the cache ({cached})",
                          "run `gitops-runner cluster build` (needs Go) first")
    build_into(cached, log)
    return Binaries(cached, kubernetes_version())


def go_command() -> str:
    go = shutil.which("go")
    if go is None:
        raise RunnerError(
            "Go is not installed, and no control-plane binaries were found",
            f"install Go >= 1.25 (https://go.dev/dl) so they can be built, or point "
            f"{BIN_DIR_ENV} at a directory holding {', '.join(BINARY_NAMES)}",
        )
    return go


def build_into(target: Path, log: Callable[[str], None]) -> None:
    """Build every binary from the pinned Go modules into `target` (atomically, via a temp dir)."""
    go = go_command()
    staging = target.with_name(target.name + f".building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for module, package, name in BUILD_TARGETS:
        started = time.monotonic()
        log(f"building {name} (Go module {module}); a cold build takes minutes")
        _go_build(go, GO_MODULES_DIR / module, package, staging / name)
        log(f"built {name} in {time.monotonic() - started:.0f}s")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _go_build(go: str, module_dir: Path, package: str, output: Path) -> None:
    version = kubernetes_version()
    minor = version.split(".")[1]
    ldflags = (
        "-s -w -X k8s.io/component-base/version.gitVersion=" + version
        + " -X k8s.io/component-base/version.gitMajor=1"
        + " -X k8s.io/component-base/version.gitMinor=" + minor
    )
    # -mod=readonly: the committed go.sum is the pin; a build never rewrites it.
    command = [go, "build", "-mod=readonly", "-trimpath", "-ldflags", ldflags,
               "-o", str(output), package]
    result = subprocess.run(command, cwd=module_dir, capture_output=True, text=True,
                            env={**os.environ, "GOFLAGS": "-buildvcs=false"}, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-20:])
        raise RunnerError(
            f"`go build {package}` failed in {module_dir}:\n{tail}",
            "check that the Go module proxy is reachable (GOPROXY) and Go is >= 1.25",
        )


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
