"""Regenerate schemas/kubernetes/<version>/kubernetes.json from a real API server.

    .venv/bin/python schemas/generate_kubernetes.py               # the pinned local control plane
    .venv/bin/python schemas/generate_kubernetes.py --kubeconfig K  # any cluster without CRDs

Reads `/openapi/v3` (every group-version document) and aggregated discovery (which kinds are
served, and their scope) and writes the compact form of runner.validate.openapi: one JSON
file, no whitespace, descriptions dropped. The version directory is the server's gitVersion.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner.controlplane.cluster import LocalCluster, StartOptions  # noqa: E402
from runner.kube import config  # noqa: E402
from runner.kube.client import KubeClient  # noqa: E402
from runner.validate import openapi  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "kubernetes"


def generate(client: KubeClient) -> Path:
    version = str(client.get("/version")["gitVersion"]).split("+")[0]
    compacted = openapi.from_cluster(client)
    target = OUTPUT / version / "kubernetes.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(orjson.dumps(compacted, option=orjson.OPT_SORT_KEYS) + b"\n")
    print(f"{target}: {len(compacted['kinds'])} kinds, "
          f"{len(compacted['definitions'])} definitions, {target.stat().st_size} bytes")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", help="a cluster to read instead of the local one")
    args = parser.parse_args()
    if args.kubeconfig:
        generate(KubeClient(config.load(args.kubeconfig)))
        return
    with tempfile.TemporaryDirectory(prefix="schemas-") as scratch, \
            LocalCluster.start(Path(scratch) / "cluster", name="schemas",
                               options=StartOptions(start_timeout=120), log=print) as cluster:
        generate(cluster.client())


if __name__ == "__main__":
    main()
