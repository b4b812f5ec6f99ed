""" "Assemble your own nanochat": train a stage with the learner's own files, and chat with the result.

Design choices:
- Django-free, like the rest of the engine: the platform hands over the learner's files per module (their best
  passing submission of each module the stage needs, :func:`stage_workspace`) and a per-learner store folder;
  this module builds the workspace, runs the pipeline in a sandbox and yields events.
- The workspace is what grading the stage's modules would give the learner: each of those modules' files (theirs)
  and every nanochat file they need, a needed file written by a stage module being the learner's own, the rest the
  reference with the parts of modules outside the stage cut out (:func:`grading.engine.workspace.build_workspace`
  with ``done`` = the stage's modules). No reference of a module they have not completed is ever in the sandbox.
- One sandbox job per run (``assemble_driver``: the real scripts' ``main``), on the ``long`` lane's limits (or the
  GPU's). Its stdout is untrusted: only ``@@assemble {json}`` lines and the scripts' ``step N/M ... loss: x``
  lines are read, each bounded in length, numbers checked finite, the curve capped at ``MAX_POINTS`` points.
- The model comes back on the job's stdout, the same on every backend (``docker`` discards the container's /work):
  the driver prints the tokenizer and the final checkpoint as ``put`` lines after the pipeline. They are learner
  output like the rest: only paths named like a tokenizer file or ``model_/meta_`` of the stage's final phase are
  written, into a host folder of ours, at most ``STORE_BYTES`` in all (the job's output cap bounds it too); then
  :func:`collect_model` checks that folder (a tokenizer, a last step with model and meta) and copies it into the
  learner's store (``store``: a folder the platform owns per learner and stage, mode 0700). Another learner's
  store is never mounted or copied into a job, so hostile code has nothing of anyone else's to read.
- Chat: one short sandbox job per prompt with the learner's files and their checkpoint copied in; the reference
  reply is a job of its own with ``nanochat_ref`` and the shipped checkpoints mounted read-only. Neither runs
  torch or learner code in the worker or the web process. The text so far comes back after each token and is
  handed to ``on_text`` (at most ``MAX_PARTIALS`` times), so the page can show the reply growing.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from modules import spec as module_spec

from .assemble_driver import FINAL_SOURCE, PHASE_DIRS, TOKENIZER_FILES
from .procs import ASSEMBLE_DIR_PREFIX, ENGINE_TARGET, Layout, job_env
from .redact import clean_text
from .workspace import REPO_ROOT, build_workspace

#: Where the trained model may take up room in a learner's store (tokenizer + final checkpoint, float32). It comes
#: back base64-encoded on stdout, so the job's output cap (``OUTPUT_BYTES``, the operator's 16 MiB) must hold 4/3
#: of it plus the pipeline's own lines; the tiny profile's model takes about 4.3 MB.
STORE_BYTES = 10 * 1024 * 1024
OUTPUT_BYTES = 16 * 1024 * 1024
#: How often a reply's text so far is handed on (one per token: ``assemble_driver.MAX_REPLY_TOKENS`` is 48).
MAX_PARTIALS = 64
REPLY_CHARS = 2000
#: Points of the loss curve kept (the rest are dropped by striding; ``DECISIONS.md``: metrics are downsampled).
MAX_POINTS = 200
#: The longest stdout line read; longer ones are cut (they never parse as ours).
LINE_BYTES = 4096
REF_TARGET = "/opt/ref"
BASE_DIR = "base"
#: The stage whose stored model a stage starts from (the learner's own base model for chat).
START_STORE = {"chat": "base"}
_STEP_RE = re.compile(
    rb"^(?:step|Step) (\d{1,7})(?![0-9])(?:/(\d{1,7})(?![0-9]))?(?: \((\d{1,3}(?:\.\d+)?)%\))?[^|]*\| (?:train )?loss: "
    rb"(-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?)"
)
_OURS = b"@@assemble "
_CKPT_RE = re.compile(r"^(model|meta)_[0-9]{6}\.(pt|json)$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")


def stage_workspace(
    content_root: Path, stage: str, own: Mapping[str, Mapping[str, str]], repo_root: Path = REPO_ROOT
) -> dict[str, bytes]:
    """The stage's workspace from ``own`` (module slug -> that learner's passing files).

    Every file a stage module writes is the learner's (the latest module in course order that writes it wins, as
    when the course carries work forward); the other needs come from the reference, cut to the stage's modules.
    """
    specs = module_spec.course(Path(content_root), strict=False)
    slugs = module_spec.assemble_modules(stage, specs)
    provided: dict[str, bytes] = {}
    for slug in slugs:
        for path, text in (own.get(slug) or {}).items():
            provided[path] = text.encode("utf-8")
    workspace: dict[str, bytes] = {}
    for slug in slugs:
        spec = specs[slug]
        files = {e.path: provided[e.path] for e in spec.files if e.path in provided}
        workspace.update(build_workspace(spec, files, repo_root, done=set(slugs), provided=provided))
    workspace.update({path: data for path, data in provided.items() if path in workspace})
    return workspace


# --- running a job ---------------------------------------------------------------------------------------------------
def _write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    for path, data in files.items():
        target = root / module_spec.check_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _regular(path: Path) -> bool:
    """``path`` is a regular file itself (``lstat``: a symlink is never followed)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _regular_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _copy_file(source: Path, target: Path) -> None:
    """Copy a regular file without following a symlink at ``source`` (``O_NOFOLLOW``)."""
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)


