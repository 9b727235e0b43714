"""Files a Flux source leaves out of its artifact, so a build never sees them.

source-controller excludes version-control files, images and archives, CI configuration, and
whatever `.sourceignore` files say (gitignore syntax, each scoped to its own directory); a
GitRepository's `spec.ignore` replaces the defaults (not the VCS rules). The runner reads the
checkout directly, so it applies the same rules itself (fluxcd/pkg/sourceignore).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pathspec

IGNORE_FILE = ".sourceignore"
EXCLUDE_VCS = [".git/", ".gitignore", ".gitmodules", ".gitattributes"]
EXCLUDE_DEFAULT = [
    "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
    ".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
    "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
    "**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
]


@dataclass(frozen=True)
class IgnoreRules:
    """Compiled ignore rules of one source root; paths are relative to that root."""

    spec: pathspec.GitIgnoreSpec

    def ignored(self, relative: str, is_dir: bool = False) -> bool:
        return self.spec.match_file(relative + "/" if is_dir else relative)

    def ignored_path(self, root: Path, path: Path) -> bool:
        return self.ignored(path.relative_to(root).as_posix(), path.is_dir())


def load(root: Path, spec_ignore: str | None = None) -> IgnoreRules:
    """The rules for a source checked out at `root` (`spec_ignore`: GitRepository spec.ignore)."""
    lines = list(EXCLUDE_VCS)
    lines += spec_ignore.splitlines() if spec_ignore is not None else EXCLUDE_DEFAULT
    lines += _sourceignore_files(root)
    return IgnoreRules(pathspec.GitIgnoreSpec.from_lines(lines))


def _sourceignore_files(root: Path) -> list[str]:
    """Patterns of every .sourceignore under `root`, rewritten relative to `root`."""
    patterns: list[str] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != ".git")
        if IGNORE_FILE in files:
            domain = Path(directory).relative_to(root).as_posix()
            text = (Path(directory) / IGNORE_FILE).read_text(errors="replace")
            patterns += [_scoped(line, domain) for line in text.splitlines()]
    return patterns


def _scoped(line: str, domain: str) -> str:
    """Rewrite a pattern from `<domain>/.sourceignore` so it matches from the source root."""
    stripped = line.strip()
    if domain in ("", ".") or not stripped or stripped.startswith("#"):
        return line
    negate = "!" if stripped.startswith("!") else ""
    pattern = stripped.removeprefix("!")
    anchored = "/" in pattern.rstrip("/")
    body = pattern.lstrip("/") if anchored else f"**/{pattern}"
    return f"{negate}{domain}/{body}"
