"""Findings in the formats CI systems read: text, json, junit, github, gitlab."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import orjson

from runner.validate.engine import Result
from runner.validate.model import Finding, ObjectResult

FORMATS = ("text", "json", "junit", "github", "gitlab")


def render(result: Result, output: str, summary: bool) -> str:
    writers: dict[str, Callable[[Result, bool], str]] = {
        "text": text, "json": json_report, "junit": junit, "github": github, "gitlab": gitlab}
    return writers[output](result, summary)


def _where(finding: Finding) -> str:
    if finding.file and finding.line:
        return f"{finding.file}:{finding.line}: "
    return f"{finding.file}: " if finding.file else ""


def describe(finding: Finding) -> str:
    subject = finding.object or finding.kustomization
    if finding.object and finding.kustomization:
        subject = f"{finding.object} (Kustomization {finding.kustomization})"
    elif finding.kustomization:
        subject = f"Kustomization {finding.kustomization}"
    return f"{subject}: {finding.message}" if subject else finding.message


def summary_line(result: Result) -> str:
    counts = result.counts()
    return (f"Summary: {counts['resources']} resources found in {counts['files']} files - "
            f"Valid: {counts['valid']}, Invalid: {counts['invalid']}, "
            f"Skipped: {counts['skipped']}, Errors: {counts['errors']}, "
            f"Warnings: {counts['warnings']}")


def text(result: Result, summary: bool) -> str:
    lines = []
    for finding in result.all_findings():
        lines.append(f"{_where(finding)}{finding.severity}: {describe(finding)} "
                     f"[{finding.rule}]")
        if finding.hint:
            lines.append(f"  hint: {finding.hint}")
    if summary or not lines:
        lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def json_report(result: Result, summary: bool) -> str:
    payload = {"valid": result.valid, "summary": result.counts(),
               "findings": [f.as_dict() for f in result.all_findings()]}
    if summary:
        payload["seconds"] = {k: round(v, 3) for k, v in result.seconds.items()}
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n"


def junit(result: Result, summary: bool) -> str:
    """One test suite per Kustomization (or file), one test case per object."""
    from xml.sax.saxutils import escape, quoteattr  # imports http.client: only when needed

    suites: dict[str, list[ObjectResult]] = {}
    for obj in result.objects:
        suites.setdefault(obj.kustomization or obj.file or "input", []).append(obj)
    counts = result.counts()
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="gitops-runner validate" tests="{counts["resources"]}" '
           f'failures="{counts["invalid"]}" skipped="{counts["skipped"]}">']
    for suite, objects in suites.items():
        failures = sum(o.status == "invalid" for o in objects)
        skipped = sum(o.status == "skipped" for o in objects)
        out.append(f'  <testsuite name={quoteattr(suite)} tests="{len(objects)}" '
                   f'failures="{failures}" skipped="{skipped}">')
        for obj in objects:
            out.append(f'    <testcase classname={quoteattr(suite)} name={quoteattr(obj.object)}'
                       f' file={quoteattr(obj.file)} line="{obj.line}">')
            if obj.status == "skipped":
                out.append("      <skipped/>")
            for finding in obj.findings:
                if finding.severity == "error":
                    out.append(f'      <failure type={quoteattr(finding.rule)} '
                               f'message={quoteattr(finding.message)}>'
                               f'{escape(_where(finding) + finding.hint)}</failure>')
            out.append("    </testcase>")
        out.append("  </testsuite>")
    general = [f for f in result.findings if f.severity == "error"]
    if general:
        out.append(f'  <testsuite name="repository" tests="{len(general)}" '
                   f'failures="{len(general)}">')
        for finding in general:
            out.append(f'    <testcase classname="repository" name={quoteattr(finding.rule)}>'
                       f'<failure message={quoteattr(describe(finding))}/></testcase>')
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def _github_escape(value: str, property_value: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(result: Result, summary: bool) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    lines = []
    for finding in result.all_findings():
        command = "error" if finding.severity == "error" else "warning"
        properties = [f"title={_github_escape(finding.rule, True)}"]
        if finding.file:
            properties.insert(0, f"file={_github_escape(finding.file, True)}")
            if finding.line:
                properties.insert(1, f"line={finding.line}")
        message = describe(finding) + (f"\nhint: {finding.hint}" if finding.hint else "")
        lines.append(f"::{command} {','.join(properties)}::{_github_escape(message)}")
    if summary:
        lines.append(summary_line(result))
    return "\n".join(lines) + ("\n" if lines else "")


def gitlab(result: Result, summary: bool) -> str:
    """A GitLab Code Quality report (a JSON array of issues)."""
    issues = []
    for finding in result.all_findings():
        description = describe(finding)
        fingerprint = hashlib.sha256(
            f"{finding.rule}|{finding.object}|{finding.file}|{finding.message}".encode()
        ).hexdigest()
        issues.append({
            "description": description,
            "check_name": finding.rule,
            "fingerprint": fingerprint,
            "severity": "major" if finding.severity == "error" else "minor",
            "location": {"path": finding.file or "<render>",
                         "lines": {"begin": max(finding.line, 1)}},
        })
    return orjson.dumps(issues, option=orjson.OPT_INDENT_2).decode() + "\n"
