"""The pre-commit hook, run as a user runs it: `pre-commit try-repo` installs this project
as the hook's environment and runs the hook on a Flux repository, which passes while valid
and fails, naming the file, once a change breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ci import workspace

HOOK = "gitops-runner-validate"


@pytest.fixture(scope="module")
def hook_repo(project_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This project as a hook repository (try-repo needs a Git repository)."""
    repo = tmp_path_factory.mktemp("hook") / "gitops-runner"
    shutil.copytree(project_source, repo, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    workspace.git(repo, "init", "-q", "-b", "main")
    workspace.commit(repo, "hook repository")
    return repo


def try_repo(hook_repo: Path, fleet: Path) -> subprocess.CompletedProcess[str]:
    # try-repo builds the hook's environment in a store of its own (pip's cache helps).
    env = {**os.environ, "PRE_COMMIT_COLOR": "never"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo),
                             HOOK, "--all-files"], cwd=fleet, capture_output=True, text=True,
                            env=env, timeout=900, check=False)
    print(f"pre-commit try-repo: exit {result.returncode} in {time.monotonic() - started:.1f}s")
    return result


def test_the_hook_validates_every_cluster_folder(hook_repo: Path, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    workspace.flux_repository(fleet, {})
    result = try_repo(hook_repo, fleet)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert "gitops-runner validate" in log and "Passed" in log

    deployment = fleet / "apps" / "base" / "podinfo" / "deployment.yaml"
    text = deployment.read_text()
    assert "  replicas: ${podinfo_replicas:=1}\n" in text
    deployment.write_text(text.replace("  replicas: ${podinfo_replicas:=1}\n",
                                       "  replicas: one\n"))
    workspace.commit(fleet, "broken")
    result = try_repo(hook_repo, fleet)
    log = result.stdout + result.stderr
    assert result.returncode == 1, log[-5000:]
    assert "Failed" in log
    assert "apps/base/podinfo/deployment.yaml" in log
    assert "--path clusters/production" in log and "--path clusters/staging" in log
