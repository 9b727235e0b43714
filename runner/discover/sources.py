"""Where each Flux source is on disk.

The repository being run on is the source the cluster's bootstrap names (usually
`GitRepository/flux-system/flux-system`); other sources are given with
`--source Kind/namespace/name=DIR`. A Kustomization whose source is neither is reported as
unavailable instead of being skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runner.discover.flux import SourceRef
from runner.errors import RunnerError

DEFAULT_ROOT_SOURCE = SourceRef("GitRepository", "flux-system", "flux-system")


class SourceUnavailable(RunnerError):
    """A Kustomization's source is not available locally."""


@dataclass
class SourceMap:
    """Source references -> local directories."""

    repository_root: Path
    root_source: SourceRef = DEFAULT_ROOT_SOURCE
    extra: dict[SourceRef, Path] = field(default_factory=dict)

    def directory_for(self, ref: SourceRef) -> Path:
        if ref in self.extra:
            return self.extra[ref]
        if ref == self.root_source:
            return self.repository_root
        raise SourceUnavailable(
            f"source {ref} is not available locally",
            f"pass --source {ref}=DIR with a checkout of it, or leave it out "
            f"(the rest of the repository still renders)")


def parse_source_option(text: str) -> tuple[SourceRef, Path]:
    """`GitRepository/flux-system/tenant=../tenant` -> (SourceRef, Path)."""
    ref_text, sep, directory = text.partition("=")
    parts = ref_text.split("/")
    if not sep or len(parts) != 3 or not all(parts) or not directory:
        raise RunnerError(f"--source {text!r} is not Kind/namespace/name=DIR",
                          "example: --source GitRepository/flux-system/dev-team=../dev-team")
    path = Path(directory)
    if not path.is_dir():
        raise RunnerError(f"--source {text!r}: {directory} is not a directory")
    return SourceRef(parts[0], parts[2], parts[1]), path.resolve()
