"""What a submission is graded against: the module spec and the learner's workspace.

Design choices:
- The module is read by :mod:`modules.spec` — the one loader, Django-free, shared with the platform — and learner
  files are checked by its :func:`~modules.spec.validate_files` (editable paths only, normalised relative paths,
  UTF-8 text without NUL, the module's per-file and total caps). A violation is a :class:`SubmissionError` (a
  learner problem, never a platform fault).
- The workspace is a copy of ``nanochat_ref/`` as package ``nanochat/`` minus the files the module's learner
  edits (and minus their references), then the submitted files; an editable file that was not submitted is its
  starter, generated from the reference (:mod:`modules.starters`), so imports behave as in the learner's editor.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from modules import spec as module_spec
from modules import starters
from modules.spec import ModuleSpec, SpecError, SubmissionError

REPO_ROOT = module_spec.REPO_ROOT
ENGINE_KEYS = ("call_seconds",)

__all__ = [
    "ENGINE_KEYS",
    "ModuleSpec",
    "SpecError",
    "SubmissionError",
    "build_workspace",
    "load_module",
    "reference_files",
    "validate_files",
]


def load_module(module_dir: Path) -> ModuleSpec:
    """The module spec of ``module_dir`` (cached per module.yaml version); raises :class:`SpecError`."""
    return module_spec.load(Path(module_dir))


def validate_files(module: ModuleSpec, files: object) -> dict[str, bytes]:
    """Check submitted files against the module; return them as UTF-8 bytes."""
    return {path: text.encode("utf-8") for path, text in module_spec.validate_files(module, files).items()}


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
    for entry in module.files:
        workspace.pop(entry.path, None)
        if entry.reference_package_path is not None:
            workspace.pop(entry.reference_package_path, None)
        if entry.path not in files:
            workspace[entry.path] = starters.starter_text(module, entry, repo_root).encode("utf-8")
    workspace.update(files)
    return workspace
