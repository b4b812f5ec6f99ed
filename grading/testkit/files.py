"""Files in the learner's process, for tests that hand a learner's code paths and read back what it wrote.

Design choice: files cross as text through ``pathlib.Path(...).read_text()`` / ``write_text()`` calls made in
the learner's process (UTF-8 always, whatever its locale); the judge never reads the learner's filesystem.
"""

from __future__ import annotations

from typing import Any


class LearnerFiles:
    """``mkdtemp()``, ``tmpfile(name)``, ``write``, ``read``, ``exists``, ``join``, all run in the learner's process."""

    def __init__(self, learner: Any, prefix: str, filename: str = "data.txt") -> None:
        self._path = learner.module("pathlib").Path
        self._tempfile = learner.module("tempfile")
        self._os_path = learner.module("os.path")
        self.prefix = prefix
        self.filename = filename

    def mkdtemp(self) -> str:
        """A new empty folder."""
        return self._tempfile.mkdtemp(prefix=self.prefix)

    def tmpfile(self, name: str | None = None) -> str:
        """A path ``name`` (default: ``filename``) in a new empty folder; the file does not exist yet."""
        return self._os_path.join(self.mkdtemp(), name or self.filename)

    def write(self, path: str, text: str) -> None:
        self._path(path).write_text(text, encoding="utf-8")

    def read(self, path: str) -> str:
        return self._path(path).read_text(encoding="utf-8")

    def exists(self, path: str) -> bool:
        return self._os_path.exists(path)

    def join(self, *parts: str) -> str:
        return self._os_path.join(*parts)
