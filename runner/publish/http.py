"""HTTP for the forge APIs: JSON in and out, rate limits honoured, bounded retries, and
tokens that never reach a log line or an error message.

Rules (GitHub's and GitLab's documented behaviour):
- 429, or 403 with a rate-limit signal: wait `retry-after` seconds if given; else, when
  `x-ratelimit-remaining` is 0, until `x-ratelimit-reset` (epoch seconds; GitLab sends
  `ratelimit-reset`); else back off exponentially from one minute (GitHub's advice for
  secondary limits).
- 5xx and connection errors: exponential back-off from one second.
- 409 on GitLab commit statuses (another update in progress): retried like a 5xx.
- At most `max_attempts` tries and `max_wait` seconds of waiting in all; a wait longer than
  what is left fails at once with the reason, rather than hanging a CI job.
- Content-creating requests (POST/PATCH/PUT/DELETE) are spaced to at most
  `writes_per_minute` (GitHub's secondary limit is 80 a minute).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3

from runner import __version__
from runner.errors import RunnerError

USER_AGENT = f"gitops-runner/{__version__}"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_SECRETISH = re.compile(r"(gh[pousr]_[A-Za-z0-9_]{10,}|github_pat_[A-Za-z0-9_]{10,}|"
                        r"glpat-[A-Za-z0-9_\-]{10,}|glcbt-[A-Za-z0-9_\-]{10,})")


class HttpError(RunnerError):
    """A forge API request failed (after retries). `status` is 0 for a connection error."""

    def __init__(self, method: str, url: str, status: int, body: Any, message: str = "",
                 hint: str = "") -> None:
        self.method = method
        self.url = redact_url(url)
        self.status = status
        self.body = body
        detail = message or _message_of(body)
        what = f"{method} {self.url}"
        text = (f"{what} failed: HTTP {status}" if status else f"{what} failed") + (
            f": {detail}" if detail else "")
        super().__init__(redact(text), hint)


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        parts = [str(body.get("message") or body.get("error") or "")]
        errors = body.get("errors")
        if errors:
            parts.append(str(errors))
        return redact(" ".join(p for p in parts if p))[:500]
    if isinstance(body, str):
        return redact(body.strip())[:500]
    return ""


def redact(text: str) -> str:
    """Text with anything that looks like a GitHub or GitLab token replaced."""
    return _SECRETISH.sub("***", text)


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # never print user:password@
    return redact(f"{parts.scheme}://{netloc}{parts.path}")


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or text

    def header(self, name: str) -> str:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return ""


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    max_wait: float = 300.0  # seconds of waiting in all, across retries
    base_backoff: float = 1.0  # 5xx / connection errors
    secondary_backoff: float = 60.0  # rate limited without a reset time
    writes_per_minute: int = 80


@dataclass
class HttpClient:
    """A JSON client for one API base URL. `auth` holds the auth headers; they are sent but
    never printed. `sleep`/`clock` are injectable so tests run without waiting."""

    base_url: str
    auth: dict[str, str] = field(default_factory=dict, repr=False)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    log: Callable[[str], None] = lambda _line: None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    retry_conflicts: bool = False  # GitLab statuses: 409 means "try again"
    timeout: float = 30.0
    _pool: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(
        retries=False), repr=False)
    _writes: deque[float] = field(default_factory=deque, repr=False)
    requests_sent: int = 0

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        url = path if "://" in path else self.base_url.rstrip("/") + "/" + path.lstrip("/")
        if query:
            url += ("&" if "?" in url else "?") + urlencode(
                {k: v for k, v in query.items() if v is not None})
        return url

    def request(self, method: str, path: str, *, json: Any = None,
                query: Mapping[str, Any] | None = None,
                ok: tuple[int, ...] = (200, 201, 204)) -> Response:
        url = self.url(path, query)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **self.auth}
        body = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            if method in WRITE_METHODS:
                waited += self._space_writes()
            try:
                raw = self._pool.request(method, url, body=body, headers=headers,
                                         timeout=self.timeout, redirect=False)
            except urllib3.exceptions.HTTPError as error:
                delay = self.policy.base_backoff * 2.0 ** (attempt - 1)
                if attempt >= self.policy.max_attempts or waited + delay > self.policy.max_wait:
                    raise HttpError(method, url, 0, None,
                                    f"cannot connect: {type(error).__name__}",
                                    "check the API URL and the network") from None
                self.log(f"{method} {redact_url(url)}: connection failed, retrying in "
                         f"{delay:.0f}s")
                self.sleep(delay)
                waited += delay
                continue
            self.requests_sent += 1
            response = Response(raw.status, dict(raw.headers), _parse(raw.data))
            if response.status in ok:
                return response
            retry_in = self._retry_delay(response, attempt)
            if retry_in is None:
                raise HttpError(method, url, response.status, response.body)
            delay = retry_in
            if attempt >= self.policy.max_attempts or waited + delay > self.policy.max_wait:
                raise HttpError(method, url, response.status, response.body,
                                f"{_message_of(response.body) or 'rate limited'} (gave up "
                                f"after {attempt} attempts; the next wait would be "
                                f"{delay:.0f}s)",
                                "retry the job later, or raise the rate limit of the token")
            self.log(f"{method} {redact_url(url)}: HTTP {response.status}, retrying in "
                     f"{delay:.0f}s ({attempt}/{self.policy.max_attempts})")
            self.sleep(delay)
            waited += delay

    def _retry_delay(self, response: Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None if the error is final."""
        status = response.status
        if status == 429 or (status == 403 and self._rate_limited(response)):
            retry_after = response.header("retry-after")
            if retry_after:
                return _retry_after_seconds(retry_after, self.clock())
            remaining = response.header("x-ratelimit-remaining") or \
                response.header("ratelimit-remaining")
            reset = response.header("x-ratelimit-reset") or response.header("ratelimit-reset")
            if remaining == "0" and reset.isdigit():
                return max(0.0, int(reset) - self.clock()) + 1.0
            return self.policy.secondary_backoff * 2.0 ** (attempt - 1)
        if status >= 500 or (status == 409 and self.retry_conflicts):
            return self.policy.base_backoff * 2.0 ** (attempt - 1)
        return None

    @staticmethod
    def _rate_limited(response: Response) -> bool:
        if response.header("retry-after") or response.header("x-ratelimit-remaining") == "0":
            return True
        message = _message_of(response.body).lower()
        return "rate limit" in message

    def _space_writes(self) -> float:
        """Sleep if this process already sent `writes_per_minute` writes in the last minute."""
        now = self.clock()
        while self._writes and now - self._writes[0] >= 60.0:
            self._writes.popleft()
        delay = 0.0
        if len(self._writes) >= self.policy.writes_per_minute:
            delay = 60.0 - (now - self._writes[0])
            self.log(f"spacing API writes: waiting {delay:.1f}s")
            self.sleep(delay)
        self._writes.append(now + delay)
        return delay

    def close(self) -> None:
        self._pool.clear()


def _retry_after_seconds(value: str, now: float) -> float:
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 60.0
    return max(0.0, when.timestamp() - now)


def _parse(data: bytes) -> Any:
    if not data:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")


def next_link(link_header: str) -> str:
    """The `rel="next"` URL of an RFC 8288 Link header ("" if none)."""
    for part in link_header.split(","):
        section = part.split(";")
        if len(section) >= 2 and any(s.strip() in ('rel="next"', "rel=next")
                                     for s in section[1:]):
            return section[0].strip().strip("<>")
    return ""
