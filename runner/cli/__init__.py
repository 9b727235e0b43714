"""The `gitops-runner` command line: one module per command, registered here.

Every command turns a `RunnerError` into a readable message and its exit code; a traceback
is shown only for real bugs (or with --debug).
"""

from __future__ import annotations

import importlib
import sys

import click

from runner import __version__
from runner.errors import RunnerError

# Command name -> module under runner.cli holding a click command of that name. Modules are
# imported only when their command runs (or --help lists them), so a command does not pay
# for the imports of all the others.
COMMANDS = {name: name for name in ("build", "tree", "validate", "plan", "apply", "drift",
                                    "publish", "cluster", "demo")}


class RunnerGroup(click.Group):
    """A click group that loads commands lazily and reports RunnerError cleanly."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"runner.cli.{COMMANDS[name]}")
        command: click.Command = getattr(module, name)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RunnerError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(f"error: {error.message}", fg="red", err=True)
            if error.hint:
                click.echo(f"  hint: {error.hint}", err=True)
            sys.exit(error.exit_code)


@click.group(cls=RunnerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitops-runner")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Push-mode GitOps for CI: render, validate, plan and apply a Flux v2 repository.

    Invoked once per commit from a pipeline (or before merging, from a laptop), it does what
    Flux's controllers would do inside the cluster: renders every Flux Kustomization, validates
    the result offline, orders Kustomizations by dependsOn, applies them with server-side
    apply, waits for health, prunes what left Git, and reports back to the pull request.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


