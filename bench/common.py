"""Helpers shared by the benchmarks: timing, peak memory of child processes, result files."""

from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass
class Measurement:
    """Wall-clock samples of one contender on one input."""

    name: str
    seconds: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def time_call(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run_command(command: Sequence[str], **kwargs: Any) -> float:
    """Run a command to completion and return its wall time; fail loudly if it fails."""
    started = time.perf_counter()
    subprocess.run(list(command), check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - started


def children_peak_rss_mb() -> float:
    """Peak resident memory of the largest child process waited for so far, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def self_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "machine": platform.machine(), "system": platform.system()}


def write_results(name: str, command: str, results: dict[str, Any], table: str) -> None:
    """Write bench/results/<name>.json and .md (the table people read in review)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    payload = {"benchmark": name, "command": command, "date": stamp, "machine": machine(),
               "results": results}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    markdown = (f"# {name}\n\nCommand: `{command}`  \nDate: {stamp}  \n"
                f"Machine: {machine()}\n\n{table}\n")
    (RESULTS_DIR / f"{name}.md").write_text(markdown)
    print(markdown)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line() -> str:
    return "python -m bench." + Path(sys.argv[0]).stem + " " + " ".join(sys.argv[1:])


_MEASURE = ("import resource, subprocess, sys, time\n"
            "started = time.perf_counter()\n"
            "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
            "elapsed = time.perf_counter() - started\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(elapsed, peak, code)\n")


def measure(command: Sequence[str], cwd: Path | None = None,
            env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB of the largest process in the command's tree).

    The command runs under a fresh Python process whose RUSAGE_CHILDREN covers exactly the
    command and everything it started, so earlier measurements never leak into this one."""
    result = subprocess.run([sys.executable, "-c", _MEASURE, *command], cwd=cwd, env=env,
                            capture_output=True, text=True, check=True)
    seconds, peak_kb, code = result.stdout.split()
    if code != "0":
        raise RuntimeError(f"{' '.join(command)} exited {code}")
    return float(seconds), int(peak_kb) / 1024
