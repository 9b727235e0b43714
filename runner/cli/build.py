"""`gitops-runner build`: the rendered objects of every Kustomization, as Flux would apply them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from runner.apply.order import in_apply_order
from runner.cli.options import render_options, render_repository, report_render_errors
from runner.discover.flux import NamespacedName
from runner.errors import RunnerError
from runner.render.repository import RenderedKustomization, RepositoryRender
from runner.yamlio import dump_all


@click.command()
@render_options
@click.option("--kustomization", "only", metavar="NS/NAME", default=None,
              help="Print only this Kustomization (its dependencies are still rendered).")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
def build(path: Path, repository_root: Path | None, sources: tuple[str, ...],
          strict_substitute: bool, use_cache: bool, concurrency: int | None,
         changed_since: str | None,
          only: str | None, output: str) -> None:
    """Render every Flux Kustomization under --path exactly as kustomize-controller would.

    Kustomizations are printed in dependsOn order, each one's objects in Flux's apply
    order and labelled with the Kustomization they belong to. Nothing is written to the
    checkout or to a cluster. Exit 0 when everything rendered, 1 when some Kustomizations
    failed (the others are still printed), 2 when the command could not run.
    """
    result = render_repository(path, repository_root, sources, strict_substitute, use_cache,
                               concurrency, changed_since)
    selected = _select(result, only)
    if output == "json":
        click.echo(orjson.dumps(_as_json(result, selected), option=orjson.OPT_INDENT_2))
    else:
        for rendered in selected:
            click.echo(f"# {rendered.kustomization} ({rendered.kustomization.path})")
            if rendered.objects:
                click.echo("---\n" + dump_all(in_apply_order(rendered.objects)), nl=False)
    report_render_errors(result)
    sys.exit(0 if result.ok else 1)


def _select(result: RepositoryRender, only: str | None) -> list[RenderedKustomization]:
    rendered = result.in_dependency_order()
    if only is None:
        return rendered
    namespace, _, name = only.rpartition("/")
    wanted = NamespacedName(namespace or "flux-system", name)
    chosen = [r for r in rendered if r.kustomization.id == wanted]
    if not chosen:
        known = ", ".join(str(r.kustomization.id) for r in rendered)
        raise RunnerError(f"no Kustomization {wanted} under {result.path}", f"known: {known}")
    return chosen


def _as_json(result: RepositoryRender, selected: list[RenderedKustomization]) -> dict[str, Any]:
    return {
        "path": str(result.path),
        "kustomizations": [{
            "name": r.kustomization.name,
            "namespace": r.kustomization.namespace,
            "path": r.kustomization.path,
            "error": r.error.message if r.error else None,
            "objects": in_apply_order(r.objects),
        } for r in selected],
        "errors": [e.message for e in result.errors()],
    }
