"""Waiting for applied objects to become healthy, with watches rather than polling.

Objects are grouped by REST collection (kind x namespace). Each group is listed once, then
watched from that list's resourceVersion, so a readiness change is seen the moment the API
server reports it (Flux polls every 2-5 s). Statuses follow kstatus (runner.health.status).
A Failed object ends the wait at once; otherwise the wait ends when every object is Current
or the timeout passes. While waiting, `progress` gets a line per still-pending object.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from runner.health.status import HealthOptions, Result, Status, compute, not_found
from runner.kube.client import ApiError, ApiUnavailable, KubeClient
from runner.kube.discovery import Resource, ResourceMapper
from runner.manifest import Manifest, ObjectKey

PROGRESS_EVERY_SECONDS = 5.0


@dataclass
class WaitResult:
    statuses: dict[ObjectKey, Result] = field(default_factory=dict)
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> dict[ObjectKey, Result]:
        return {k: r for k, r in self.statuses.items() if r.status == Status.FAILED}

    @property
    def pending(self) -> dict[ObjectKey, Result]:
        return {k: r for k, r in self.statuses.items()
                if r.status not in (Status.CURRENT, Status.FAILED)}

    @property
    def ok(self) -> bool:
        return all(r.status == Status.CURRENT for r in self.statuses.values())


@dataclass
class _Group:
    resource: Resource
    namespace: str
    keys: set[ObjectKey]


class HealthWaiter:
    """Waits on objects of one cluster; one instance per wait."""

    def __init__(self, client: KubeClient, mapper: ResourceMapper,
                 options: HealthOptions | None = None,
                 progress: Callable[[str], None] = lambda _line: None) -> None:
        self.client = client
        self.mapper = mapper
        self.options = options or HealthOptions()
        self.progress = progress
        self._changed = threading.Condition()
        self._result = WaitResult()
        self._stop = threading.Event()

    def wait(self, objects: dict[ObjectKey, str], timeout: float,
             observed: Mapping[ObjectKey, Manifest] | None = None) -> WaitResult:
        """Wait for `objects` (key -> apiVersion) for at most `timeout` seconds. Objects
        `observed` Current already (in the response of their apply) are not watched: most
        kinds are healthy once stored, and a collection nobody waits on costs no LIST."""
        started = time.monotonic()
        pending = dict(objects)
        for key, obj in (observed or {}).items():
            if key in pending:
                result = compute(obj, self.options)
                if result.status == Status.CURRENT:
                    self._result.statuses[key] = result
                    del pending[key]
        groups = self._groups(pending)
        threads = [threading.Thread(target=self._watch_group, args=(g,), daemon=True)
                   for g in groups]
        for thread in threads:
            thread.start()
        try:
            self._until_done(started, timeout)
        finally:
            self._stop.set()
        self._result.seconds = time.monotonic() - started
        return self._result

    def _groups(self, objects: dict[ObjectKey, str]) -> list[_Group]:
        groups: dict[tuple[Resource, str], _Group] = {}
        for key, api_version in objects.items():
            resource = self.mapper.resource_for(api_version, key.kind)
            namespace = key.namespace if resource.namespaced else ""
            group = groups.setdefault((resource, namespace), _Group(resource, namespace, set()))
            group.keys.add(key)
            self._result.statuses[key] = Result(Status.UNKNOWN, "not observed yet")
        return list(groups.values())

    def _until_done(self, started: float, timeout: float) -> None:
        last_report = started
        with self._changed:
            while True:
                if self._result.failed or not self._result.pending:
                    return
                now = time.monotonic()
                if now - started >= timeout:
                    self._result.timed_out = True
                    return
                if now - last_report >= PROGRESS_EVERY_SECONDS:
                    self._report(now - started)
                    last_report = now
                self._changed.wait(timeout=min(1.0, timeout - (now - started)))

    def _report(self, elapsed: float) -> None:
        for key, result in sorted(self._result.pending.items()):
            self.progress(f"{key} {result.message} ({elapsed:.0f}s)")

    def _watch_group(self, group: _Group) -> None:
        """List, then watch from the list's resourceVersion; relist when the watch expires."""
        collection = group.resource.collection_path(group.namespace or None)
        while not self._stop.is_set():
            try:
                version = self._list(group, collection)
                for event in self.client.watch(collection, {"resourceVersion": version},
                                               timeout_seconds=10):
                    if self._stop.is_set():
                        return
                    self._event(group, event)
            except ApiError as error:
                if error.status != 410:  # 410 Gone: the watch expired; list again
                    self._set_all(group, Result(Status.UNKNOWN, error.api_message))
                    time.sleep(1)
            except (ApiUnavailable, OSError):
                time.sleep(0.5)  # the API server is away; keep trying until the wait ends

    def _list(self, group: _Group, collection: str) -> str:
        listing = self.client.get(collection)
        items = [group.resource.identified(item) for item in listing.get("items", [])]
        seen = {ObjectKey.of(item): item for item in items}
        for key in group.keys:
            item = seen.get(key)
            self._set(key, self._status(key, item))
        return str(listing.get("metadata", {}).get("resourceVersion", ""))

    def _event(self, group: _Group, event: dict[str, object]) -> None:
        item = event.get("object")
        if not isinstance(item, dict) or event.get("type") == "BOOKMARK":
            return
        item = group.resource.identified(item)
        key = ObjectKey.of(item)
        if key in group.keys:
            gone = event.get("type") == "DELETED"
            self._set(key, self._status(key, None if gone else item))

    def _status(self, key: ObjectKey, item: dict[str, object] | None) -> Result:
        if item is not None:
            return compute(item, self.options)
        if key.kind == "Job":
            # A finished Job with ttlSecondsAfterFinished may already be gone: that is done.
            return Result(Status.CURRENT, "Job is gone (ttlSecondsAfterFinished)")
        return not_found(key.kind, key.name)

    def _set(self, key: ObjectKey, result: Result) -> None:
        with self._changed:
            self._result.statuses[key] = result
            self._changed.notify_all()

    def _set_all(self, group: _Group, result: Result) -> None:
        for key in group.keys:
            self._set(key, result)
