"""What a submission is graded against: the module spec and the learner's workspace.

Design choices:
- The module is read by :mod:`modules.spec` — the one loader, Django-free, shared with the platform — and learner
  files are checked by its :func:`~modules.spec.validate_files` (editable paths only, normalised relative paths,
  UTF-8 text without NUL, the module's per-file and total caps). A violation is a :class:`SubmissionError` (a
  learner problem, never a platform fault).
- A Rust learner file brings its crate's other files (``Cargo.toml``, ``Cargo.lock``, ``.cargo/config.toml``)
  as the repository has them, so the learner host can compile it (:mod:`.rustbuild`).
- The workspace holds the module's learner files (as submitted; a file that was not submitted is its starter,
  generated from the reference by :mod:`modules.starters`) and the nanochat files the module declares it needs
  (``needs``) — nothing else, so no reference a learner may not open is ever readable in their sandbox. A needed
  file comes from ``provided`` when the platform hands one over (the learner's own passing file of the module
  that writes it), else from the reference package with the parts of every module the learner has not done cut
  out (``done``: the modules whose solutions they may read; the CLI, which knows no learner, uses the module's
  prerequisites, transitively).
"""

from __future__ import annotations

from pathlib import Path

from modules import spec as module_spec
from modules import starters
from modules.spec import ModuleSpec, SpecError, SubmissionError, crate_attempted

REPO_ROOT = module_spec.REPO_ROOT
ENGINE_KEYS = ("call_seconds",)

__all__ = [
    "ENGINE_KEYS",
    "ModuleSpec",
    "SpecError",
    "SubmissionError",
    "build_workspace",
    "crate_attempted",
    "load_module",
    "validate_files",
]


def load_module(module_dir: Path) -> ModuleSpec:
    """The module spec of ``module_dir`` (cached per module.yaml version); raises :class:`SpecError`."""
    return module_spec.load(Path(module_dir))


def validate_files(module: ModuleSpec, files: object) -> dict[str, bytes]:
    """Check submitted files against the module; return them as UTF-8 bytes."""
    return {path: text.encode("utf-8") for path, text in module_spec.validate_files(module, files).items()}


def build_workspace(
    module: ModuleSpec,
    files: dict[str, bytes],
    repo_root: Path = REPO_ROOT,
    *,
    done: set[str] | None = None,
    provided: dict[str, bytes] | None = None,
) -> dict[str, bytes]:
    """The learner's workspace: their files (or starters) plus the module's needs, as they may see them."""
    specs = {**module_spec.course(module.root.parent), module.slug: module}
    workspace: dict[str, bytes] = {}
    for entry in module.files:
        if entry.path in files:
            workspace[entry.path] = files[entry.path]
        else:
            text = starters.starter_text(module, entry, repo_root, specs=specs, done=done)
            workspace[entry.path] = text.encode("utf-8")
    for entry in module.files:
        # The crate around a Rust learner file travels as the repository has it (the file itself is theirs).
        for path in entry.crate.files if entry.crate is not None else ():
            workspace[path] = (repo_root / path).read_bytes()
    for path in module.needs:
        if provided is not None and path in provided:
            workspace[path] = provided[path]
        else:
            workspace[path] = starters.needed_file(module, path, repo_root, specs=specs, done=done)
    return workspace
