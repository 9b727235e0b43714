"""What is published: the sticky comment's body (found again by a hidden marker), the commit
status's one-line description, and the run report read back from its JSON form.

The comment is the run report's Markdown (runner.report.markdown: a table per
Kustomization, collapsible diffs) plus the validation findings, kept within the forge's
limit by cutting diffs first, with a pointer to the full report. Secret values are masked
again here, whatever produced the report: a diff line under a Secret's `data:` or
`stringData:` never reaches a forge unmasked.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from runner import __version__
from runner.apply.changes import Action, Change, ChangeSet
from runner.errors import RunnerError
from runner.manifest import ObjectKey
from runner.report import markdown
from runner.report.model import HealthReport, KustomizationReport, Outcome, RunReport

GITHUB_COMMENT_LIMIT = 65_536  # characters; GitHub answers 422 beyond
GITLAB_NOTE_LIMIT = 1_000_000  # characters
STATUS_DESCRIPTION_LIMIT = 140  # GitHub answers 422 beyond; GitLab shows about as much
MAX_LISTED_FINDINGS = 30
_MARKER = "<!-- gitops-runner:sticky {key} -->"


def marker(context: str) -> str:
    """The hidden marker of the sticky comment for `context` (one comment per context)."""
    key = re.sub(r"[^A-Za-z0-9_.:/@+=-]", "_", context).replace("--", "-_")
    return _MARKER.format(key=key)


def is_sticky(body: str, context: str) -> bool:
    return marker(context) in body


@dataclass
class Validation:
    """`gitops-runner validate -o json` output, as far as publishing needs it."""

    valid: bool
    findings: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f.get("severity", "error") == "error"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f.get("severity") == "warning"]


def load_validation(path: Path) -> Validation:
    data = _load_json(path, "validation report")
    if not isinstance(data, dict) or "findings" not in data:
        raise RunnerError(f"{path} is not the JSON output of `gitops-runner validate -o json`")
    return Validation(valid=bool(data.get("valid", not data["findings"])),
                      findings=list(data.get("findings") or []),
                      summary=dict(data.get("summary") or {}))


def load_report(path: Path) -> RunReport:
    """A RunReport rebuilt from the JSON that `plan`/`apply --report FILE` wrote."""
    data = _load_json(path, "run report")
    if not isinstance(data, dict) or "kustomizations" not in data or "command" not in data:
        raise RunnerError(f"{path} is not a gitops-runner run report",
                          "pass the file written by `gitops-runner plan|apply --report FILE`")
    report = RunReport(command=str(data["command"]), path=str(data.get("path", "")),
                       revision=str(data.get("revision", "")),
                       cluster=str(data.get("cluster", "")),
                       started_at=str(data.get("startedAt", "")),
                       errors=[str(e) for e in data.get("errors") or []],
                       timings={k: float(v) for k, v in (data.get("timings") or {}).items()})
    for item in data["kustomizations"]:
        health = item.get("health") or {}
        report.kustomizations.append(KustomizationReport(
            name=str(item["name"]), namespace=str(item["namespace"]),
            path=str(item.get("path", "")), outcome=Outcome(item.get("outcome", "planned")),
            reason=str(item.get("reason", "")),
            changes=ChangeSet([_change(c) for c in item.get("changes") or []]),
            pruned=[_change(c) for c in item.get("pruned") or []],
            health=HealthReport(checked=int(health.get("checked", 0)),
                                ready=int(health.get("ready", 0)),
                                timed_out=bool(health.get("timedOut", False)),
                                pending=list(health.get("pending") or []),
                                failed=list(health.get("failed") or [])),
            timings={k: float(v) for k, v in (item.get("timings") or {}).items()},
            revision=str(item.get("revision", "")),
            previous_revision=str(item.get("previousRevision", "")),
            **_drift_of(item)))
    return report


def _drift_of(item: dict[str, Any]) -> dict[str, Any]:
    """The `drift` findings of a drift report's Kustomization, as the report model holds
    them (an empty mapping for plan/apply reports)."""
    if "drift" not in item:
        return {}
    from runner.drift import model as drift_model  # only drift reports need it

    findings = []
    for data in item["drift"] or []:
        key = _change({"id": data.get("id", ""), "object": data.get("object", ""),
                       "action": "unchanged"}).key if data.get("object") else None
        diff = data.get("diff")
        findings.append(drift_model.Drift(
            kind=drift_model.DriftKind(data["kind"]), key=key,
            reason=str(data.get("reason", "")), fields=list(data.get("fields") or []),
            diff=None if diff is None or key is None else mask_secret_diff(key, str(diff)),
            status=drift_model.DriftStatus(data.get("status", "detected")),
            note=str(data.get("note", ""))))
    return {"drift": findings}


def _change(data: dict[str, Any]) -> Change:
    flux_id = str(data.get("id", ""))
    if flux_id.count("_") == 3:
        key = ObjectKey.from_flux_id(flux_id)
    else:  # fall back on the printed form Kind/ns/name
        parts = str(data.get("object", "")).split("/")
        key = ObjectKey("", parts[0], parts[1] if len(parts) == 3 else "", parts[-1])
    diff = data.get("diff")
    return Change(key, Action(data.get("action", "unchanged")), reason=str(data.get("reason", "")),
                  diff=None if diff is None else mask_secret_diff(key, str(diff)))


def _load_json(path: Path, what: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise RunnerError(f"{what} {path} does not exist") from None
    except orjson.JSONDecodeError as error:
        raise RunnerError(f"{what} {path} is not JSON: {error}") from None


_DATA_KEY = re.compile(r"^(data|stringData):\s*(\{\})?\s*$")
_VALUE_LINE = re.compile(r"^(\s+)([^:#\s][^:]*):(\s*)(.*)$")
_MASKED = re.compile(r"^['\"]?\*\*\*( \(changed\))?['\"]?$")


def mask_secret_diff(key: ObjectKey, diff: str) -> str:
    """A Secret's diff with every value under `data:`/`stringData:` masked (the runner's plan
    masks them already; this holds whatever wrote the report), and code fences defused."""
    if key.kind == "Secret" and key.group == "":
        lines = []
        inside = False
        for line in diff.splitlines(keepends=True):
            if line.startswith(("+++", "---", "@@")):
                lines.append(line)
                continue
            prefix = line[:1] if line[:1] in "+- " else ""
            text = line[len(prefix):].rstrip("\n")
            if text and not text.startswith(" "):
                inside = _DATA_KEY.match(text) is not None
            elif inside and text.strip():
                match = _VALUE_LINE.match(text)
                if match and not _MASKED.match(match.group(4)):
                    text = f"{match.group(1)}{match.group(2)}: '***'"
                elif not match and not _MASKED.match(text.strip()):
                    text = text[:len(text) - len(text.lstrip())] + "***"
            lines.append(prefix + text + ("\n" if line.endswith("\n") else ""))
        diff = "".join(lines)
    return diff.replace("```", "`\u200b``")


def counts_line(report: RunReport) -> str:
    if report.command == "drift" and hasattr(report, "drift_totals"):
        drift = report.drift_totals()
        kinds = [f"{n} {k}" for k, n in drift.items()
                 if k in ("modified", "missing", "stray", "not-applied", "revision")]
        return ", ".join(kinds) if kinds else "no drift"
    totals = report.totals()
    created = totals.get("created", 0) + totals.get("recreated", 0)
    if report.command in ("plan", "drift"):
        words = [f"{created} to create", f"{totals.get('configured', 0)} to change",
                 f"{totals.get('pruned', 0)} to delete"]
    else:
        words = [f"{created} created", f"{totals.get('configured', 0)} configured",
                 f"{totals.get('pruned', 0)} deleted"]
    return ", ".join(words)


def description(report: RunReport | None, validation: Validation | None) -> str:
    """The commit status's description: one line, at most 140 characters."""
    parts: list[str] = []
    if validation is not None and not validation.valid:
        parts.append(f"validation failed: {plural(len(validation.errors), 'error')}")
    if report is not None:
        failed = [k for k in report.kustomizations if k.outcome == Outcome.FAILED]
        count = len(report.kustomizations)
        if report.errors and not report.kustomizations:
            parts.append(f"{report.command} failed: {report.errors[0]}")
        elif failed:
            parts.append(f"{report.command} failed: {len(failed)} of {count} Kustomizations "
                         f"failed ({failed[0].id})")
        else:
            parts.append(f"{report.command}: {counts_line(report)} "
                         f"({plural(count, 'Kustomization')})")
    elif validation is not None and validation.valid:
        parts.append("validation passed")
    return shorten(" · ".join(parts) or "nothing to report", STATUS_DESCRIPTION_LIMIT)


