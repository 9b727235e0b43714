"""A small, fast, thread-safe Kubernetes REST client.

Only what the runner needs: JSON requests, server-side apply patches, deletes with
preconditions, and watches. One connection pool is shared by every thread, so dry-runs and
applies can run concurrently without a client per thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import orjson
import urllib3

from runner.errors import RunnerError
from runner.kube.config import ClusterConfig

JSON = dict[str, Any]
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
RETRIED_STATUSES = frozenset({429, 502, 503, 504})


class ApiError(RunnerError):
    """The API server answered with an error status."""

    def __init__(self, method: str, path: str, status: int, body: JSON) -> None:
        self.status = status
        self.reason = str(body.get("reason", ""))
        self.details: JSON = body.get("details") or {}
        self.api_message = str(body.get("message", "")) or f"HTTP {status}"
        super().__init__(f"{method} {path}: {self.api_message}", _hint_for(status))

    @property
    def causes(self) -> list[JSON]:
        causes: list[JSON] = self.details.get("causes") or []
        return causes


class ApiUnavailable(RunnerError):
    """The API server could not be reached at all."""


def _hint_for(status: int) -> str:
    if status == 401:
        return "the credentials in the kubeconfig were refused; refresh them"
    if status == 403:
        return "the identity in the kubeconfig lacks RBAC rights for this; grant them"
    return ""


class KubeClient:
    """Requests to one API server. Paths are absolute (`/api/v1/namespaces`)."""

    def __init__(self, config: ClusterConfig, pool_size: int = 16, timeout: float = 30.0) -> None:
        self.config = config
        self.request_count = 0
        self._timeout = timeout
        self._headers = {"Accept": "application/json", "User-Agent": "gitops-runner"}
        if config.token:
            self._headers["Authorization"] = f"Bearer {config.token}"
        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if config.verify_tls else "CERT_NONE",
                               "ca_certs": config.ca_file, "cert_file": config.client_cert_file,
                               "key_file": config.client_key_file}
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=pool_size, block=True,
                                         retries=False, **tls)
        # Watches hold a connection for their whole life: never let them starve requests.
        self._watch_pool = urllib3.PoolManager(num_pools=4, maxsize=64, block=False,
                                               retries=False, **tls)

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                body: object = None, content_type: str = "application/json",
                accept: str | None = None, attempts: int = 3) -> JSON:
        """Send one request and return its decoded JSON body; raise ApiError on >= 400."""
        url = self._url(path, params)
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = content_type
        for attempt in range(1, attempts + 1):
            response = self._send(method, url, data, headers, path)
            if response.status in RETRIED_STATUSES and attempt < attempts:
                time.sleep(_retry_delay(response, attempt))
                continue
            return self._decode(method, path, response)
        raise AssertionError("unreachable")

    def get(self, path: str, **params: str) -> JSON:
        return self.request("GET", path, params=params)

    def list_items(self, path: str, params: Mapping[str, str] | None = None,
                   page_size: int = 500) -> list[JSON]:
        """Every item of a collection, page by page. Items carry no kind/apiVersion (see
        discovery.Resource.identified)."""
        items: list[JSON] = []
        query = {**(params or {}), "limit": str(page_size)}
        while True:
            page = self.request("GET", path, params=query)
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    def get_or_none(self, path: str) -> JSON | None:
        try:
            return self.get(path)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def apply(self, path: str, manifest: JSON, field_manager: str, *, dry_run: bool = False,
              force: bool = True) -> JSON:
        """Server-side apply `manifest` at `path` (the object's own URL)."""
        params = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        return self.request("PATCH", path, params=params, body=manifest,
                            content_type=APPLY_PATCH)

    def delete(self, path: str, *, uid: str | None = None,
               propagation: str = "Background") -> JSON:
        body: JSON = {"kind": "DeleteOptions", "apiVersion": "v1",
                      "propagationPolicy": propagation}
        if uid:
            body["preconditions"] = {"uid": uid}
        return self.request("DELETE", path, body=body)

    def watch(self, path: str, params: Mapping[str, str] | None = None,
              timeout_seconds: int = 60) -> Iterator[JSON]:
        """Yield watch events ({type, object}) for a collection until the server closes it.
        A dropped connection raises ApiUnavailable, like any other request."""
        query = {**(params or {}), "watch": "1", "timeoutSeconds": str(timeout_seconds),
                 "allowWatchBookmarks": "true"}
        timeout = urllib3.Timeout(connect=10, read=timeout_seconds + 10)
        self.request_count += 1
        try:
            response = self._watch_pool.request("GET", self._url(path, query),
                                                headers=self._headers, preload_content=False,
                                                timeout=timeout)
            try:
                if response.status >= 400:
                    raise ApiError("WATCH", path, response.status, _loads(response.read()))
                yield from _events(response)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as error:
            raise ApiUnavailable(f"watch of {path} on {self.config.server} broke: {error}",
                                 "check that the cluster is up") from error

    def close(self) -> None:
        self._pool.clear()
        self._watch_pool.clear()

    def _url(self, path: str, params: Mapping[str, str] | None) -> str:
        url = self.config.server + path
        return f"{url}?{urlencode(params)}" if params else url

    def _send(self, method: str, url: str, data: bytes | None, headers: dict[str, str],
              path: str) -> urllib3.BaseHTTPResponse:
        self.request_count += 1
        try:
            return self._pool.request(method, url, body=data, headers=headers,
                                      timeout=self._timeout)
        except urllib3.exceptions.HTTPError as error:
            raise ApiUnavailable(
                f"cannot reach the API server at {self.config.server} ({method} {path}): "
                f"{error}",
                "check that the cluster is up and the kubeconfig points at it",
            ) from error

    @staticmethod
    def _decode(method: str, path: str, response: urllib3.BaseHTTPResponse) -> JSON:
        body = _loads(response.data)
        if response.status >= 400:
            raise ApiError(method, path, response.status, body)
        return body


def _events(response: urllib3.BaseHTTPResponse) -> Iterator[JSON]:
    buffer = b""
    for chunk in response.stream(65536):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                yield orjson.loads(line)


def _loads(data: bytes) -> JSON:
    if not data:
        return {}
    try:
        loaded = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {"message": data[:500].decode(errors="replace")}
    return loaded if isinstance(loaded, dict) else {"items": loaded}


def _retry_delay(response: urllib3.BaseHTTPResponse, attempt: int) -> float:
    retry_after = str(response.headers.get("Retry-After", ""))
    if retry_after.isdigit():
        return min(float(retry_after), 10.0)
    return 0.2 * float(1 << attempt)
