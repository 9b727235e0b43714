"""The run report for people at a terminal: a table per run, diffs for plans."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from runner.report.model import Outcome, RunReport

_STYLE = {Outcome.APPLIED: "green", Outcome.PLANNED: "cyan", Outcome.FAILED: "red",
          Outcome.SKIPPED: "yellow", Outcome.SUSPENDED: "dim"}
_ACTIONS = ("created", "configured", "recreated", "unchanged", "skipped", "failed")


def print_report(report: RunReport, console: Console, show_diffs: bool = False) -> None:
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
