"""Exceptions the judge raises when learner code misbehaves.

Design choice: a learner exception never crosses the pipe as an exception object (no pickle); the learner host
sends its type name, message and a learner-facing traceback, and the judge raises one of these classes.
"""

from __future__ import annotations


class LearnerError(Exception):
    """Learner code raised; carries the learner-side type name, message and traceback text."""

    def __init__(self, type_name: str, message: str, traceback: str = "") -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.traceback = traceback

    def describe(self) -> str:
        """The text a learner sees: type, message and the traceback through their files."""
        if isinstance(self, LearnerTimeout | LearnerCrashed):
            return self.message
        head = str(self)
        trace = self.traceback.rstrip()
        if trace.endswith(head):  # a traceback ends with the error line: say it once, first
            trace = trace[: -len(head)].rstrip()
        return f"{head}\n{trace}" if trace else head


class LearnerTimeout(LearnerError):
    """A call into learner code ran past its per-call deadline; the learner process was stopped."""


class LearnerCrashed(LearnerError):
    """The learner process is gone (it exited, was killed, or hit a resource limit)."""