def succeeded(report: RunReport | None, validation: Validation | None) -> bool:
    """Green: valid, the run succeeded, and a drift check found nothing left uncorrected."""
    if validation is not None and not validation.valid:
        return False
    if report is None:
        return True
    if report.command == "drift" and hasattr(report, "drift_totals"):
        left = report.drift_totals()
        if left.get("detected") or left.get("failed"):
            return False
    return report.ok


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def body(context: str, report: RunReport | None, validation: Validation | None,
         limit: int, run_url: str = "", report_hint: str = "", sticky: bool = True) -> str:
    """The comment (or step summary) Markdown, at most `limit` characters."""
    head = (marker(context) + "\n") if sticky else ""
    footer = (f"\n<sub>gitops-runner {__version__} · `{context}`"
              + (f" · [run]({run_url})" if run_url else "")
              + f" · {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}</sub>\n")
    checks = validation_markdown(validation, limit // 4) if validation is not None else ""
    room = limit - len(head) - len(footer) - len(checks)
    if report is not None:
        main = markdown.render(report, max_chars=max(room, 0), report_hint=report_hint)
    else:
        state = "passed" if succeeded(None, validation) else "failed"
        main = f"### gitops-runner: validation {state}\n"
        main = main[:max(room, 0)]
    return (head + main + checks + footer)[:limit]


def validation_markdown(validation: Validation, limit: int) -> str:
    errors, warnings = validation.errors, validation.warnings
    if not errors and not warnings:
        return "\n**Validation**: passed.\n"
    lines = [f"\n**Validation**: {plural(len(errors), 'error')}, "
             f"{plural(len(warnings), 'warning')}.\n"]
    for finding in (errors + warnings)[:MAX_LISTED_FINDINGS]:
        where = finding.get("file", "")
        if where and finding.get("line"):
            where = f"{where}:{finding['line']}"
        subject = finding.get("object") or finding.get("kustomization") or ""
        text = f"- {'❌' if finding in errors else '⚠️'} "
        text += f"`{where}` " if where else ""
        text += f"{subject}: " if subject else ""
        text += f"{_escape(str(finding.get('message', '')))} [{finding.get('rule', '')}]"
        lines.append(shorten(text, 600))
    hidden = len(errors) + len(warnings) - MAX_LISTED_FINDINGS
    if hidden > 0:
        lines.append(f"- … and {hidden} more (see the job log)")
    out = "\n".join(lines) + "\n"
    return out if len(out) <= limit else out[:max(limit - 40, 0)] + "\n- … (cut)\n"


def _escape(text: str) -> str:
    return text.replace("<", "&lt;").replace("`", "'")


def fit_bytes(text: str, limit: int) -> str:
    """`text` cut so that its UTF-8 form is at most `limit` bytes."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def default_context(report: RunReport | None) -> str:
    command = report.command if report is not None else "validate"
    path = report.path if report is not None else ""
    return f"gitops-runner/{command}" + (f" ({display_path(path)})" if path else "")


def display_path(path: str) -> str:
    """A report's path relative to the working directory when it is inside it."""
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return str(candidate.relative_to(Path.cwd()))
        except ValueError:
            return path
    return path


def dumps(data: Any) -> str:
    return orjson.dumps(data).decode()
