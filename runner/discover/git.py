"""What Git says about the repository: the revision being applied, and what changed."""

from __future__ import annotations

from pathlib import Path

from runner.errors import RunnerError


def revision(path: Path) -> str:
    """`<branch>@sha1:<commit>` as Flux writes revisions (`-dirty` if the tree has changes),
    or "" outside Git."""
    repo = _repo(path)
    if repo is None:
        return ""
    try:
        commit = repo.head.commit.hexsha
    except ValueError:
        return ""  # no commit yet
    branch = "HEAD" if repo.head.is_detached else repo.active_branch.name
    dirty = "-dirty" if repo.is_dirty(untracked_files=False) else ""
    return f"{branch}@sha1:{commit}{dirty}"


def changed_files(path: Path, since: str) -> set[Path]:
    """Files changed between `since` and the working tree (committed, staged or not),
    including untracked ones, as absolute paths."""
    repo = _repo(path)
    if repo is None:
        raise RunnerError(f"--changed-since needs a Git repository; {path} is not in one")
    try:
        base = repo.commit(since)
    except Exception as error:  # GitPython raises several types for a bad ref
        raise RunnerError(f"--changed-since {since!r} is not a commit in {repo.working_dir}",
                          "fetch it first (e.g. git fetch origin main) or give a commit sha"
                          ) from error
    root = Path(str(repo.working_dir))
    names = {d.a_path for d in base.diff(None)} | {d.b_path for d in base.diff(None)}
    names |= set(repo.untracked_files)
    return {(root / name).resolve() for name in names if name}


def read_at(path: Path, ref: str) -> str | None:
    """The content of `path` at `ref`, or None if it did not exist there."""
    repo = _repo(path)
    if repo is None:
        return None
    relative = path.resolve().relative_to(Path(str(repo.working_dir)).resolve()).as_posix()
    try:
        blob = repo.commit(ref).tree / relative
    except KeyError:
        return None
    data: bytes = blob.data_stream.read()
    return data.decode(errors="replace")


def _repo(path: Path):  # type: ignore[no-untyped-def]
    import git  # GitPython: imported here, it is slow to import and only some commands need it

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
