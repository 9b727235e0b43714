"""Fixtures of the CI-integration tests: the project as a user's pipeline fetches it (a clean
copy and its wheel), the forge contract servers, and the tools that run real pipelines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci import workspace
from tests.forges import tools
from tests.forges.github_server import GitHubServer, Token

APP_TOKEN = "ghs_" + "a1" * 18  # what GITHUB_TOKEN is: a GitHub App installation token
CLASSIC_TOKEN = "ghp_" + "c3" * 18  # a personal access token: no check runs
READ_ONLY_TOKEN = "ghs_" + "r0" * 18  # what a fork's pull request gets
REPO = "acme/fleet"


@pytest.fixture(scope="session")
def project_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean copy of this project: what `uses: .../actions@v...` or a component fetches."""
    return workspace.source_copy(tmp_path_factory.mktemp("project") / "gitops-runner")


@pytest.fixture(scope="session")
def runner_wheel(project_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip install gitops-runner==VERSION` would fetch, built from the copy."""
    return workspace.build_wheel(project_source, tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="session")
def github_spec() -> Path:
    return tools.github_openapi()


@pytest.fixture(scope="session")
def github_api(github_spec: Path) -> Iterator[GitHubServer]:
    server = GitHubServer(github_spec, {APP_TOKEN: Token("app"), CLASSIC_TOKEN: Token("classic"),
                                        READ_ONLY_TOKEN: Token("app", write=False)},
                          repositories=frozenset({REPO}))
    server.start()
    yield server
    server.stop()
