"""The comment body, status descriptions, Secret masking and reading reports back."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.manifest import ObjectKey
from runner.publish import comment
from runner.publish.comment import Validation
from runner.publish.http import next_link, redact
from tests.unit.publish.conftest import make_report, validation, write_report


def test_a_report_reads_back_as_written(tmp_path: Path) -> None:
    report = make_report("apply")
    loaded = comment.load_report(write_report(tmp_path / "r.json", report))
    assert loaded.to_json() | {"startedAt": ""} == report.to_json() | {"startedAt": ""}


def test_secret_diffs_are_masked_whatever_wrote_them() -> None:
    key = ObjectKey("", "Secret", "apps", "creds")
    diff = ("--- live\n+++ desired\n@@ -1,6 +1,7 @@\n apiVersion: v1\n data:\n"
            "-  password: '***'\n+  password: aHVudGVyMg==\n+  cert: |\n+    -----BEGIN\n"
            "   user: '*** (changed)'\n kind: Secret\n stringData:\n+  plain: hunter2\n")
    masked = comment.mask_secret_diff(key, diff)
    assert "aHVudGVyMg==" not in masked and "hunter2" not in masked
    assert "BEGIN" not in masked
    assert "+  password: '***'" in masked and "   user: '*** (changed)'" in masked
    assert " kind: Secret" in masked
    other = ObjectKey("", "ConfigMap", "apps", "settings")
    assert comment.mask_secret_diff(other, "+  password: x\n") == "+  password: x\n"


def test_code_fences_in_diffs_cannot_break_the_comment() -> None:
    key = ObjectKey("", "ConfigMap", "apps", "docs")
    assert "```" not in comment.mask_secret_diff(key, "+  readme: ```sh\n")


def test_descriptions() -> None:
    plan = make_report()
    assert comment.description(plan, None) == (
        "plan: 2 to create, 2 to change, 2 to delete (2 Kustomizations)")
    failed = make_report("apply", failed=True)
    assert comment.description(failed, None).startswith(
        "apply failed: 1 of 2 Kustomizations failed (flux-system/apps-0)")
    invalid = Validation(False, validation(4)["findings"])
    assert comment.description(None, invalid) == "validation failed: 4 errors"
    assert len(comment.description(failed, invalid)) <= 140


def test_markers_are_per_context_and_hidden() -> None:
    assert comment.marker("a") != comment.marker("b")
    assert comment.marker("x --> y").count("-->") == 1
    body = comment.body("ctx", make_report(), None, 65_536)
    assert body.startswith("<!-- gitops-runner:sticky ctx -->\n")
    assert comment.is_sticky(body, "ctx") and not comment.is_sticky(body, "other")


def test_bodies_respect_any_limit() -> None:
    report = make_report(kustomizations=20, diff_lines=200)
    for limit in (5_000, 20_000, 65_536):
        assert len(comment.body("ctx", report, Validation(False, validation(80)["findings"]),
                                limit)) <= limit
    assert len(comment.fit_bytes("é" * 100, 51).encode()) <= 51


def test_http_helpers() -> None:
    link = ('<https://api.github.com/x?page=2>; rel="next", '
            '<https://api.github.com/x?page=5>; rel="last"')
    assert next_link(link) == "https://api.github.com/x?page=2"
    assert next_link('<https://api.github.com/x?page=1>; rel="prev"') == ""
    assert redact("token ghp_abcdefghijklmnopqrstuvwxyz and glpat-abcdefghijklmnop") == \
        "token *** and ***"


def test_a_drift_report_publishes_its_findings(tmp_path: Path) -> None:
    drift_model = pytest.importorskip("runner.drift.model")
    report = make_report("drift", kustomizations=1)
    report.kustomizations[0].drift = [drift_model.Drift(
        drift_model.DriftKind.MODIFIED, ObjectKey("", "Secret", "apps", "creds"),
        fields=["data.password"], diff="--- live\n+++ desired\n data:\n-  password: c2VjcmV0\n"
                                       "+  password: '***'\n")]
    loaded = comment.load_report(write_report(tmp_path / "drift.json", report))
    drift = loaded.kustomizations[0].drift
    assert drift is not None and drift[0].fields == ["data.password"]
    assert drift[0].diff is not None and "c2VjcmV0" not in drift[0].diff
    assert comment.description(loaded, None) == "drift: 1 modified (1 Kustomization)"
    assert not comment.succeeded(loaded, None)
