"""Building blocks of the CI-integration tests: a clean copy of this project (what a user's
pipeline would fetch: the Action, the templates, the package), a wheel of it, and a user's
Flux repository made from examples/ with the ready-to-copy CI files added.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def project_files() -> list[Path]:
    """The project's files as Git sees them: tracked, plus new files not ignored."""
    result = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO_ROOT, capture_output=True,
                            check=True)
    return [Path(p) for p in result.stdout.decode().split("\0") if p]


def source_copy(dest: Path) -> Path:
    """A copy of the project, as a user's CI would fetch it at this commit."""
    for relative in project_files():
        source = REPO_ROOT / relative
        if not source.is_file():
            continue  # deleted in the work tree
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dest


def build_wheel(source: Path, dest: Path) -> Path:
    """A wheel of the copy (what `pip install gitops-runner==VERSION` would fetch)."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "-w", str(dest), str(source)],
                   check=True, capture_output=True)
    wheels = sorted(dest.glob("gitops_runner-*.whl"))
    assert wheels, f"pip wheel wrote no wheel into {dest}"
    return wheels[-1]


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.com",
           "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


def flux_repository(dest: Path, files: dict[str, str]) -> str:
    """A user's Flux repository (examples/ at its root, plus `files`), committed; returns
    the commit's SHA."""
    for folder in ("apps", "infrastructure", "clusters"):
        shutil.copytree(REPO_ROOT / "examples" / folder, dest / folder)
    for name, text in files.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "fleet")
    return git(dest, "rev-parse", "HEAD")


def commit(dest: Path, message: str) -> str:
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", message)
    return git(dest, "rev-parse", "HEAD")
