"""A local GitHub REST API for contract tests, checked against GitHub's own OpenAPI
description (npm `@octokit/openapi`, api.github.com.json) with openapi-core.

Every request is validated (operation, path and query parameters, body); so is every answer
this server gives (so it answers in GitHub's shapes). On top of the description it enforces
what GitHub enforces but does not describe: commit status descriptions of at most 140
characters, comment bodies of at most 65,536 characters, at most 50 check run annotations
a request and summaries of at most 65,535 bytes, a User-Agent, authentication, token
permissions (read-only tokens, classic tokens without check runs), at most 80 content-creating
requests a minute, and waiting as told after a rate-limited answer (`retry-after`,
`x-ratelimit-reset`).

State: commit statuses, issue (pull request) comments and check runs, enough to answer like
GitHub. Tests read `statuses`, `comments`, `check_runs` and `requests`.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from tests.forges.contract import ContractServer, Recorded, Reply

API_BASE = "https://api.github.com"
DESCRIPTION_LIMIT = 140
COMMENT_LIMIT = 65_536
ANNOTATIONS_LIMIT = 50
SUMMARY_BYTES = 65_535
WRITES_PER_MINUTE = 80
_SPECS: dict[Path, OpenAPI] = {}


@dataclass(frozen=True)
class Token:
    kind: str = "app"  # app (GITHUB_TOKEN, GitHub App) | classic (personal access token)
    write: bool = True  # False: a fork's pull request gets a read-only token


def load_spec(path: Path) -> OpenAPI:
    """The OpenAPI object for GitHub's description (parsed once per process: 13 MB)."""
    if path not in _SPECS:
        from openapi_core import Config

        _SPECS[path] = OpenAPI.from_dict(orjson.loads(path.read_bytes()),
                                         config=Config(spec_validator_cls=None))
    return _SPECS[path]


