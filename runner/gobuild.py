"""Programs built from pinned Go modules, cached by version.

The runner builds its local control plane (etcd, kube-apiserver, ... kwok) and its batch
kustomize builder from Go modules it ships (each folder a go.mod + go.sum that pins the whole
dependency graph); tests and benchmarks build their peer tools the same way. A program is
built on first use into `<cache>/<group>/<name>-<version>-<digest>/` (the digest covers the
module's files and build flags, so changing a pin rebuilds), atomically (a temp folder renamed
into place) and by one process at a time (a lock file), then reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RunnerError

CACHE_DIR_ENV = "GITOPS_RUNNER_CACHE"
Log = Callable[[str], None]
# Prepares the module to build from inside a scratch folder; returns that module's folder.
PrepareModule = Callable[[str, Path], Path]


def cache_root() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "gitops-runner"


@dataclass(frozen=True)
class GoProgram:
    """One executable: the Go module that pins it, the package to build, its version pin."""

    name: str
    module_dir: Path
    package: str
    requirement: str  # the module whose pinned version names the build, e.g. k8s.io/kubernetes
    ldflags: str = "-s -w"  # `{v}` / `{n}`: the pinned version with / without its leading v
    group: str = "bin"
    prepare: PrepareModule | None = None

    @property
    def version(self) -> str:
        return pinned_version(self.module_dir, self.requirement)

    @property
    def build_flags(self) -> str:
        return self.ldflags.format(v=self.version, n=self.version.removeprefix("v"))

    @property
    def cache_key(self) -> str:
        digest = hashlib.sha256(self.build_flags.encode())
        for path in sorted(self.module_dir.iterdir()):
            if path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return f"{self.name}-{self.version}-{digest.hexdigest()[:8]}"

    @property
    def cached_path(self) -> Path:
        return cache_root() / self.group / self.cache_key / self.name


def pinned_version(module_dir: Path, requirement: str) -> str:
    """The version of `requirement` pinned in `module_dir/go.mod`."""
    go_mod = (module_dir / "go.mod").read_text()
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(requirement)} (v\S+)", go_mod, re.M)
    if not match:
        raise RunnerError(f"{module_dir}/go.mod does not pin {requirement}")
    return match.group(1)


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def go_available() -> bool:
    return shutil.which("go") is not None


def go_command(purpose: str) -> str:
    go = shutil.which("go")
    if go is None:
        raise RunnerError(f"Go is not installed, so {purpose} cannot be built",
                          "install Go >= 1.25 (https://go.dev/dl) with the Go module proxy "
                          "reachable")
    return go


def ensure_built(program: GoProgram, log: Log) -> Path:
    """The cached executable of `program`, built first if missing."""
    path = program.cached_path
    if is_executable(path):
        return path
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.parent.with_name(path.parent.name + ".lock")):
        if not is_executable(path):
            _build_into(program, path.parent, log)
    return path


def _build_into(program: GoProgram, target: Path, log: Log) -> None:
    go = go_command(program.name)
    started = time.monotonic()
    log(f"building {program.name} {program.version} (Go module {program.module_dir.name}); "
        "a cold build takes minutes")
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".building-", dir=target.parent))
    staging.chmod(0o755)
    try:
        module_dir = program.module_dir
        if program.prepare is not None:
            module_dir = program.prepare(go, staging / "src")
        # -mod=readonly: the committed go.sum is the pin; a build never rewrites it.
        run_go(go, ["build", "-mod=readonly", "-trimpath", "-ldflags", program.build_flags,
                    "-o", str(staging / program.name), program.package], module_dir)
        shutil.rmtree(staging / "src", ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"built {program.name} in {time.monotonic() - started:.0f}s")


def run_go(go: str, args: list[str], cwd: Path) -> str:
    env = {**os.environ, "GOFLAGS": "-buildvcs=false", "GOWORK": "off"}
    result = subprocess.run([go, *args], cwd=cwd, capture_output=True, text=True, env=env,
                            check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-20:])
        raise RunnerError(f"`{shlex.join(['go', *args])}` failed in {cwd}:\n{tail}",
                          "check that the Go module proxy is reachable (GOPROXY) and Go is "
                          ">= 1.25")
    return result.stdout


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
