"""What a submission is graded against: the module's metadata and the learner's workspace.

Design choices:
- ``module.yaml`` is read with ``yaml.safe_load`` and only the fields the engine needs are kept
  (:class:`ModuleSpec`); the content engineer's schema test owns the full validation.
- Submitted files are checked before anything starts (:func:`validate_files`): only the module's editable
  paths, no absolute paths, no ``..``, no backslashes or NULs, UTF-8 text, per-file and total size caps.  A
  violation is a :class:`SubmissionError` (a learner problem, never a platform fault).
- The workspace is a copy of ``nanochat_ref/`` as package ``nanochat/`` minus the files the module's learner
  edits (and minus their references), then the submitted files; an editable file that was not submitted falls
  back to the module's starter so imports behave as in the learner's editor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_FILE_BYTES = 512 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024
ENGINE_KEYS = ("call_seconds",)


class SubmissionError(ValueError):
    """A submission the engine refuses to run (bad path, too large, not UTF-8)."""


@dataclass(frozen=True)
class EditableFile:
    path: str
    starter: str | None = None
    reference: str | None = None


@dataclass
class ModuleSpec:
    """The parts of ``module.yaml`` the engine uses."""

    slug: str
    root: Path
    files: list[EditableFile]
    steps: list[str] = field(default_factory=list)
    limits: dict[str, Any] = field(default_factory=dict)
    runtime: str = "python"

    @property
    def editable_paths(self) -> list[str]:
        return [f.path for f in self.files]


def load_module(module_dir: Path) -> ModuleSpec:
    """Read ``module_dir/module.yaml``; raise ``ValueError`` if it is missing or malformed."""
    module_dir = Path(module_dir)
    data = yaml.safe_load((module_dir / "module.yaml").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("module.yaml must be a mapping")
    files = []
    for entry in data.get("files") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ValueError("module.yaml files need a path")
        files.append(EditableFile(entry["path"], entry.get("starter"), entry.get("reference")))
    if not files:
        raise ValueError("module.yaml lists no editable files")
    runtime = str(data.get("runtime") or "python")
    if runtime not in ("python", "torch"):
        raise ValueError(f"unknown runtime {runtime!r}")
    limits = data.get("limits") or {}
    if not isinstance(limits, dict):
        raise ValueError("module.yaml limits must be a mapping")
    steps = [str(s["id"]) for s in data.get("steps") or [] if isinstance(s, dict) and "id" in s]
    return ModuleSpec(
        str(data.get("slug") or module_dir.name), module_dir, files, steps, dict(limits), runtime
    )


def _check_path(path: object) -> str:
    if not isinstance(path, str) or not path:
        raise SubmissionError("file paths must be non-empty strings")
    if "\\" in path or "\0" in path or path.startswith("/"):
        raise SubmissionError(f"file path {path[:100]!r} must be a relative POSIX path")
    if ".." in PurePosixPath(path).parts or str(PurePosixPath(path)) != path:
        raise SubmissionError(f"file path {path[:100]!r} must be normalised, without '..'")
    return path


def validate_files(module: ModuleSpec, files: dict[str, bytes]) -> dict[str, bytes]:
    """Check submitted files against the module's editable paths; return them as bytes."""
    if not isinstance(files, dict):
        raise SubmissionError("files must be a mapping of path to content")
    allowed = set(module.editable_paths)
    total = 0
    out: dict[str, bytes] = {}
    for path, content in files.items():
        _check_path(path)
        if path not in allowed:
            raise SubmissionError(
                f"{path} is not a file of this module (editable: {', '.join(sorted(allowed))})"
            )
        data = content.encode("utf-8") if isinstance(content, str) else content
        if not isinstance(data, bytes):
            raise SubmissionError(f"{path}: content must be text")
        if len(data) > MAX_FILE_BYTES:
            raise SubmissionError(f"{path} is larger than {MAX_FILE_BYTES // 1024} KiB")
        total += len(data)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise SubmissionError(f"{path} is not UTF-8 text") from None
        out[path] = data
    if total > MAX_TOTAL_BYTES:
        raise SubmissionError(f"the submission is larger than {MAX_TOTAL_BYTES // 1024} KiB")
    return out


def reference_files(repo_root: Path = REPO_ROOT) -> dict[str, bytes]:
    """``nanochat_ref/**`` as workspace paths ``nanochat/**`` (no caches, no compiled files)."""
    ref = repo_root / "nanochat_ref"
    out: dict[str, bytes] = {}
    for path in sorted(ref.rglob("*")):
        rel = path.relative_to(ref)
        if (
            path.is_file()
            and not path.is_symlink()
            and "__pycache__" not in rel.parts
            and path.suffix != ".pyc"
        ):
            out[str(PurePosixPath("nanochat", *rel.parts))] = path.read_bytes()
    return out


def build_workspace(
    module: ModuleSpec, files: dict[str, bytes], repo_root: Path = REPO_ROOT
) -> dict[str, bytes]:
    """The learner's workspace: reference package minus edited files, plus starters, plus the submission."""
    workspace = reference_files(repo_root)
    for f in module.files:
        workspace.pop(f.path, None)
        if f.reference and f.reference.startswith("nanochat_ref/"):
            workspace.pop("nanochat/" + f.reference.removeprefix("nanochat_ref/"), None)
        if f.path not in files and f.starter:
            starter = module.root / f.starter
            if starter.is_file():
                workspace[f.path] = starter.read_bytes()
    workspace.update(files)
    return workspace
