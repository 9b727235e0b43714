"""`--schema-location` as kubeconform reads it: directories in its layout, file templates
and URL templates."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.validate import engine, schemas
from runner.validate.export import write_kubeconform_layout

WIDGET_SCHEMA = ('{"type": "object", "properties": {"apiVersion": {}, "kind": {}, '
                 '"metadata": {}, "spec": {"type": "object", "properties": '
                 '{"size": {"type": "integer"}}, "additionalProperties": false}}}')
WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: %s}\n"


@pytest.mark.parametrize(("kind", "api_version", "expected"), [
    ("Deployment", "apps/v1", "deployment-apps-v1"),
    ("ConfigMap", "v1", "configmap-v1"),
    ("Widget", "example.com/v1alpha1", "widget-example-v1alpha1"),
])
def test_templates_render_like_kubeconform(kind: str, api_version: str, expected: str) -> None:
    location = schemas.SchemaLocation.parse("/s", "1.35.4", strict=True)
    path = location.path_for(kind, api_version)
    assert path == f"/s/v1.35.4-standalone-strict/{expected}.json"
    catalog = schemas.render_template("{{ .Group }}/{{ .ResourceKind }}_{{.ResourceAPIVersion}}"
                                      ".json", kind, api_version, "1.35.4", True)
    group, version = api_version.split("/")[0], api_version.split("/")[-1]
    assert catalog == f"{group}/{kind.lower()}_{version}.json"


def test_unknown_template_fields_are_refused() -> None:
    with pytest.raises(schemas.SchemaError, match="Nope"):
        schemas.SchemaLocation.parse("/x/{{ .Nope }}.json", "1.35.4", True)


def _check(tmp_path: Path, size: str, *locations: str) -> engine.Result:
    manifest = tmp_path / "widget.yaml"
    manifest.write_text(WIDGET % size)
    return engine.validate_files([str(manifest)], engine.Options(
        workers=1, schema_locations=locations))


def test_catalog_file_template(tmp_path: Path) -> None:
    (tmp_path / "example.com").mkdir()
    (tmp_path / "example.com" / "widget_v1.json").write_text(WIDGET_SCHEMA)
    template = str(tmp_path) + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
    assert _check(tmp_path, "3", template).valid
    assert not _check(tmp_path, "big", template).valid
    assert not _check(tmp_path, "3").valid  # without the location: no schema


def test_directory_in_kubeconform_layout(tmp_path: Path) -> None:
    count = write_kubeconform_layout(tmp_path / "schemas", "1.35.4", strict=True)
    assert count > 60
    target = tmp_path / "schemas" / "v1.35.4-standalone-strict" / "widget-example-v1.json"
    target.write_text(WIDGET_SCHEMA)
    assert _check(tmp_path, "3", str(tmp_path / "schemas")).valid


@pytest.fixture()
def schema_server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    (root / "example.com").mkdir(parents=True)
    (root / "example.com" / "widget_v1.json").write_text(WIDGET_SCHEMA)
    handler: Any = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_template(tmp_path: Path, schema_server: str) -> None:
    template = schema_server + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
    assert _check(tmp_path, "3", template).valid
    assert not _check(tmp_path, "big", template).valid
