"""Starting, watching and stopping the control plane's processes.

Each process gets its own log file and its own session (so Ctrl-C in a terminal or the end of
the CLI command that started it does not kill it). A process is identified by its pid and
its start time (from /proc), so a recycled pid of somebody else's process is never signalled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RunnerError


@dataclass(frozen=True)
class ProcessInfo:
    """A started process: enough to find its log and to stop it later, even from another run."""

    name: str
    pid: int
    executable: str
    log_file: Path
    start_ticks: int  # /proc/<pid>/stat field 22: the same pid started later differs here
    args: tuple[str, ...] = ()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(name: str, executable: Path, args: list[str], log_dir: Path) -> ProcessInfo:
    log_file = log_dir / f"{name}.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [str(executable), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return ProcessInfo(name, process.pid, str(executable), log_file,
                       int(_stat_fields(process.pid)[19]), tuple(args))


def is_running(info: ProcessInfo) -> bool:
    """True if `info.pid` is alive and is still the process we started."""
    try:
        fields = _stat_fields(info.pid)
    except (OSError, IndexError, ValueError):
        return False
    # A zombie (state Z) has exited; it lingers only until its parent reaps it.
    return fields[0] != "Z" and int(fields[19]) == info.start_ticks


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the `(comm)` field: [state, ppid, ...]; [19] is the start time.
    (The command line is not used: it reads empty for a moment while a process execs.)"""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def stop(info: ProcessInfo, grace_seconds: float = 10.0) -> None:
    if not is_running(info):
        return
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        _reap(info.pid)
        if not is_running(info):
            return
        time.sleep(0.05)
    os.kill(info.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while is_running(info) and time.monotonic() < deadline:
        _reap(info.pid)
        time.sleep(0.02)


def _reap(pid: int) -> None:
    """Collect the exit status of a child we started, so it does not stay a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child (started by an earlier `cluster up`): init reaps it


def log_tail(info: ProcessInfo, lines: int = 30) -> str:
    try:
        text = info.log_file.read_text(errors="replace")
    except OSError:
        return "(no log written)"
    return "\n".join(text.rstrip().splitlines()[-lines:])


def wait_until(info: ProcessInfo, ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `ready` until it is true; fail with the process's log tail if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(info):
            raise RunnerError(
                f"{info.name} exited while starting (waiting for {what}); last log lines "
                f"of {info.log_file}:\n{log_tail(info)}",
                "read the log above; a port clash or a missing flag are the usual causes",
            )
        try:
            if ready():
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    raise RunnerError(
        f"{info.name} did not become ready ({what}) within {timeout:.0f}s; last log lines of "
        f"{info.log_file}:\n{log_tail(info)}",
        "the machine may be overloaded; retry, or raise --start-timeout",
    )
