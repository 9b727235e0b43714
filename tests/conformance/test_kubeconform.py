"""Conformance: on the shared part of tests/validate_corpus, our verdicts agree with
kubeconform's (v0.8.0, built from its Go module by `peers.kubeconform()`).

kubeconform gets the same schemas, in its own file layout (runner.validate.export writes the
built-in Kubernetes v1.35.4 and Flux kinds to a temporary directory), the same strictness
(`-strict`, so the `-strict` schemas and duplicate-key checks) and the same Kubernetes
version. Each case whose verdict differs says why in expected.yaml (`kubeconform_differs`):
the rules kubeconform does not have (CEL, names, scope, duplicates across objects, CRDs of
the input). A case where both say invalid but kubeconform only because it has no schema
says so too (`kubeconform_reason: missing schema`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import peers
from runner.validate import engine
from runner.validate.export import write_kubeconform_layout
from tests.unit.validate.conftest import CORPUS, expected_cases

CASES = expected_cases()
KUBERNETES_VERSION = "1.35.4"


@pytest.fixture(scope="module")
def kubeconform() -> Path:
    reason = peers.available()
    if reason:
        pytest.skip(reason)
    return peers.kubeconform()


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("kubeconform-schemas")
    write_kubeconform_layout(directory, KUBERNETES_VERSION, strict=True)
    return directory


def run_kubeconform(binary: Path, schema_dir: Path, path: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [str(binary), "-strict", "-kubernetes-version", KUBERNETES_VERSION,
         "-schema-location", str(schema_dir), "-output", "json", "-summary", str(path)],
        capture_output=True, text=True, check=False, timeout=120)
    report: dict[str, Any] = json.loads(completed.stdout or "{}")
    report["exit"] = completed.returncode
    return report


@pytest.mark.parametrize("case", sorted(CASES))
def test_verdicts_agree_with_kubeconform(case: str, kubeconform: Path,
                                         schema_dir: Path) -> None:
    expected = CASES[case]
    theirs = run_kubeconform(kubeconform, schema_dir, CORPUS / case)
    their_verdict = "valid" if theirs["exit"] == 0 else "invalid"
    ours = engine.validate_files([str(CORPUS / case)], engine.Options(workers=1))
    our_verdict = "valid" if ours.valid else "invalid"
    assert our_verdict == expected["verdict"]
    assert their_verdict == expected["kubeconform"], theirs
    if our_verdict != their_verdict:
        assert expected.get("kubeconform_differs"), f"{case}: unexplained difference"
    messages = " ".join(str(r.get("msg", "")) for r in theirs.get("resources", []))
    missing_schema = "could not find schema" in messages
    assert missing_schema == (expected.get("kubeconform_reason") == "missing schema"), theirs


def test_same_schema_errors_on_a_shared_case(kubeconform: Path, schema_dir: Path) -> None:
    """Where both have the rule, both point at the same field."""
    case = CORPUS / "invalid/schema-unknown-field.yaml"
    theirs = run_kubeconform(kubeconform, schema_dir, case)
    [resource] = theirs["resources"]
    assert "at '/spec/ports/0': additional properties 'targetport' not allowed" in \
        resource["msg"]
    ours = engine.validate_files([str(case)], engine.Options(workers=1))
    assert [f.path for f in ours.all_findings()] == ["/spec/ports/0/targetport"]
