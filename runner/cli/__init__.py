"""The `gitops-runner` command line: one module per command, registered here.

Every command turns a `RunnerError` into a readable message and its exit code; a traceback
is shown only for real bugs (or with --debug).
"""

from __future__ import annotations

import sys

import click

from runner import __version__
from runner.cli import apply, build, cluster, demo, placeholders, plan, tree
from runner.errors import RunnerError


class RunnerGroup(click.Group):
    """A click group that reports RunnerError cleanly instead of with a traceback."""

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


main.add_command(build.build)
main.add_command(tree.tree)
main.add_command(plan.plan)
main.add_command(apply.apply)
main.add_command(cluster.cluster)
main.add_command(demo.demo)
for command in placeholders.COMMANDS:
    main.add_command(command)
