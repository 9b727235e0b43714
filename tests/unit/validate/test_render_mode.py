"""`validate --path`: a repository is rendered, then checked across Kustomizations, and each
finding names the Kustomization, file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import orjson

from runner.render.repository import RenderOptions, render
from runner.validate import engine

KUSTOMIZATION = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: flux-system}}
spec:
  interval: 10m
  path: ./{path}
  prune: true
  sourceRef: {{kind: GitRepository, name: flux-system}}
  dependsOn: [{depends}]
"""


def _repository(tmp_path: Path) -> Path:
    files = {
        "clusters/test/apps.yaml": KUSTOMIZATION.format(name="apps", path="apps",
                                                        depends="{name: infra}"),
        "clusters/test/infra.yaml": KUSTOMIZATION.format(name="infra", path="infra",
                                                         depends="{name: nowhere}"),
        "infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
        "infra/config.yaml": "apiVersion: v1\nkind: ConfigMap\n"
                             "metadata: {name: shared, namespace: web}\ndata: {a: '1'}\n",
        "apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\n"
                            "metadata: {name: shared, namespace: web}\ndata: {a: '2'}\n",
        "apps/deployment.yaml": textwrap.dedent("""\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: ghost}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers:
                    - name: web
                      image: nginx
                      imagePullPolicy: Sometimes
            """),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def _findings(tmp_path: Path) -> dict[str, Any]:
    root = _repository(tmp_path)
    rendered = render(RenderOptions(path=root / "clusters/test", repository_root=root))
    result = engine.validate_render(rendered, engine.Options(workers=1))
    assert not result.valid
    return {f.rule: f for f in result.all_findings()}


def test_cross_kustomization_rules_with_sources(tmp_path: Path) -> None:
    found = _findings(tmp_path)
    assert set(found) == {"duplicate-object", "namespace-missing", "schema", "depends-on"}
    duplicate = found["duplicate-object"]
    assert duplicate.object == "ConfigMap/web/shared"
    assert {duplicate.kustomization, duplicate.message.split()[-1]} == {
        "flux-system/apps", "flux-system/infra"}
    missing = found["namespace-missing"]
    assert (missing.file, missing.line, missing.kustomization) == (
        "apps/deployment.yaml", 1, "flux-system/apps")
    schema = found["schema"]
    assert (schema.file, schema.line) == ("apps/deployment.yaml", 12)
    assert "Sometimes" in schema.message
    assert "nowhere" in found["depends-on"].message


def test_json_and_ci_outputs(tmp_path: Path, cli: Any) -> None:
    root = _repository(tmp_path)
    args = ["--path", str(root / "clusters/test"), "--repository-root", str(root),
            "--no-cache"]
    as_json = cli(*args, "-o", "json")
    assert as_json.exit_code == 1
    payload = orjson.loads(as_json.stdout)
    assert payload["valid"] is False and payload["summary"]["resources"] == 6
    github = cli(*args, "-o", "github").stdout
    assert "::error file=apps/deployment.yaml,line=12,title=schema::" in github
    gitlab = orjson.loads(cli(*args, "-o", "gitlab").stdout)
    assert {issue["location"]["path"] for issue in gitlab} >= {"apps/deployment.yaml"}
    assert all(len(issue["fingerprint"]) == 64 for issue in gitlab)
    junit = cli(*args, "-o", "junit").stdout
    assert '<testsuite name="flux-system/apps"' in junit and "<failure" in junit
    text = cli(*args, "--summary").stdout
    assert "apps/deployment.yaml:12: error: Deployment.apps/ghost/web" in text
    assert text.rstrip().splitlines()[-1].startswith("Summary: 6 resources")
