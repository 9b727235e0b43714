"""`gitops-runner tree`: the Kustomizations as dependsOn layers, like `flux tree`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.tree import Tree

from runner.cli.options import render_options, render_repository, report_render_errors
from runner.discover import graph
from runner.discover.flux import Kustomization
from runner.render.repository import RenderedKustomization, RepositoryRender


@click.command()
@render_options
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def tree(path: Path, repository_root: Path | None, sources: tuple[str, ...],
         strict_substitute: bool, use_cache: bool, concurrency: int | None,
         changed_since: str | None,
         output: str) -> None:
    """Show the Kustomizations under --path as dependsOn layers.

    Layer N holds the Kustomizations whose dependencies (dependsOn, and the Kustomization
    that defines them) are all in earlier layers; they could be applied in parallel.
    Suspended ones are marked. A dependency cycle or a dependency on an unknown Kustomization
    is an error naming it (exit 1).
    """
    result = render_repository(path, repository_root, sources, strict_substitute, use_cache,
                               concurrency, changed_since)
    layers = graph.layers(result.by_id())  # DependencyError -> exit 2 with the cycle named
    if output == "json":
        click.echo(orjson.dumps(_as_json(result, layers), option=orjson.OPT_INDENT_2))
    else:
        console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 400)
        console.print(_as_tree(result, layers))
    report_render_errors(result)
    sys.exit(0 if result.ok else 1)


def _describe(ks: Kustomization, rendered: RenderedKustomization) -> str:
    parts = [f"[bold]{ks.namespace}/{ks.name}[/bold]", ks.path]
    if ks.depends_on:
        parts.append("dependsOn " + ", ".join(str(d) for d in ks.depends_on))
    if ks.suspend:
        parts.append("[yellow](suspended)[/yellow]")
    if rendered.error:
        parts.append("[red](render failed)[/red]")
    else:
        parts.append(f"{len(rendered.objects)} objects")
    return "  ".join(parts)


def _as_tree(result: RepositoryRender, layers: list[list[Kustomization]]) -> Tree:
    root = Tree(f"{result.path}")
    for index, layer in enumerate(layers):
        branch = root.add(f"layer {index}")
        for ks in layer:
            branch.add(_describe(ks, result.kustomizations[ks.id]))
    return root


def _as_json(result: RepositoryRender, layers: list[list[Kustomization]]) -> dict[str, Any]:
    return {"path": str(result.path), "layers": [[{
        "name": ks.name, "namespace": ks.namespace, "path": ks.path,
        "dependsOn": [str(d) for d in ks.depends_on],
        "parent": str(ks.parent) if ks.parent else None,
        "suspend": ks.suspend,
        "objects": len(result.kustomizations[ks.id].objects),
        "error": (result.kustomizations[ks.id].error or None) and str(
            result.kustomizations[ks.id].error),
    } for ks in layer] for layer in layers]}