class GitHubServer(ContractServer):
    name = "github"

    def __init__(self, spec_path: Path, tokens: dict[str, Token],
                 repositories: frozenset[str] | None = None) -> None:
        super().__init__()
        self.api = load_spec(spec_path)
        self.tokens = tokens
        self.repositories = repositories  # None: any owner/name exists
        self.statuses: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.check_runs: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1001)
        self._limited: list[tuple[str, Callable[[Recorded], bool], dict[str, str], int]] = []
        self._not_before: dict[str, tuple[float, str]] = {}  # token -> (time, why)
        self._write_times: list[float] = []

    # -- what tests ask for ------------------------------------------------------------------

    def rate_limit_next(self, match: Callable[[Recorded], bool], headers: dict[str, str],
                        status: int = 403) -> None:
        """Answer the next request that `match`es with a rate-limit error and these headers
        (e.g. {"retry-after": "2"}); the client must then wait as told."""
        with self.lock:
            self._limited.append(("rate", match, headers, status))

    def sticky_comments(self, repo: str, number: int, marker: str) -> list[dict[str, Any]]:
        return [c for c in self.comments.get((repo, number), []) if marker in c["body"]]

    # -- the contract ------------------------------------------------------------------------

    def answer(self, request: Recorded, raw: bytes, headers: dict[str, str]) -> Reply:
        wz_request = self._werkzeug_request(request, raw, headers)
        try:
            self.api.validate_request(wz_request)
        except (PathNotFound, OperationNotFound) as error:
            request.violations.append(f"not an operation of GitHub's API: {error}")
            return Reply(404, {"message": "Not Found",
                               "documentation_url": "https://docs.github.com/rest"})
        except Exception as error:
            cause = f"{error}; {error.__cause__}" if error.__cause__ else str(error)
            request.violations.append(f"does not match GitHub's OpenAPI description: {cause}")
            return Reply(422, {"message": "Invalid request.", "status": "422",
                               "documentation_url": "https://docs.github.com/rest"})
        reply = self._answer(request, headers)
        self._check_response(wz_request, reply, request)
        return reply

    def _werkzeug_request(self, request: Recorded, raw: bytes,
                          headers: dict[str, str]) -> WerkzeugOpenAPIRequest:
        query = "&".join(f"{k}={v}" for k, v in request.query.items())
        builder = EnvironBuilder(method=request.method, path=request.path, base_url=API_BASE,
                                 query_string=query, data=raw or None,
                                 headers={k: v for k, v in headers.items()
                                          if k not in ("content-length", "host")})
        return WerkzeugOpenAPIRequest(Request(builder.get_environ()))

    def _check_response(self, wz_request: WerkzeugOpenAPIRequest, reply: Reply,
                        request: Recorded) -> None:
        if reply.status >= 400:
            return  # error bodies are GitHub's generic {message, documentation_url}
        body = b"" if reply.body is None else orjson.dumps(reply.body)
        response = Response(body, status=reply.status, headers=reply.headers,
                            content_type="application/json; charset=utf-8" if body else None)
        try:
            self.api.validate_response(wz_request, WerkzeugOpenAPIResponse(response))
        except Exception as error:
            cause = f"{error}; {error.__cause__}" if error.__cause__ else str(error)
            request.violations.append(f"contract server answered off-spec: {cause[:2000]}")

    def _answer(self, request: Recorded, headers: dict[str, str]) -> Reply:
        if not headers.get("user-agent"):
            request.violations.append("no User-Agent header (GitHub refuses such requests)")
            return Reply(403, {"message": "Request forbidden by administrative rules. Please "
                                          "make sure your request has a User-Agent header"})
        auth = headers.get("authorization", "")
        match = re.fullmatch(r"(?:Bearer|token) (\S+)", auth)
        token_text = match.group(1) if match else ""
        token = self.tokens.get(token_text)
        if token is None:
            return Reply(401, {"message": "Bad credentials" if token_text else
                               "Requires authentication",
                               "documentation_url": "https://docs.github.com/rest"})
        now = time.time()
        waited = self._not_before.pop(token_text, None)
        if waited and now < waited[0]:
            request.violations.append(f"retried {waited[0] - now:.2f}s too early after {waited[1]}")
        for index, (_, matcher, limit_headers, status) in enumerate(self._limited):
            if matcher(request):
                del self._limited[index]
                self._remember_limit(token_text, limit_headers, now)
                return Reply(status, {"message": "API rate limit exceeded for installation.",
                                      "documentation_url": "https://docs.github.com/rest/"
                                                           "overview/rate-limits-for-the-rest-api"},
                             limit_headers)
        write = request.method in ("POST", "PATCH", "PUT", "DELETE")
        if write:
            self._write_times = [t for t in self._write_times if now - t < 60] + [now]
            if len(self._write_times) > WRITES_PER_MINUTE:
                request.violations.append("more than 80 content-creating requests in a minute")
                return Reply(403, {"message": "You have exceeded a secondary rate limit."},
                             {"retry-after": "60"})
            if not token.write:
                return Reply(403, {"message": "Resource not accessible by integration",
                                   "documentation_url": "https://docs.github.com/rest",
                                   "status": "403"})
        return self._route(request, token)

    def _remember_limit(self, token: str, headers: dict[str, str], now: float) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        if "retry-after" in lowered:
            self._not_before[token] = (now + float(lowered["retry-after"]), "retry-after")
        elif lowered.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in lowered:
            self._not_before[token] = (float(lowered["x-ratelimit-reset"]), "x-ratelimit-reset")

    def _route(self, request: Recorded, token: Token) -> Reply:
        path, method = request.path, request.method
        repo_match = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)$", path)
        if not repo_match:
            return self._unmodelled(request)
        repo = f"{repo_match.group(1)}/{repo_match.group(2)}"
        rest = repo_match.group(3)
        if self.repositories is not None and repo not in self.repositories:
            return Reply(404, {"message": "Not Found",
                               "documentation_url": "https://docs.github.com/rest"})
        if method == "POST" and (m := re.fullmatch(r"/statuses/([^/]+)", rest)):
            return self._create_status(request, repo, m.group(1))
        if (m := re.fullmatch(r"/issues/(\d+)/comments", rest)):
            if method == "GET":
                return self._list_comments(request, repo, int(m.group(1)))
            if method == "POST":
                return self._create_comment(request, repo, int(m.group(1)))
        if (m := re.fullmatch(r"/issues/comments/(\d+)", rest)):
            return self._comment(request, repo, int(m.group(1)))
        if rest == "/check-runs" and method == "POST":
            return self._create_check_run(request, repo, token)
        if (m := re.fullmatch(r"/check-runs/(\d+)", rest)) and method == "PATCH":
            return self._update_check_run(request, repo, int(m.group(1)), token)
        return self._unmodelled(request)

    @staticmethod
    def _unmodelled(request: Recorded) -> Reply:
        request.violations.append("a valid GitHub operation that this contract server does not "
                                  "model (the runner should not need it)")
        return Reply(404, {"message": "Not Found"})

    @staticmethod
    def _invalid(request: Recorded, resource: str, field: str, message: str) -> Reply:
        request.violations.append(f"{resource}.{field}: {message}")
        return Reply(422, {"message": "Validation Failed",
                           "errors": [{"resource": resource, "code": "custom", "field": field,
                                       "message": message}],
                           "documentation_url": "https://docs.github.com/rest"})

    # -- statuses ----------------------------------------------------------------------------

    def _create_status(self, request: Recorded, repo: str, sha: str) -> Reply:
        body = request.body or {}
        description = body.get("description") or ""
        if len(description) > DESCRIPTION_LIMIT:
            return self._invalid(request, "Status", "description",
                                 f"description is too long (maximum is {DESCRIPTION_LIMIT} "
                                 "characters)")
        if not re.fullmatch(r"[0-9a-f]{40}", sha):
            return Reply(422, {"message": f"No commit found for SHA: {sha}"})
        status_id = next(self._ids)
        now = _now()
        status = {
            "url": f"{API_BASE}/repos/{repo}/statuses/{sha}", "avatar_url": None,
            "id": status_id, "node_id": f"SC_{status_id}", "state": body["state"],
            "description": description or None, "target_url": body.get("target_url"),
            "context": body.get("context") or "default", "created_at": now, "updated_at": now,
            "creator": _user("github-actions[bot]", 41898282, "Bot")}
        self.statuses.setdefault((repo, sha), []).append(status)
        return Reply(201, status, {"location": status["url"]})

    # -- comments ----------------------------------------------------------------------------

    def _list_comments(self, request: Recorded, repo: str, number: int) -> Reply:
        per_page = int(request.query.get("per_page", "30"))
        page = int(request.query.get("page", "1"))
        if per_page > 100:
            request.violations.append("per_page above 100")
        items = self.comments.get((repo, number), [])
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            base = f"{self.url}/repos/{repo}/issues/{number}/comments"
            headers["link"] = (f'<{base}?per_page={per_page}&page={page + 1}>; rel="next", '
                               f'<{base}?per_page={per_page}&page='
                               f'{(len(items) + per_page - 1) // per_page}>; rel="last"')
        return Reply(200, chunk, headers)

    def _create_comment(self, request: Recorded, repo: str, number: int) -> Reply:
        text = (request.body or {}).get("body", "")
        if len(text) > COMMENT_LIMIT:
            return self._invalid(request, "IssueComment", "body",
                                 f"body is too long (maximum is {COMMENT_LIMIT} characters)")
        comment_id = next(self._ids)
        now = _now()
        item = {
            "id": comment_id, "node_id": f"IC_{comment_id}",
            "url": f"{API_BASE}/repos/{repo}/issues/comments/{comment_id}",
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
            "body": text, "user": _user("github-actions[bot]", 41898282, "Bot"),
            "created_at": now, "updated_at": now,
            "issue_url": f"{API_BASE}/repos/{repo}/issues/{number}",
            "author_association": "NONE"}
        self.comments.setdefault((repo, number), []).append(item)
        return Reply(201, item, {"location": item["url"]})

    def _comment(self, request: Recorded, repo: str, comment_id: int) -> Reply:
        for (owner_repo, _number), items in self.comments.items():
            for item in items:
                if owner_repo == repo and item["id"] == comment_id:
                    if request.method == "GET":
                        return Reply(200, item)
                    if request.method == "DELETE":
                        items.remove(item)
                        return Reply(204)
                    if request.method == "PATCH":
                        text = (request.body or {}).get("body", "")
                        if len(text) > COMMENT_LIMIT:
                            return self._invalid(request, "IssueComment", "body",
                                                 f"body is too long (maximum is {COMMENT_LIMIT} "
                                                 "characters)")
                        item["body"] = text
                        item["updated_at"] = _now()
                        return Reply(200, item)
        return Reply(404, {"message": "Not Found"})

    # -- check runs --------------------------------------------------------------------------

    def _check_output(self, request: Recorded, output: dict[str, Any] | None) -> Reply | None:
        if not output:
            return None
        annotations = output.get("annotations") or []
        if len(annotations) > ANNOTATIONS_LIMIT:
            return self._invalid(request, "CheckRun", "annotations",
                                 f"at most {ANNOTATIONS_LIMIT} annotations per request")
        for name in ("summary", "text"):
            if len((output.get(name) or "").encode()) > SUMMARY_BYTES:
                return self._invalid(request, "CheckRun", name,
                                     f"{name} is too long (maximum is {SUMMARY_BYTES} bytes)")
        return None

    def _create_check_run(self, request: Recorded, repo: str, token: Token) -> Reply:
        if token.kind != "app":
            return Reply(403, {"message": "You must authenticate via a GitHub App.",
                               "documentation_url": "https://docs.github.com/rest/checks/runs"})
        body = request.body or {}
        error = self._check_output(request, body.get("output"))
        if error:
            return error
        run_id = next(self._ids)
        output = body.get("output") or {}
        run = {
            "id": run_id, "head_sha": body["head_sha"], "node_id": f"CR_{run_id}",
            "external_id": body.get("external_id", ""),
            "url": f"{API_BASE}/repos/{repo}/check-runs/{run_id}",
            "html_url": f"https://github.com/{repo}/runs/{run_id}",
            "details_url": body.get("details_url"), "status": body.get("status", "queued"),
            "conclusion": body.get("conclusion"), "started_at": _now(),
            "completed_at": _now() if body.get("conclusion") else None,
            "output": {"title": output.get("title"), "summary": output.get("summary"),
                       "text": output.get("text"),
                       "annotations_count": len(output.get("annotations") or []),
                       "annotations_url": f"{API_BASE}/repos/{repo}/check-runs/{run_id}/"
                                          "annotations"},
            "name": body["name"], "check_suite": {"id": 5}, "app": None, "pull_requests": [],
            "repository": repo, "annotations": list(output.get("annotations") or [])}
        self.check_runs[run_id] = run
        return Reply(201, _public_run(run))

    def _update_check_run(self, request: Recorded, repo: str, run_id: int,
                          token: Token) -> Reply:
        if token.kind != "app":
            return Reply(403, {"message": "You must authenticate via a GitHub App."})
        run = self.check_runs.get(run_id)
        if run is None or run["repository"] != repo:
            return Reply(404, {"message": "Not Found"})
        output = (request.body or {}).get("output")
        error = self._check_output(request, output)
        if error:
            return error
        if output:
            run["annotations"].extend(output.get("annotations") or [])  # appended, as GitHub
            run["output"].update({k: output[k] for k in ("title", "summary", "text")
                                  if k in output})
            run["output"]["annotations_count"] = len(run["annotations"])
        return Reply(200, _public_run(run))


def _public_run(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k not in ("repository", "annotations")}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _user(login: str, user_id: int, kind: str = "User") -> dict[str, Any]:
    base = f"{API_BASE}/users/{login}"
    return {
        "login": login, "id": user_id, "node_id": f"U_{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}", "gravatar_id": "",
        "url": base, "html_url": f"https://github.com/{login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions", "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos", "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events", "type": kind, "site_admin": False}