def _copy_model(store: Path, target: Path) -> None:
    """Copy a learner's stored model into a job's work dir, readable by the job's uid whatever the backend (the
    store's folders are 0700, the platform's; docker's job copies its work dir in as a uid of its own)."""
    shutil.copytree(store, target, dirs_exist_ok=True)  # regular files only: collect_model wrote them
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def collect_model(work_base: Path, stage: str, store: Path) -> int:
    """Copy the stage's tokenizer and final checkpoint from a job's base dir into ``store``; return the bytes.

    Raises ``ValueError`` (the learner's run produced no usable model, or too big a one). ``store`` is emptied first.
    """
    phase_dir = work_base / PHASE_DIRS[FINAL_SOURCE[stage]]
    picks: list[tuple[Path, str]] = []
    for name in TOKENIZER_FILES:
        if _regular(work_base / "tokenizer" / name):
            picks.append((work_base / "tokenizer" / name, f"tokenizer/{name}"))
    tags = sorted(p.name for p in phase_dir.iterdir() if _regular_dir(p)) if _regular_dir(phase_dir) else []
    if not tags or not any(rel.startswith("tokenizer/") for _, rel in picks):
        raise ValueError("the run ended without a tokenizer and a checkpoint")
    tag = tags[0]
    names = sorted(
        n for n in os.listdir(phase_dir / tag) if _CKPT_RE.match(n) and _regular(phase_dir / tag / n)
    )
    steps = sorted({n.split("_")[1].split(".")[0] for n in names})
    if not steps or not {f"model_{steps[-1]}.pt", f"meta_{steps[-1]}.json"} <= set(names):
        raise ValueError("the run ended without a checkpoint")
    for name in (f"model_{steps[-1]}.pt", f"meta_{steps[-1]}.json"):
        picks.append((phase_dir / tag / name, f"{PHASE_DIRS[FINAL_SOURCE[stage]]}/{tag}/{name}"))
    total = sum(os.lstat(src).st_size for src, _ in picks)
    if total > STORE_BYTES:
        raise ValueError(f"the model takes {total} bytes, more than the {STORE_BYTES} an assembled model may")
    if store.exists():
        shutil.rmtree(store)
    store.mkdir(mode=0o700, parents=True)
    for src, rel in picks:
        target = store / rel
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _copy_file(src, target)
    return total


class _Job:
    """One sandboxed driver run: stdout read line by line (bounded), stderr drained into a capped tail."""

    def __init__(self, sandbox: Any, argv: list[str], workdir: Path, limits: Any, env: dict[str, str], *,
                 gpu: bool = False, mounts: list[Any] | None = None) -> None:  # fmt: skip
        from sandbox.base import JobSpec

        layout = Layout.detect(sandbox)
        self.job = sandbox.start(
            JobSpec(
                argv=[layout.python(), "-s", "-m", "grading.engine.assemble_driver", *argv],
                mounts=[*layout.base_mounts(), *(mounts or [])],
                workdir=workdir,
                env=job_env(env),
                limits=limits,
                gpu=gpu,
            )
        )
        self.cap = int(limits.output_bytes)
        self.read = 0
        self.stderr = bytearray()
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()

    def _drain_stderr(self) -> None:
        while chunk := self.job.stderr.read(65536):
            self.stderr = (self.stderr + chunk)[-8192:]

    def feed(self, data: bytes) -> None:
        try:
            self.job.stdin.write(data)
            self.job.stdin.close()
        except OSError:  # pragma: no cover - the job died before reading its stdin: its result says how
            pass

    def lines(self) -> Iterator[bytes]:
        while line := self.job.stdout.readline(LINE_BYTES):
            self.read += len(line)
            if self.read > self.cap:
                self.job.kill("output_limit")
                break
            yield line.rstrip(b"\n")

    def finish(self) -> Any:
        result = self.job.wait()
        self._drain.join(timeout=2)
        for pipe in (self.job.stdout, self.job.stderr):
            pipe.close()
        return result


