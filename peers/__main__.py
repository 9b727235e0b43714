"""`python -m peers`: build (or find in the cache) every peer tool, print its path and version."""

from __future__ import annotations

import sys

from peers import PEERS, version_output
from runner import gobuild
from runner.errors import RunnerError


def main() -> int:
    for peer in PEERS:
        try:
            path = gobuild.ensure_built(peer, lambda m: print(f"peers: {m}", file=sys.stderr))
        except RunnerError as error:
            print(f"peers: {error}", file=sys.stderr)
            return 1
        print(f"{peer.name} {peer.version}: {path}")
        for line in version_output(peer, path).splitlines():
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
