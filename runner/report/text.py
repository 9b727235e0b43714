"""The run report for people at a terminal: a table per run, diffs for plans."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runner.report.model import Outcome, RunReport

_STYLE = {Outcome.APPLIED: "green", Outcome.PLANNED: "cyan", Outcome.FAILED: "red",
          Outcome.SKIPPED: "yellow", Outcome.SUSPENDED: "dim", Outcome.IN_SYNC: "green",
          Outcome.DRIFTED: "yellow", Outcome.CORRECTED: "cyan"}
_DRIFT_KINDS = ("modified", "missing", "stray", "not-applied", "revision")
_ACTIONS = ("created", "configured", "recreated", "unchanged", "skipped", "failed")


def print_report(report: RunReport, console: Console, show_diffs: bool = False) -> None:
    if report.command == "drift":
        print_drift(report, console)
        return
    table = Table(title=f"gitops-runner {report.command}: {report.path}", show_lines=False)
    for column in ("Kustomization", "outcome", *_ACTIONS, "pruned", "health", "seconds"):
        table.add_column(column, justify="left" if column in ("Kustomization", "outcome")
                         else "right")
    for ks in report.kustomizations:
        counts = ks.changes.counts()
        pruned = sum(1 for c in ks.pruned if c.action == "deleted")
        health = f"{ks.health.ready}/{ks.health.checked}" if ks.health.checked else "-"
        table.add_row(ks.id, f"[{_STYLE[ks.outcome]}]{ks.outcome}[/]",
                      *(str(counts.get(a, "")) for a in _ACTIONS), str(pruned or ""),
                      health, f"{ks.timings.get('total', 0.0):.1f}")
    console.print(table)
    for ks in report.kustomizations:
        if ks.reason and ks.outcome != Outcome.APPLIED:
            console.print(f"[{_STYLE[ks.outcome]}]{ks.id}[/]: {ks.reason}", markup=True,
                          highlight=False)
        if show_diffs:
            for change in ks.changes.entries + ks.pruned:
                if change.diff:
                    console.print(f"[bold]{ks.id} {change.action} {change.key}[/bold]")
                    console.print(change.diff, markup=False, highlight=False)
                elif change.action == "deleted":
                    console.print(f"[bold]{ks.id} would prune {change.key}[/bold]")
    for error in report.errors:
        console.print(f"[red]error:[/red] {error}")
    totals = ", ".join(f"{n} {a}" for a, n in sorted(report.totals().items())) or "no changes"
    console.print(f"{report.command}: {totals} in {report.timings.get('total', 0):.1f}s")


def print_drift(report: RunReport, console: Console, show_diffs: bool = True) -> None:
    """A drift check: a row per Kustomization, then each finding, with its diff."""
    table = Table(title=f"gitops-runner drift: {report.path}", show_lines=False)
    for column in ("Kustomization", "outcome", *_DRIFT_KINDS, "corrected", "untouched"):
        table.add_column(column, justify="left" if column in ("Kustomization", "outcome")
                         else "right")
    for ks in report.kustomizations:
        counts: dict[str, int] = {}
        for drift in ks.drift or []:
            for name in (str(drift.kind), str(drift.status)):
                counts[name] = counts.get(name, 0) + 1
        table.add_row(ks.id, f"[{_STYLE[ks.outcome]}]{ks.outcome}[/]",
                      *(str(counts.get(k, "")) for k in (*_DRIFT_KINDS, "corrected",
                                                          "untouched")))
    console.print(table)
    for ks in report.kustomizations:
        if ks.reason and ks.outcome in (Outcome.FAILED, Outcome.SKIPPED):
            console.print(f"[red]{ks.id}[/]: {ks.reason}", markup=True, highlight=False)
        for drift in ks.drift or []:
            note = f" [{drift.status}{': ' + drift.note if drift.note else ''}]"
            console.print(f"[bold]{escape(ks.id)}[/bold] {escape(str(drift) + note)}",
                          highlight=False)
            if show_diffs and drift.diff:
                console.print(drift.diff, markup=False, highlight=False)
    for error in report.errors:
        console.print(f"[red]error:[/red] {error}")
    totals = ", ".join(f"{n} {a}" for a, n in report.drift_totals().items()) or "no drift"
    console.print(f"drift: {totals} in {report.timings.get('total', 0):.1f}s, "
                  f"{report.requests} API requests")
