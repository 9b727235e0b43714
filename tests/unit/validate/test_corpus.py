"""Every case of tests/validate_corpus has the verdict and the rules expected.yaml says."""

from __future__ import annotations

from typing import Any

import pytest

from runner.validate import engine
from tests.unit.validate.conftest import CORPUS, expected_cases

CASES = expected_cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_corpus_verdicts(case: str) -> None:
    expected: dict[str, Any] = CASES[case]
    result = engine.validate_files([str(CORPUS / case)], engine.Options(workers=1))
    errors = [f for f in result.all_findings() if f.severity == "error"]
    assert ("valid" if result.valid else "invalid") == expected["verdict"], errors
    assert {f.rule for f in errors} == set(expected.get("rules", [])), errors
    for finding in errors:
        assert finding.file.endswith(case) and finding.line > 0, finding


def test_every_file_of_the_corpus_has_an_expectation() -> None:
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("*/*") if p.is_file()}
    assert files == set(CASES)


def test_findings_point_at_the_offending_line() -> None:
    result = engine.validate_files([str(CORPUS / "invalid/schema-unknown-field.yaml")],
                                   engine.Options(workers=1))
    [finding] = result.all_findings()
    assert (finding.line, finding.path) == (8, "/spec/ports/0/targetport")


def test_whole_corpus_in_parallel_equals_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PARALLEL_THRESHOLD", 1)  # fork workers even for 21 files
    together = engine.validate_files([str(CORPUS / "valid"), str(CORPUS / "invalid")],
                                     engine.Options(workers=2))
    assert together.files == len(CASES)
    single = sorted((f.file, f.line, f.rule) for case in CASES for f in engine.validate_files(
        [str(CORPUS / case)], engine.Options(workers=1)).all_findings()
        if f.rule != "duplicate-object")
    duplicates_across_files = [f for f in together.all_findings()
                               if f.rule == "duplicate-object" and "duplicate-object" not in
                               f.file]
    rest = sorted((f.file, f.line, f.rule) for f in together.all_findings()
                  if f.rule != "duplicate-object")
    assert rest == single
    # The corpus repeats names across files (web, settings): across files they collide.
    assert duplicates_across_files


def test_exit_codes_and_stdin(cli: Any) -> None:
    assert cli("-f", str(CORPUS / "valid/deployment.yaml")).exit_code == 0
    assert cli("-f", str(CORPUS / "invalid/name.yaml")).exit_code == 1
    missing = cli("-f", str(CORPUS / "nope.yaml"))
    assert missing.exit_code == 2 and "no such file" in missing.output
    assert cli().exit_code == 2  # neither --path nor -f
    piped = cli("-f", "-", stdin=(CORPUS / "invalid/schema-type.yaml").read_text())
    assert piped.exit_code == 1 and "<stdin>:5" in piped.output


def test_strict_skip_reject_and_missing_schemas(cli: Any) -> None:
    unknown_field = str(CORPUS / "invalid/schema-unknown-field.yaml")
    assert cli("-f", unknown_field, "--no-strict").exit_code == 0
    duplicate_key = str(CORPUS / "invalid/duplicate-key.yaml")
    assert cli("-f", duplicate_key, "--no-strict").exit_code == 0
    missing = str(CORPUS / "invalid/schema-missing.yaml")
    assert cli("-f", missing, "--ignore-missing-schemas").exit_code == 0
    assert cli("-f", missing, "--skip", "Gadget").exit_code == 0
    assert cli("-f", missing, "--skip", "example.org/v1/Gadget").exit_code == 0
    rejected = cli("-f", str(CORPUS / "valid/list.json"), "--reject", "Secret,Pod")
    assert rejected.exit_code == 1 and "rejected-kind" in rejected.output


def test_unknown_kubernetes_version_cannot_run(cli: Any) -> None:
    result = cli("-f", str(CORPUS / "valid/deployment.yaml"), "--kubernetes-version", "1.20.0")
    assert result.exit_code == 2 and "no built-in schemas for Kubernetes 1.20.0" in result.output
    same_minor = cli("-f", str(CORPUS / "valid/deployment.yaml"), "--kubernetes-version", "1.35")
    assert same_minor.exit_code == 0
