"""`gitops-runner validate`: schemas, CEL rules, deprecations and cross-object checks,
offline (or against a cluster's schemas), of a rendered repository or of plain files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from runner.cli.options import render_options, render_repository
from runner.errors import RunnerError
from runner.validate import engine, report
from runner.validate.schemas import DEFAULT_KUBERNETES_VERSION


def _split(values: tuple[str, ...]) -> frozenset[str]:
    """kubeconform takes comma-separated lists; repeating the option works too."""
    return frozenset(v.strip() for value in values for v in value.split(",") if v.strip())


@click.command()
@render_options
@click.option("-f", "--file", "files", multiple=True, metavar="PATH",
              help="Validate these files or directories instead of rendering (repeatable; "
                   "- reads stdin).")
@click.option("--kubernetes-version", default=DEFAULT_KUBERNETES_VERSION, show_default=True,
              help="Kubernetes version whose built-in schemas and API removals apply.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
              help="Use the schemas (OpenAPI v3, CRDs) and namespaces of this cluster.")
@click.option("--context", "kube_context", default=None, help="kubeconfig context.")
@click.option("--schema-location", "schema_locations", multiple=True, metavar="DIR|TEMPLATE",
              help="More schemas, kubeconform-style: a directory or a file/URL template "
                   "such as '{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json' "
                   "(repeatable).")
@click.option("--strict/--no-strict", default=True, show_default=True,
              help="Unknown fields and duplicate keys are errors.")
@click.option("--skip", multiple=True, metavar="KIND",
              help="Kinds not to validate (Kind or apiVersion/Kind; repeatable or comma "
                   "separated).")
@click.option("--reject", multiple=True, metavar="KIND",
              help="Kinds that must not appear (Kind or apiVersion/Kind).")
@click.option("--ignore-missing-schemas", is_flag=True,
              help="Skip objects whose kind has no schema instead of failing.")
@click.option("-o", "--output", type=click.Choice(report.FORMATS), default="text",
              show_default=True)
@click.option("--summary", is_flag=True, help="Print the counts of valid/invalid/skipped.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Parallel validation processes (default: one per CPU).")
def validate(path: Path | None, files: tuple[str, ...], kubernetes_version: str,
             kubeconfig: str | None, kube_context: str | None,
             schema_locations: tuple[str, ...], strict: bool, skip: tuple[str, ...],
             reject: tuple[str, ...], ignore_missing_schemas: bool, output: str,
             summary: bool, workers: int | None, **render_args: Any) -> None:
    """Validate rendered manifests: schemas (built-in, CRDs, Flux), CEL rules, removed
    APIs, names, namespaces, duplicates and dependsOn.

    With --path, the repository is rendered first (as `build` does) and every object is
    reported with its Kustomization and the file and line it came from. With -f, plain
    files are read (a pre-commit hook). Exit 0 when valid, 1 when invalid, 2 when the
    command could not run.
    """
    if (path is None) == (not files):
        raise RunnerError("give either --path (render, then validate) or -f FILE (plain files)",
                          "e.g. validate --path clusters/production, or validate -f app.yaml")
    options = engine.Options(kubernetes_version=kubernetes_version, strict=strict,
                             skip=_split(skip), reject=_split(reject),
                             ignore_missing_schemas=ignore_missing_schemas,
                             schema_locations=schema_locations, kubeconfig=kubeconfig,
                             context=kube_context)
    if workers:
        options.workers = workers
    if files:
        result = engine.validate_files(files, options)
    else:
        assert path is not None
        # The shared render options (--repository-root, --source, --cache, --changed-since
        # ...) go to the render unchanged, whatever options.py adds later.
        rendered = render_repository(path, **render_args)
        for warning in rendered.warnings():
            click.secho(f"warning: {warning}", fg="yellow", err=True)
        result = engine.validate_render(rendered, options)
    click.echo(report.render(result, output, summary), nl=False)
    sys.exit(0 if result.valid else 1)


# The shared render options make --path required (every other command renders); here -f
# may replace it, and the check above asks for exactly one of them.
for _param in validate.params:
    if _param.name == "path":
        _param.required = False
