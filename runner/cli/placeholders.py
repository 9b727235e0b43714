"""Commands that are planned but not built yet. Each says so and exits non-zero, so that a
pipeline calling one never mistakes it for success."""

from __future__ import annotations

import sys

import click

PLANNED = {
    "publish": "Post a run report to the pull/merge request: commit status and one sticky "
               "comment.",
}


def _placeholder(name: str, summary: str) -> click.Command:
    def run(args: tuple[str, ...]) -> None:
        click.secho(f"`gitops-runner {name}` is not implemented yet.", fg="yellow", err=True)
        sys.exit(3)

    return click.Command(name, callback=run, help=f"{summary}\n\nNot implemented yet: exits 3.",
                         short_help=f"(not implemented yet) {summary.split('.')[0]}",
                         context_settings={"ignore_unknown_options": True},
                         params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)])


COMMANDS = [_placeholder(name, summary) for name, summary in PLANNED.items()]
