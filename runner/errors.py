"""Errors the runner reports to users.

Every error a user can meet says what went wrong, on which file or object, and what to do
about it. The CLI prints `message` and `hint` and exits with `exit_code`; nothing else in the
package prints tracebacks for these.
"""

from __future__ import annotations

import copy


class RunnerError(Exception):
    """A failure caused by the input, the environment or the cluster, explained for a user."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def located(self, where: str) -> RunnerError:
        """A copy of this error (same type and hint) whose message starts with `where`."""
        if self.message.startswith(where):
            return self
        clone = copy.copy(self)
        clone.message = f"{where}: {self.message}"
        clone.args = (clone.message,)
        return clone
