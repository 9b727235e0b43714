"""A small GitHub/GitLab issues server on 127.0.0.1 that records every request."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Forge:
    kind: str  # github | gitlab
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[str]] = field(default_factory=dict)
    fail_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def add_issue(self, **fields: Any) -> int:
        number = len(self.issues) + 1
        self.issues[number] = {"number": number, "iid": number, "state": "open", **fields}
        return number

    def calls(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]


def _handler(forge: Forge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            forge.requests.append(Recorded(self.command, parts.path, query,
                                           dict(self.headers.items()), body))
            if forge.fail_next:
                status, headers = forge.fail_next.pop(0)
                self._reply(status, {"message": "try again later"}, headers)
                return
            if parts.path.startswith("/hook/"):  # a webhook receiver
                status, payload = 200, {"ok": True}
            else:
                status, payload = (_github if forge.kind == "github" else _gitlab)(
                    forge, self.command, parts.path, query, body)
            self._reply(status, payload, {})

        def _reply(self, status: int, payload: Any, headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = _serve

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _github(forge: Forge, method: str, path: str, query: dict[str, str],
            body: Any) -> tuple[int, Any]:
    if not re.match(r"^/repos/[^/]+/[^/]+/issues", path):
        return 404, {"message": "Not Found"}
    tail = path.split("/issues", 1)[1]
    if method == "GET" and tail == "":
        found = [i for i in forge.issues.values() if i["state"] == query.get("state", "open")
                 and query.get("labels", "") in [lb["name"] for lb in i.get("labels", [])]]
        page, size = int(query.get("page", "1")), int(query.get("per_page", "30"))
        return 200, found[(page - 1) * size: page * size]
    if method == "POST" and tail == "":
        number = forge.add_issue(title=body["title"], body=body.get("body", ""),
                                 labels=[{"name": n} for n in body.get("labels", [])])
        return 201, forge.issues[number]
    match = re.match(r"^/(\d+)(/comments)?$", tail)
    if not match or int(match.group(1)) not in forge.issues:
        return 404, {"message": "Not Found"}
    issue = forge.issues[int(match.group(1))]
    if match.group(2) and method == "POST":
        forge.comments.setdefault(issue["number"], []).append(body["body"])
        return 201, {"id": 1, "body": body["body"]}
    if method == "PATCH":
        issue.update(body)
        return 200, issue
    return 405, {"message": "no"}


def _gitlab(forge: Forge, method: str, path: str, query: dict[str, str],
            body: Any) -> tuple[int, Any]:
    match = re.match(r"^/api/v4/projects/([^/]+)/issues(?:/(\d+))?(/notes)?$", path)
    if not match:
        return 404, {"message": "404 Not found"}
    iid = int(match.group(2)) if match.group(2) else None
    if iid is None and method == "GET":
        found = [i for i in forge.issues.values() if i["state"] == query.get("state")
                 and query.get("labels", "") in i.get("labels", [])]
        return 200, found
    if iid is None and method == "POST":
        number = forge.add_issue(title=body["title"], description=body["description"],
                                 labels=body["labels"].split(","), state="opened")
        return 201, forge.issues[number]
    if iid not in forge.issues:
        return 404, {"message": "404 Not found"}
    issue = forge.issues[iid]
    if match.group(3) and method == "POST":
        forge.comments.setdefault(iid, []).append(body["body"])
        return 201, {"id": 1, "body": body["body"]}
    if method == "PUT":
        if body.get("state_event") == "close":
            issue["state"] = "closed"
        issue.update({k: v for k, v in body.items() if k != "state_event"})
        return 200, issue
    return 405, {"message": "no"}


@contextmanager
def serve(kind: str) -> Iterator[Forge]:
    forge = Forge(kind)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(forge))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    forge.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield forge
    finally:
        server.shutdown()
        server.server_close()
