"""What the forge contract servers share: a threaded local HTTP server that records every
request, and the record of each one with the contract violations found in it.

A violation is a way in which a request breaks the forge's published contract (its OpenAPI
description or documented limits) or its rules of use (rate limits). Tests assert that none
happened; the server still answers each request as the forge would (an error status with the
forge's error body), so the client's error handling is exercised too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]  # lower-case names; credentials removed
    at: float
    status: int = 0
    violations: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ContractServer:
    """Subclasses implement `answer(request, raw_body, raw_headers) -> Reply`."""

    name = "forge"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ContractServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                reply = server.handle(self.command, self.path, dict(self.headers.items()), raw)
                payload = b"" if reply.body is None else (
                    reply.body if isinstance(reply.body, bytes) else orjson.dumps(reply.body))
                self.send_response(reply.status)
                if payload:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"{self.name}-contract-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- requests ----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        lowered = {k.lower(): v for k, v in headers.items()}
        body: Any = None
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
        shown = {k: ("***" if k in ("authorization", "private-token", "job-token") else v)
                 for k, v in lowered.items()}
        record = Recorded(method, parts.path, query, body, shown, time.time())
        with self.lock:
            self.requests.append(record)
            try:
                reply = self.answer(record, raw, lowered)
            except Exception as error:  # a bug of the server: visible, never silent
                record.violations.append(f"contract server error: {error!r}")
                reply = Reply(500, {"message": f"contract server error: {error!r}"})
            record.status = reply.status
        return reply

    def answer(self, request: Recorded, raw: bytes, headers: dict[str, str]) -> Reply:
        raise NotImplementedError

    # -- what tests read ---------------------------------------------------------------------

    @property
    def violations(self) -> list[str]:
        with self.lock:
            return [f"{r.method} {r.path}: {v}" for r in self.requests for v in r.violations]

    def writes(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")]

    def reset_requests(self) -> None:
        with self.lock:
            self.requests.clear()
