"""One runner at a time per cluster: a coordination.k8s.io Lease held for the whole run.

Two pipelines applying to the same cluster at once would fight over objects and inventories.
The Lease is taken with optimistic concurrency (resourceVersion), renewed in the background,
and released at the end; a Lease not renewed within its duration (a runner that crashed) is
taken over. A second runner waits up to `--lock-timeout`, then fails naming the holder.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType

from runner.errors import RunnerError
from runner.kube.client import ApiError, KubeClient

LEASE_NAME = "gitops-runner"
DURATION_SECONDS = 30
RENEW_EVERY_SECONDS = 10.0


class LockTimeout(RunnerError):
    """Another runner holds the cluster's Lease."""


def identity() -> str:
    ci_job = os.environ.get("GITHUB_RUN_ID") or os.environ.get("CI_JOB_ID") or ""
    job = f" (CI job {ci_job})" if ci_job else ""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}{job}"


class ClusterLock:
    """`with ClusterLock(client, namespace, timeout):` holds the Lease for the block."""

    def __init__(self, client: KubeClient, namespace: str = "kube-system",
                 timeout: float = 300.0, log: Callable[[str], None] = lambda _m: None) -> None:
        self.client = client
        self.path = (f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/"
                     f"{LEASE_NAME}")
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.timeout = timeout
        self.log = log
        self.holder = identity()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> ClusterLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        announced = False
        while True:
            holder = self._try_acquire()
            if holder is None:
                break
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"another gitops-runner holds the cluster lock: {holder}",
                    f"wait for it to finish, or raise --lock-timeout (now {self.timeout:.0f}s);"
                    f" a crashed runner's lock expires after {DURATION_SECONDS}s")
            if not announced:
                self.log(f"waiting for the cluster lock held by {holder}")
                announced = True
            time.sleep(1.0)
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True)
        self._renewer.start()

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        lease = self.client.get_or_none(self.path)
        if lease is not None and lease.get("spec", {}).get("holderIdentity") == self.holder:
            with contextlib.suppress(ApiError):  # if this fails, the Lease expires by itself
                self.client.delete(self.path, uid=lease["metadata"]["uid"])

    def _try_acquire(self) -> str | None:
        """None when we hold the Lease now, else the current holder."""
        lease = self.client.get_or_none(self.path)
        if lease is None:
            try:
                self.client.request("POST", self.collection, body=self._lease(None))
                return None
            except ApiError as error:
                if error.status == 409:
                    return "(another runner, just now)"
                raise
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") and not _expired(spec):
            return str(spec["holderIdentity"])
        try:
            self.client.request("PUT", self.path, body=self._lease(lease))
            return None
        except ApiError as error:
            if error.status == 409:
                return str(spec.get("holderIdentity") or "(another runner, just now)")
            raise

    def _renew_loop(self) -> None:
        while not self._stop.wait(RENEW_EVERY_SECONDS):
            try:
                lease = self.client.get(self.path)
                if lease.get("spec", {}).get("holderIdentity") != self.holder:
                    self.log("lost the cluster lock to another runner")
                    return
                self.client.request("PUT", self.path, body=self._lease(lease))
            except RunnerError as error:
                self.log(f"could not renew the cluster lock: {error.message}")

    def _lease(self, current: dict[str, object] | None) -> dict[str, object]:
        now = _micro_time()
        metadata: dict[str, object] = {"name": LEASE_NAME}
        if current is not None:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]  # type: ignore[index]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata,
                "spec": {"holderIdentity": self.holder, "leaseDurationSeconds": DURATION_SECONDS,
                         "acquireTime": now, "renewTime": now}}


def _micro_time() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _expired(spec: dict[str, object]) -> bool:
    renewed = str(spec.get("renewTime") or spec.get("acquireTime") or "")
    if not renewed:
        return True
    try:
        when = datetime.datetime.strptime(renewed, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return True
    duration = float(str(spec.get("leaseDurationSeconds") or DURATION_SECONDS))
    age = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - when
    return age.total_seconds() > duration
