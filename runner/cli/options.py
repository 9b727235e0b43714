"""Options shared by the commands that render a repository (build, tree, validate, plan,
apply, drift), and the one function that turns them into a render."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from runner.render.repository import RepositoryRender

F = TypeVar("F", bound=Callable[..., Any])

_RENDER_OPTIONS = [
    click.option("--path", "path", required=True,
                 type=click.Path(path_type=Path, file_okay=False),
                 help="Cluster folder to start from, e.g. clusters/production (what "
                      "flux bootstrap's flux-system Kustomization builds)."),
    click.option("--repository-root", type=click.Path(path_type=Path, file_okay=False),
                 default=None, help="Root of the repository (default: the Git work tree "
                                    "holding --path)."),
    click.option("--source", "sources", multiple=True, metavar="KIND/NS/NAME=DIR",
                 help="Local checkout of another Flux source that Kustomizations refer to "
                      "(repeatable)."),
    click.option("--strict-substitute/--no-strict-substitute", default=True,
                 show_default=True,
                 help="A postBuild variable without value or default is an error "
                      "(Flux 2.9's default); without it, it becomes empty."),
    click.option("--cache/--no-cache", "use_cache", default=True, show_default=True,
                 help="Reuse kustomize outputs whose input files are unchanged."),
    click.option("--concurrency", type=click.IntRange(1, 64), default=None,
                 help="Parallel kustomize builds (default: 2 x CPUs)."),
    click.option("--changed-since", metavar="REF", default=None,
                 help="Only the Kustomizations whose inputs changed since this Git ref "
                      "(e.g. origin/main), and those that depend on them."),
]


def render_options(command: F) -> F:
    for option in reversed(_RENDER_OPTIONS):
        command = option(command)
    return command


def render_repository(path: Path, repository_root: Path | None, sources: tuple[str, ...],
                      strict_substitute: bool, use_cache: bool, concurrency: int | None,
                      changed_since: str | None = None) -> RepositoryRender:
    # Imported here: `validate -f` uses these options' module but never renders.
    from runner.discover import git
    from runner.discover.sources import parse_source_option
    from runner.render import cache, changes
    from runner.render.cache import RenderCache
    from runner.render.repository import RenderOptions, render

    options = RenderOptions(
        path=path,
        repository_root=repository_root,
        sources=dict(parse_source_option(text) for text in sources),
        strict=strict_substitute,
        cache=RenderCache(cache.default_directory() if use_cache else None),
    )
    if concurrency:
        options.concurrency = concurrency
    result = render(options)
    if changed_since:
        selected = changes.affected(result, git.changed_files(path, changed_since),
                                    lambda file: git.read_at(file, changed_since))
        changes.keep_only(result, selected)
    return result


def report_render_errors(result: RepositoryRender) -> None:
    for warning in result.warnings():
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    for error in result.errors():
        click.secho(f"error: {error.message}", fg="red", err=True)
        if error.hint:
            click.echo(f"  hint: {error.hint}", err=True)
