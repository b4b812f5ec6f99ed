"""Figures for the handouts, as the platform sees them: a folder of generated files and its manifest.

Design choices:
- Figures are computed from the reference code by ``scripts/figures`` (``make figures``), which imports torch;
  the web process never does. It reads ``<figures dir>/manifest.json`` (default ``var/figures``, setting
  ``LAB_FIGURES_DIR``), which lists each figure (``<slug>/<name>``), its kind (``svg`` or ``plot``: a Plotly
  spec, ``labplatform/schemas/guide-plot.schema.json``), its file per language and the SHA-256 of every file it
  was computed from.
- :func:`figures_ensure` (the content sync) regenerates the folder, as a subprocess, when the manifest is missing
  or stale: a figure's file is gone, or an input it names differs from what the repository holds now. An input
  the deployment does not carry (a web image without ``nanochat_ref``) cannot be judged and is trusted. A figure a
  guide names that a fresh manifest does not list is unknown: no regeneration would make it appear.
- The pages never read this folder: the sync copies the figures a guide shows into the module's payload, so every
  web process serves the same figure, and the figure is part of the module's content hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
GENERATOR_MODULE = "scripts.figures"
GENERATOR_TIMEOUT_SECONDS = 600
KINDS = ("svg", "plot")


@dataclass(frozen=True)
class Figure:
    key: str  # <slug>/<name>
    kind: str  # svg | plot
    files: dict[str, str]  # language -> path relative to the figures folder
    inputs: dict[str, str]  # repository path -> sha256 of the bytes the figure was computed from


@dataclass
class FigureIndex(Mapping[str, dict[str, str]]):
    """The figures available to a content sync, by key: ``{"kind": ..., "<lang>": file text}`` (read once, when
    first asked for). ``error`` says why (re)generating them failed, if it did."""

    root: Path
    figures: dict[str, Figure] = field(default_factory=dict)
    error: str | None = None
    _texts: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def __getitem__(self, key: str) -> dict[str, str]:
        if key not in self._texts:
            figure = self.figures[key]
            out = {"kind": figure.kind}
            for lang, rel in sorted(figure.files.items()):
                out[lang] = (self.root / rel).read_text(encoding="utf-8")
            self._texts[key] = out
        return self._texts[key]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.figures))

    def __len__(self) -> int:
        return len(self.figures)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_read(root: Path) -> dict[str, Figure] | None:
    """The figures the manifest lists; None when there is no readable manifest of this version."""
    try:
        data = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        return None
    figures = {}
    try:
        for key, entry in data["figures"].items():
            if entry["kind"] not in KINDS:
                return None
            figures[key] = Figure(
                key=key, kind=entry["kind"], files=dict(entry["files"]), inputs=dict(entry["inputs"])
            )
    except (KeyError, TypeError, AttributeError):
        return None
    return figures


def stale(figures: dict[str, Figure], root: Path, repo_root: Path) -> list[str]:
    """Keys of the figures whose file is missing or whose inputs changed (inputs not present are trusted)."""
    out = []
    hashes: dict[str, str] = {}
    for key, figure in sorted(figures.items()):
        if any(not (root / rel).is_file() for rel in figure.files.values()):
            out.append(key)
            continue
        for rel, digest in figure.inputs.items():
            path = repo_root / rel
            if not path.is_file():
                continue
            if rel not in hashes:
                hashes[rel] = sha256_file(path)
            if hashes[rel] != digest:
                out.append(key)
                break
    return out


def generate(root: Path, repo_root: Path) -> str | None:
    """Run the generator (a subprocess: it imports torch); returns None, or why it failed."""
    package = repo_root / Path(*GENERATOR_MODULE.split("."))
    if not (package / "__main__.py").is_file():
        return f"the figure generator ({GENERATOR_MODULE}) is not part of this deployment"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", GENERATOR_MODULE, "--out", str(root)],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=GENERATOR_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"python -m {GENERATOR_MODULE} failed: {exc}"
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        return f"python -m {GENERATOR_MODULE} exited with {proc.returncode}: {tail}"
    return None


def figures_ensure(*, root: Path, repo_root: Path) -> FigureIndex:
    """The figures of ``root``, regenerated first when the manifest is missing or stale."""
    root, repo_root = Path(root), Path(repo_root)
    figures = manifest_read(root)
    if figures is not None and not stale(figures, root, repo_root):
        return FigureIndex(root=root, figures=figures)
    error = generate(root, repo_root)
    figures = manifest_read(root)
    if error is None and figures is None:
        error = f"{root / MANIFEST_NAME} is missing after generating the figures"
    if figures and error is None and (left := stale(figures, root, repo_root)):
        error = f"figures still stale after generating them: {', '.join(left)}"
    return FigureIndex(root=root, figures=figures or {}, error=error)


def manifest_write(root: Path, figures: dict[str, Figure]) -> dict[str, Any]:
    """Write the manifest (sorted, so regenerating writes the same bytes); used by the generator."""
    data = {
        "version": MANIFEST_VERSION,
        "figures": {
            key: {
                "kind": figure.kind,
                "files": dict(sorted(figure.files.items())),
                "inputs": dict(sorted(figure.inputs.items())),
            }
            for key, figure in sorted(figures.items())
        },
    }
    atomic_write(root / MANIFEST_NAME, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return data


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file and a rename, so a concurrent reader never sees half a file. The
    temporary file is each writer's own (``mkstemp``), so two threads writing one figure never share it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(name, 0o644)  # as write_text made it (mkstemp's file is 0600); the web process serves it
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
