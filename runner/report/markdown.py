"""The run report as Markdown, for pull/merge request comments and step summaries."""

from __future__ import annotations

from runner.report.model import KustomizationReport, Outcome, RunReport

_ICON = {Outcome.APPLIED: "✅", Outcome.PLANNED: "📝", Outcome.FAILED: "❌",
         Outcome.SKIPPED: "⏭️", Outcome.SUSPENDED: "⏸️", Outcome.IN_SYNC: "✅",
         Outcome.DRIFTED: "⚠️", Outcome.CORRECTED: "🔧"}
_DRIFT_KINDS = ("modified", "missing", "stray", "not-applied", "revision")


def render(report: RunReport, max_chars: int = 60000, report_hint: str = "") -> str:
    """Markdown no longer than `max_chars`: diffs are cut first, with a pointer to
    `report_hint` (where the full report is)."""
    drift = report.command == "drift"
    head = _drift_summary(report, max_chars // 2) if drift else _summary(report)
    diffs = [(_drift_block if drift else _diff_block)(ks) for ks in report.kustomizations]
    body = head + "".join(d for d in diffs if d)
    if len(body) <= max_chars:
        return body
    note = ("\n\n_Diffs were cut to fit; the full report is "
            f"{report_hint or 'in the job artifacts'}._\n")
    room = max_chars - len(head) - len(note)
    kept = ""
    for block in diffs:
        if block and len(kept) + len(block) <= room:
            kept += block
    return (head + kept + note)[:max_chars]


def _summary(report: RunReport) -> str:
    state = "succeeded" if report.ok else "failed"
    lines = [f"### gitops-runner {report.command} {state}",
             f"`{report.path}` at `{report.revision or 'working tree'}`", "",
             "| Kustomization | result | created | configured | deleted | unchanged | "
             "health | time |",
             "|---|---|---:|---:|---:|---:|---|---:|"]
    lines += [_row(ks) for ks in report.kustomizations]
    for ks in report.kustomizations:
        if ks.reason and ks.outcome in (Outcome.FAILED, Outcome.SKIPPED):
            lines.append(f"\n**{ks.id}**: {_escape(ks.reason)}")
    for error in report.errors:
        lines.append(f"\n**error**: {_escape(error)}")
    return "\n".join(lines) + "\n"


def _row(ks: KustomizationReport) -> str:
    counts = ks.changes.counts()
    deleted = sum(1 for c in ks.pruned if c.action == "deleted")
    health = f"{ks.health.ready}/{ks.health.checked}" if ks.health.checked else "-"
    return (f"| `{ks.id}` | {_ICON[ks.outcome]} {ks.outcome} | "
            f"{counts.get('created', 0) + counts.get('recreated', 0)} | "
            f"{counts.get('configured', 0)} | {deleted} | {counts.get('unchanged', 0)} | "
            f"{health} | {ks.timings.get('total', 0):.1f}s |")


def _diff_block(ks: KustomizationReport) -> str:
    parts = [f"```diff\n# {c.action} {c.key}\n{c.diff}```\n"
             for c in ks.changes.entries if c.diff]
    parts += [f"```diff\n# would prune {c.key}\n```\n" for c in ks.pruned
              if c.action == "deleted"]
    if not parts:
        return ""
    return (f"\n<details><summary>{ks.id}: {len(parts)} changes</summary>\n\n"
            + "".join(parts) + "\n</details>\n")


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def _drift_summary(report: RunReport, budget: int) -> str:
    totals = report.drift_totals()
    if not report.ok:
        state = "failed"
    elif not report.drifted:
        state = "found no drift"
    elif totals.get("detected") or totals.get("untouched"):
        state = "found drift"
    else:
        state = "corrected drift"
    lines = [f"### gitops-runner drift {state}",
             f"`{report.path}` at `{report.revision or 'working tree'}` on `{report.cluster}`",
             "", "| Kustomization | result | " + " | ".join(_DRIFT_KINDS) + " | details |",
             "|---|---|" + "---:|" * len(_DRIFT_KINDS) + "---|"]
    for ks in report.kustomizations:
        counts: dict[str, int] = {}
        for drift in ks.drift or []:
            counts[str(drift.kind)] = counts.get(str(drift.kind), 0) + 1
        lines.append(f"| `{ks.id}` | {_ICON[ks.outcome]} {ks.outcome} | "
                     + " | ".join(str(counts.get(k, 0) or "") for k in _DRIFT_KINDS)
                     + f" | {_escape(ks.reason)} |")
    findings = [f"- `{ks.id}` {drift.kind} `{drift.key or 'Kustomization'}` "
                f"({drift.status}{': ' + _escape(drift.note) if drift.note else ''})"
                + (f": {_escape(drift.reason)}" if drift.reason else "")
                for ks in report.kustomizations for drift in ks.drift or []]
    errors = [f"\n**error**: {_escape(error)}" for error in report.errors]
    room = budget - sum(len(line) + 1 for line in (*lines, *errors)) - 80
    if findings:
        lines.append("")
    for index, finding in enumerate(findings):
        if len(finding) + 1 > room:
            lines.append(f"- … and {len(findings) - index} more findings (see the full report)")
            break
        lines.append(finding)
        room -= len(finding) + 1
    return "\n".join(lines + errors) + "\n"


def _drift_block(ks: KustomizationReport) -> str:
    parts = [f"```diff\n# {d.kind} {d.key}\n{d.diff}```\n" for d in ks.drift or [] if d.diff]
    if not parts:
        return ""
    return (f"\n<details><summary>{ks.id}: {len(parts)} diffs</summary>\n\n"
            + "".join(parts) + "\n</details>\n")