def _ours(line: bytes) -> dict[str, Any] | None:
    if not line.startswith(_OURS):
        return None
    try:
        value = json.loads(line[len(_OURS) :].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def parse_step(line: bytes) -> tuple[int, float | None, float] | None:
    """``(step, fraction of the step's script done or None, loss)`` from a training script's step line, else None.

    The lines are the scripts' own (``step 00010/00060 (16.67%) | loss: ...``, ``step 00010 (12.5%) | loss: ...``,
    ``Step 00001/00040 | train loss: ...``); a non-finite loss is no point.
    """
    match = _STEP_RE.match(line)
    if match is None:
        return None
    step, total, pct, loss = int(match[1]), int(match[2] or 0), _finite(match[3] or b"-1"), _finite(match[4])
    if loss is None:
        return None
    if total:
        return step, min(step / total, 1.0), loss
    return step, (min(pct / 100, 1.0) if pct is not None and pct >= 0 else None), loss


def _finite(text: bytes) -> float | None:
    """The number the step pattern matched, unless it overflows to infinity (``1e999``)."""
    value = float(text)
    return value if math.isfinite(value) else None


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _clean_text(text: Any, limit: int) -> str:
    """Text from the learner's sandbox as the platform stores it: no NUL or lone surrogate (``redact.clean_text``),
    no terminal colour codes, at most ``limit`` characters."""
    return clean_text(_ANSI_RE.sub("", str(text)))[:limit]


def _stderr_tail(data: bytes, lines: int = 12, limit: int = 1500) -> str:
    """The last lines of a job's stderr, cleaned, for the learner's message (their traceback, say)."""
    text = _clean_text(data.decode("utf-8", "replace"), 100_000)
    return "\n".join(text.strip().splitlines()[-lines:])[-limit:]


class _Received:
    """The model files a job sends as ``put`` lines, written into a host folder of ours: known names only, at most
    ``STORE_BYTES`` in all. The first thing wrong is kept as ``error`` and ends the writing."""

    def __init__(self, root: Path, stage: str) -> None:
        self.root = root
        self.phase = PHASE_DIRS[FINAL_SOURCE[stage]]
        self.bytes = 0
        self.error = ""

    def _allowed(self, rel: str) -> bool:
        parts = rel.split("/")
        if len(parts) == 2:
            return parts[0] == "tokenizer" and parts[1] in TOKENIZER_FILES
        return (
            len(parts) == 3
            and parts[0] == self.phase
            and _TAG_RE.match(parts[1]) is not None
            and _CKPT_RE.match(parts[2]) is not None
        )

    def put(self, line: dict[str, Any]) -> None:
        rel, data = line.get("put"), line.get("data")
        if self.error:
            return
        if not isinstance(rel, str) or not isinstance(data, str) or not self._allowed(rel):
            self.error = "the run sent back a file that is not part of a model"
            return
        try:
            chunk = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            self.error = "the run sent back a model file that does not decode"
            return
        self.bytes += len(chunk)
        if self.bytes > STORE_BYTES:
            self.error = f"the model takes more than the {STORE_BYTES} bytes an assembled model may"
            return
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as f:
            f.write(chunk)


def train(
    *,
    stage: str,
    workspace: Mapping[str, bytes],
    store: Path,
    start_store: Path | None,
    limits: Any,
    profile: str = "tiny",
    gpu: bool = False,
    sandbox: Any = None,
) -> Iterator[dict[str, Any]]:
    """Run the stage's pipeline with ``workspace`` in a sandbox; yield progress events, then one ``end`` event.

    Events: ``{"type": "progress", "stage", "fraction"}``, ``{"type": "metric", "series": "loss", "x", "y"}`` (at most
    ``MAX_POINTS`` of them), and last ``{"type": "end", "ok", "message", "wall_seconds", "cpu_seconds",
    "model_bytes"}``. ``start_store``: the learner's stored model the stage starts from (chat: their base model).
    ``limits.output_bytes`` should be ``OUTPUT_BYTES``: the model comes back on stdout.
    """
    from sandbox import jobdirs
    from sandbox.base import get_backend

    if START_STORE.get(stage) and (start_store is None or not start_store.is_dir()):
        yield _end(False, "assemble the base model first: the chat model starts from it", None)
        return
    sandbox = sandbox or get_backend()
    workdir = jobdirs.create(ASSEMBLE_DIR_PREFIX)
    received = _Received(jobdirs.create(ASSEMBLE_DIR_PREFIX), stage)
    try:
        _write_tree(workdir, workspace)
        (workdir / BASE_DIR).mkdir()
        if start_store is not None and START_STORE.get(stage):
            _copy_model(start_store, workdir / BASE_DIR)
        job = _Job(sandbox, ["train", stage, "--profile", profile], workdir, limits,
                   {"NANOCHAT_BASE_DIR": f"/work/{BASE_DIR}"}, gpu=gpu)  # fmt: skip
        names: list[str] = []
        current = -1
        points = 0
        stride = 1
        for line in job.lines():
            ours = _ours(line)
            if ours is not None:
                if "put" in ours:
                    received.put(ours)
                    continue
                if isinstance(ours.get("stages"), list) and not names:
                    names = [_clean_text(n, 40) for n in ours["stages"][:10]]
                if isinstance(ours.get("stage"), str) and ours["stage"] in names:
                    current = names.index(ours["stage"])
                    yield {"type": "progress", "stage": ours["stage"], "fraction": current / len(names)}
                continue
            parsed = parse_step(line)
            if parsed is None or not names or current < 0:
                continue
            step, within, loss = parsed
            if within is not None:
                yield {
                    "type": "progress",
                    "stage": names[current],
                    "fraction": (current + within) / len(names),
                }
            if step % stride == 0 and points < MAX_POINTS:
                points += 1
                if points == MAX_POINTS // 2:
                    stride *= 2
                yield {"type": "metric", "series": f"loss/{names[current]}", "x": step, "y": loss}
        result = job.finish()
        usage = {"wall_seconds": round(result.wall_seconds, 2), "cpu_seconds": round(result.cpu_seconds, 2)}
        if result.outcome != "exited" or result.exit_code != 0:
            tail = _stderr_tail(bytes(job.stderr))
            why = {
                "timeout": "ran out of time",
                "memory_limit": "ran out of memory",
                "output_limit": "printed more than its output cap (the model comes back on it)",
            }.get(result.outcome, f"stopped ({result.outcome}, exit {result.exit_code})")
            yield _end(False, f"your pipeline {why}.\n{tail}".strip(), usage)
            return
        if received.error:
            yield _end(False, received.error, usage)
            return
        try:
            size = collect_model(received.root, stage, store)
        except (OSError, ValueError) as exc:
            yield _end(False, _clean_text(exc, 500), usage)
            return
        yield _end(True, "", {**usage, "model_bytes": size})
    finally:
        jobdirs.remove(workdir)
        jobdirs.remove(received.root)


def _end(ok: bool, message: str, usage: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "end", "ok": ok, "message": message, **(usage or {})}


def reply(
    *,
    stage: str,
    prompt: str,
    limits: Any,
    workspace: Mapping[str, bytes] | None = None,
    store: Path | None = None,
    sandbox: Any = None,
    on_text: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """One greedy reply to ``prompt``: the learner's model (``workspace`` + ``store``), or the reference's (neither).

    Returns ``{"ok": bool, "text": str, "message": str}``; never raises for what the learner's code does.
    ``on_text`` hears the reply's text so far while it is generated (at most ``MAX_PARTIALS`` times).
    """
    from sandbox import jobdirs
    from sandbox.base import Mount, get_backend

    sandbox = sandbox or get_backend()
    workdir = jobdirs.create(ASSEMBLE_DIR_PREFIX)
    try:
        if workspace is None:
            mounts = [Mount(REPO_ROOT / "nanochat_ref", f"{REF_TARGET}/nanochat")]
            env = {
                "NANOCHAT_BASE_DIR": f"{REF_TARGET}/nanochat/checkpoints",
                "PYTHONPATH": f"{ENGINE_TARGET}:{REF_TARGET}",
            }
        else:
            if store is None or not store.is_dir():
                return {"ok": False, "text": "", "message": "no model yet: assemble it first"}
            _write_tree(workdir, workspace)
            _copy_model(store, workdir / BASE_DIR)
            mounts, env = [], {"NANOCHAT_BASE_DIR": f"/work/{BASE_DIR}"}
        job = _Job(sandbox, ["chat", stage], workdir, limits, env, mounts=mounts)
        job.feed(json.dumps({"prompt": prompt}).encode("utf-8"))
        text: str | None = None
        partials = 0
        for line in job.lines():
            ours = _ours(line)
            if ours is None or text is not None:
                continue
            if isinstance(ours.get("reply"), str):
                text = _clean_text(ours["reply"], REPLY_CHARS)
            elif isinstance(ours.get("partial"), str) and on_text is not None and partials < MAX_PARTIALS:
                partials += 1
                on_text(_clean_text(ours["partial"], REPLY_CHARS))
        result = job.finish()
        if result.outcome == "exited" and result.exit_code == 0 and text is not None:
            return {"ok": True, "text": text, "message": ""}
        tail = _stderr_tail(bytes(job.stderr))
        return {
            "ok": False,
            "text": "",
            "message": f"the model did not answer ({result.outcome}).\n{tail}".strip(),
        }
    finally:
        jobdirs.remove(workdir)
