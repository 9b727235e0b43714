"""A local GitLab REST API (v4) for contract tests: commit statuses and merge request notes.

GitLab publishes no complete machine-readable description of these endpoints: its OpenAPI
file (doc/api/openapi/openapi_v2.yaml in GitLab's repository) is partial and is shipped by no
npm or PyPI package, and client packages on both registries carry no schema. So the request
shapes are encoded here from GitLab's API documentation (api/commits.md "Set the pipeline
status of a commit", api/notes.md "Merge requests"), strictly: every documented parameter
with its type and allowed values, unknown parameters rejected (GitLab ignores them; a client
sending them is wrong about the contract), required ones enforced, and GitLab's answers
(status codes, error bodies, pagination headers) reproduced.

Rules checked besides shapes: a `PRIVATE-TOKEN` (or OAuth bearer) access token with the
`api` scope; `JOB-TOKEN` (CI_JOB_TOKEN) is refused for these endpoints; commit statuses carry
`pipeline_id` when the job knows it (else GitLab creates a separate external pipeline); note
bodies of at most 1,000,000 characters; `per_page` at most 100; waiting after a 429 as
`retry-after` says.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from tests.forges.contract import ContractServer, Recorded, Reply

NOTE_LIMIT = 1_000_000
STATUS_STATES = ("pending", "running", "success", "failed", "canceled", "skipped")

# name -> (type, required); types: str, int, float, bool, enum tuple
STATUS_PARAMS: dict[str, tuple[Any, bool]] = {
    "state": (STATUS_STATES, True), "ref": (str, False), "name": (str, False),
    "context": (str, False), "target_url": (str, False), "description": (str, False),
    "coverage": (float, False), "pipeline_id": (int, False)}
NOTE_CREATE_PARAMS: dict[str, tuple[Any, bool]] = {
    "body": (str, True), "created_at": (str, False), "internal": (bool, False),
    "merge_request_diff_head_sha": (str, False)}
NOTE_UPDATE_PARAMS: dict[str, tuple[Any, bool]] = {"body": (str, True)}
NOTES_LIST_PARAMS: dict[str, tuple[Any, bool]] = {
    "sort": (("asc", "desc"), False), "order_by": (("created_at", "updated_at"), False),
    "page": (int, False), "per_page": (int, False)}


@dataclass(frozen=True)
class Token:
    scopes: tuple[str, ...] = ("api",)


class GitLabServer(ContractServer):
    name = "gitlab"

    def __init__(self, tokens: dict[str, Token], projects: dict[str, int] | None = None,
                 merge_requests: tuple[int, ...] = (1,)) -> None:
        super().__init__()
        self.tokens = tokens
        self.projects = projects or {"1": 1}  # id or url-encoded path -> numeric id
        self.merge_requests = set(merge_requests)
        self.statuses: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self.notes: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self._ids = itertools.count(5001)
        self._conflicts: list[Callable[[Recorded], bool]] = []
        self._limited: list[tuple[Callable[[Recorded], bool], str]] = []
        self._not_before: float = 0.0

    def conflict_next(self, match: Callable[[Recorded], bool]) -> None:
        """Answer the next matching request with 409 (another status update in progress)."""
        with self.lock:
            self._conflicts.append(match)

    def rate_limit_next(self, match: Callable[[Recorded], bool], retry_after: str) -> None:
        with self.lock:
            self._limited.append((match, retry_after))

    def sticky_notes(self, project: int, iid: int, marker: str) -> list[dict[str, Any]]:
        return [n for n in self.notes.get((project, iid), []) if marker in n["body"]]

    # -- the contract ------------------------------------------------------------------------

    def answer(self, request: Recorded, raw: bytes, headers: dict[str, str]) -> Reply:
        match = re.fullmatch(r"/api/v4/projects/([^/]+)(/.*)", request.path)
        if not match:
            request.violations.append("not an endpoint the runner should call")
            return Reply(404, {"error": "404 Not Found"})
        if "job-token" in headers and not headers.get("private-token"):
            request.violations.append("CI_JOB_TOKEN used for an endpoint it may not call")
            return Reply(401, {"message": "401 Unauthorized"})
        token_text = headers.get("private-token") or re.sub(
            r"^Bearer ", "", headers.get("authorization", ""))
        token = self.tokens.get(token_text)
        if token is None:
            return Reply(401, {"message": "401 Unauthorized"})
        if request.method != "GET" and "api" not in token.scopes:
            return Reply(403, {"error": "insufficient_scope",
                               "error_description": "The request requires higher privileges "
                                                    "than provided by the access token.",
                               "scope": "api"})
        now = time.time()
        if self._not_before and now < self._not_before:
            request.violations.append(f"retried {self._not_before - now:.2f}s too early after "
                                      "retry-after")
        self._not_before = 0.0
        for index, (matcher, retry_after) in enumerate(self._limited):
            if matcher(request):
                del self._limited[index]
                self._not_before = now + float(retry_after)
                return Reply(429, "Retry later", {"retry-after": retry_after,
                                                   "ratelimit-remaining": "0"})
        project = self.projects.get(unquote(match.group(1)))
        if project is None:
            return Reply(404, {"message": "404 Project Not Found"})
        rest = match.group(2)
        params = self._params(request)
        if params is None:
            return Reply(400, {"error": "body is not JSON"})
        if request.method == "POST" and (m := re.fullmatch(r"/statuses/([^/]+)", rest)):
            return self._create_status(request, project, m.group(1), params)
        if (m := re.fullmatch(r"/merge_requests/(\d+)/notes", rest)):
            iid = int(m.group(1))
            if iid not in self.merge_requests:
                return Reply(404, {"message": "404 Merge Request Not Found"})
            if request.method == "GET":
                return self._list_notes(request, project, iid, params)
            if request.method == "POST":
                return self._create_note(request, project, iid, params)
        if (m := re.fullmatch(r"/merge_requests/(\d+)/notes/(\d+)", rest)):
            return self._note(request, project, int(m.group(1)), int(m.group(2)), params)
        request.violations.append("not an endpoint the runner should call")
        return Reply(404, {"error": "404 Not Found"})

    @staticmethod
    def _params(request: Recorded) -> dict[str, Any] | None:
        """Grape merges query string and body parameters."""
        params: dict[str, Any] = dict(request.query)
        if isinstance(request.body, dict):
            params.update(request.body)
        elif request.body not in (None, ""):
            return None
        return params

    @staticmethod
    def _check(request: Recorded, params: dict[str, Any],
               spec: dict[str, tuple[Any, bool]]) -> Reply | None:
        problems = []
        for name, value in params.items():
            if name not in spec:
                problems.append(f"{name} is not a parameter of this endpoint")
                continue
            kind = spec[name][0]
            if isinstance(kind, tuple):
                if value not in kind:
                    problems.append(f"{name} does not have a valid value")
            elif not _type_ok(kind, value):
                problems.append(f"{name} is invalid")
        for name, (_, required) in spec.items():
            if required and name not in params:
                problems.append(f"{name} is missing")
        if problems:
            request.violations.extend(problems)
            return Reply(400, {"error": ", ".join(problems)})
        return None

    # -- statuses ----------------------------------------------------------------------------

    def _create_status(self, request: Recorded, project: int, sha: str,
                       params: dict[str, Any]) -> Reply:
        error = self._check(request, params, STATUS_PARAMS)
        if error:
            return error
        if not re.fullmatch(r"[0-9a-f]{40}", sha):
            return Reply(404, {"message": "404 Commit Not Found"})
        if "pipeline_id" not in params:
            request.violations.append("no pipeline_id: GitLab would create a separate "
                                      "external pipeline for this status")
        for matcher in list(self._conflicts):
            if matcher(request):
                self._conflicts.remove(matcher)
                return Reply(409, {"message": "Cannot transition status via :run from "
                                              ":running (Reason(s): Status cannot transition "
                                              "via \"run\")"})
        status_id = next(self._ids)
        now = _now()
        status = {"id": status_id, "sha": sha, "ref": params.get("ref", "main"),
                  "status": params["state"],
                  "name": params.get("name") or params.get("context") or "default",
                  "target_url": params.get("target_url"),
                  "description": params.get("description"), "created_at": now,
                  "started_at": now, "finished_at": now, "allow_failure": False,
                  "coverage": params.get("coverage"),
                  "pipeline_id": int(params["pipeline_id"]) if "pipeline_id" in params else None,
                  "author": _user()}
        self.statuses.setdefault((project, sha), []).append(status)
        return Reply(201, status)

    # -- notes -------------------------------------------------------------------------------

    def _list_notes(self, request: Recorded, project: int, iid: int,
                    params: dict[str, Any]) -> Reply:
        error = self._check(request, params, NOTES_LIST_PARAMS)
        if error:
            return error
        per_page = int(params.get("per_page", 20))
        page = int(params.get("page", 1))
        if per_page > 100:
            request.violations.append("per_page above 100 (GitLab caps it)")
            per_page = 100
        items = list(self.notes.get((project, iid), []))
        if params.get("sort", "desc") == "desc":
            items.reverse()
        pages = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {"x-page": str(page), "x-per-page": str(per_page),
                   "x-total": str(len(items)), "x-total-pages": str(pages),
                   "x-next-page": str(page + 1) if page < pages else "",
                   "x-prev-page": str(page - 1) if page > 1 else ""}
        return Reply(200, chunk, headers)

    def _create_note(self, request: Recorded, project: int, iid: int,
                     params: dict[str, Any]) -> Reply:
        error = self._check(request, params, NOTE_CREATE_PARAMS)
        if error:
            return error
        if len(params["body"]) > NOTE_LIMIT:
            request.violations.append("note body over 1,000,000 characters")
            return Reply(400, {"message": {"note": ["is too long (maximum is 1000000 "
                                                    "characters)"]}})
        note_id = next(self._ids)
        now = _now()
        note = {"id": note_id, "type": None, "body": params["body"], "attachment": None,
                "author": _user(), "created_at": now, "updated_at": now, "system": False,
                "noteable_id": 100 + iid, "noteable_type": "MergeRequest",
                "project_id": project, "resolvable": False, "confidential": False,
                "internal": bool(params.get("internal", False)), "noteable_iid": iid,
                "commands_changes": {}}
        self.notes.setdefault((project, iid), []).append(note)
        return Reply(201, note)

    def _note(self, request: Recorded, project: int, iid: int, note_id: int,
              params: dict[str, Any]) -> Reply:
        items = self.notes.get((project, iid), [])
        note = next((n for n in items if n["id"] == note_id), None)
        if note is None:
            return Reply(404, {"message": "404 Not found"})
        if request.method == "GET":
            return Reply(200, note)
        if request.method == "DELETE":
            items.remove(note)
            return Reply(204)
        if request.method == "PUT":
            error = self._check(request, params, NOTE_UPDATE_PARAMS)
            if error:
                return error
            if len(params["body"]) > NOTE_LIMIT:
                request.violations.append("note body over 1,000,000 characters")
                return Reply(400, {"message": {"note": ["is too long"]}})
            note["body"] = params["body"]
            note["updated_at"] = _now()
            return Reply(200, note)
        request.violations.append(f"{request.method} is not a method of this endpoint")
        return Reply(405, {"error": "405 Not Allowed"})


def _type_ok(kind: Any, value: Any) -> bool:
    """Grape's coercion: JSON values, or strings that parse as the type."""
    if kind is int:
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.isdigit())
    if kind is float:
        return isinstance(value, int | float | str) and not isinstance(value, bool)
    if kind is bool:
        return isinstance(value, bool) or value in ("true", "false")
    return isinstance(value, str)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _user() -> dict[str, Any]:
    return {"id": 77, "username": "project_1_bot", "name": "gitops-runner bot",
            "state": "active", "avatar_url": "https://gitlab.example/avatar.png",
            "web_url": "https://gitlab.example/project_1_bot"}
