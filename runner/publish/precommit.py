"""The pre-commit hook: validate every cluster folder of the repository, offline.

`.pre-commit-hooks.yaml` runs `python -m runner.publish.precommit`. With `--path DIR`
(repeatable) it validates those folders; without, it finds the cluster folders the way
`flux bootstrap` lays them out (a folder holding `flux-system/gotk-sync.yaml`), else every
folder under `clusters/`. Any other arguments go to `gitops-runner validate` as they are.
Exit code: the worst of the validate runs (0 valid, 1 invalid, 2 could not run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__"})


def cluster_folders(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS and not d.startswith("."))
        here = Path(directory)
        if here.name == "flux-system" and "gotk-sync.yaml" in files:
            found.append(here.parent)
    if not found and (root / "clusters").is_dir():
        found = sorted(p for p in (root / "clusters").iterdir()
                       if p.is_dir() and not p.name.startswith("."))
    return sorted(set(found))


def split_args(args: list[str]) -> tuple[list[str], list[str]]:
    """(--path values, the other arguments)."""
    paths: list[str] = []
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--path":
            paths.append(next(items, ""))
        elif arg.startswith("--path="):
            paths.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    return paths, rest


def main(argv: list[str] | None = None) -> int:
    paths, rest = split_args(list(sys.argv[1:] if argv is None else argv))
    root = Path.cwd()
    folders = [Path(p) for p in paths if p] or [p.relative_to(root) for p in
                                                cluster_folders(root)]
    if not folders:
        print("gitops-runner: no cluster folder found (no flux-system/gotk-sync.yaml, no "
              "clusters/*/): set the hook's args, e.g. args: [--path, clusters/production]",
              file=sys.stderr)
        return 2
    worst = 0
    for folder in folders:
        print(f"gitops-runner validate --path {folder}", flush=True)
        result = subprocess.run([sys.executable, "-m", "runner", "validate", "--path",
                                 str(folder), *rest], check=False)
        worst = max(worst, result.returncode)
    return worst


if __name__ == "__main__":
    sys.exit(main())
