"""The drift report in its three forms, and the command's exit codes."""

from __future__ import annotations

import io
import json

import orjson
from rich.console import Console

from runner.cli.drift import exit_code
from runner.drift.model import Drift, DriftKind, DriftStatus
from runner.manifest import ObjectKey
from runner.report import markdown, text
from runner.report.model import KustomizationReport, Outcome, RunReport


def drift_report(*statuses: DriftStatus, ok: bool = True) -> RunReport:
    report = RunReport("drift", "clusters/prod", "main@sha1:abc", "https://k8s:6443")
    findings = [Drift(DriftKind.MODIFIED, ObjectKey("", "ConfigMap", "apps", f"c{i}"),
                      reason="differs from Git: data.k", fields=["data.k"],
                      diff="--- live\n+++ desired\n-  k: a\n+  k: b\n", status=status)
                for i, status in enumerate(statuses)]
    report.kustomizations = [
        KustomizationReport("apps", "flux-system", "./apps", drift=findings,
                            outcome=Outcome.DRIFTED if findings else Outcome.IN_SYNC),
        KustomizationReport("infra", "flux-system", "./infra", drift=[
            Drift(DriftKind.REVISION, reason="applied at main@sha1:old")] if statuses else [],
            outcome=Outcome.DRIFTED if statuses else Outcome.IN_SYNC)]
    if not ok:
        report.errors.append("boom")
    report.requests = 9
    return report


def test_json_form_has_drift_per_kustomization_and_totals() -> None:
    data = json.loads(orjson.dumps(drift_report(DriftStatus.DETECTED).to_json()))
    assert data["command"] == "drift" and data["requests"] == 9
    assert data["drift"] == {"detected": 2, "modified": 1, "revision": 1}
    finding = data["kustomizations"][0]["drift"][0]
    assert finding == {"kind": "modified", "status": "detected",
                       "object": "ConfigMap/apps/c0", "id": "apps_c0__ConfigMap",
                       "reason": "differs from Git: data.k", "fields": ["data.k"],
                       "diff": "--- live\n+++ desired\n-  k: a\n+  k: b\n"}
    assert data["kustomizations"][1]["drift"] == [
        {"kind": "revision", "status": "detected", "reason": "applied at main@sha1:old"}]


def test_apply_reports_are_unchanged_by_drift_fields() -> None:
    apply = RunReport("apply", "p")
    apply.kustomizations = [KustomizationReport("a", "ns", "./a", outcome=Outcome.APPLIED)]
    data = apply.to_json()
    assert "drift" not in data and "requests" not in data
    assert "drift" not in data["kustomizations"][0]
    assert "gitops-runner apply succeeded" in markdown.render(apply)


def test_text_form_lists_each_finding_with_its_diff() -> None:
    out = io.StringIO()
    text.print_report(drift_report(DriftStatus.DETECTED), Console(file=out, width=200))
    printed = out.getvalue()
    assert "gitops-runner drift: clusters/prod" in printed
    assert "modified ConfigMap/apps/c0: differs from Git: data.k [detected]" in printed
    assert "+  k: b" in printed
    assert "9 API requests" in printed


def test_markdown_form_says_what_happened() -> None:
    assert "### gitops-runner drift found no drift" in markdown.render(drift_report())
    found = markdown.render(drift_report(DriftStatus.DETECTED))
    assert "### gitops-runner drift found drift" in found
    assert "| `flux-system/apps` | ⚠️ drifted | 1 |" in found
    assert "```diff\n# modified ConfigMap/apps/c0" in found
    corrected = drift_report(DriftStatus.CORRECTED)
    for drift in corrected.kustomizations[1].drift or []:
        drift.status = DriftStatus.CORRECTED
    assert "### gitops-runner drift corrected drift" in markdown.render(corrected)
    small = markdown.render(drift_report(*[DriftStatus.DETECTED] * 50), max_chars=3000)
    assert len(small) <= 3000 and "Diffs were cut" in small


def test_exit_codes() -> None:
    assert exit_code(drift_report(), False, True, False) == 0
    assert exit_code(drift_report(DriftStatus.DETECTED), False, True, False) == 1
    assert exit_code(drift_report(DriftStatus.DETECTED), False, True, False, True) == 2
    assert exit_code(drift_report(DriftStatus.FAILED), True, True, False) == 2
    assert exit_code(drift_report(ok=False), False, True, False) == 2
    corrected = drift_report(DriftStatus.CORRECTED)
    corrected.kustomizations[1].drift = []
    assert exit_code(corrected, True, True, False) == 1
    assert exit_code(corrected, True, False, False) == 0
    untouched = drift_report(DriftStatus.UNTOUCHED)
    untouched.kustomizations[1].drift = []
    assert exit_code(untouched, True, False, False) == 1
    assert exit_code(untouched, True, False, True) == 0
