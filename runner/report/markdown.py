"""The run report as Markdown, for pull/merge request comments and step summaries."""

from __future__ import annotations

from runner.report.model import KustomizationReport, Outcome, RunReport

_ICON = {Outcome.APPLIED: "✅", Outcome.PLANNED: "📝", Outcome.FAILED: "❌",
         Outcome.SKIPPED: "⏭️", Outcome.SUSPENDED: "⏸️"}


def render(report: RunReport, max_chars: int = 60000, report_hint: str = "") -> str:
    """Markdown no longer than `max_chars`: diffs are cut first, with a pointer to
    `report_hint` (where the full report is)."""
    head = _summary(report)
    diffs = [_diff_block(ks) for ks in report.kustomizations]
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
