"""Common utilities shared by every nanochat_ref stage (mirrors nanochat's ``nanochat/common.py``, commit C).

Design choices:
- ``get_base_dir()`` is the one root for every artifact (data shards, tokenizer, checkpoints, reports). It
  honours ``NANOCHAT_BASE_DIR`` (tests always point it at a tmp dir) and defaults to ``~/.cache/nanochat``.
- torch is imported lazily inside the functions that need it, so the light stages (tokenizer, dataset) and their
  tests import this module without paying the ~2 s torch import.
- Distributed state is read from torchrun's env vars (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``); the same helpers
  let a test simulate rank ``r`` of ``W`` by setting those variables, without starting a process group.
- Hardware fallbacks live HERE and nowhere else: ``autodetect_device_type()`` (cuda → mps → cpu),
  ``compute_init()`` (NCCL on CUDA, gloo on CPU/MPS under torchrun; tf32 matmuls only on CUDA) and
  ``autocast_ctx()`` (bf16 autocast on CUDA, a no-op elsewhere, so CPU runs stay in fp32 and deterministic).
- ``download_file_with_lock`` uses ``filelock.FileLock`` (as upstream since PR #247) so one rank downloads while
  the others wait, and writes through a ``.tmp`` file so a crash never leaves a half file under the final name.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

# -----------------------------------------------------------------------------
# Logging


class ColoredFormatter(logging.Formatter):
    """A logging formatter that colours the level name (ANSI escapes) and bolds INFO numbers."""

    COLORS = {
        "DEBUG": "\033[36m",  # cyan
        "INFO": "\033[32m",  # green
        "WARNING": "\033[33m",  # yellow
        "ERROR": "\033[31m",  # red
        "CRITICAL": "\033[35m",  # magenta
    }
    RESET = "\033[0m"
    BOLD = "\033[1m"

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)  # never mutate the caller's record
        color = self.COLORS.get(record.levelname, "")
        if color:
            record.levelname = f"{color}{self.BOLD}{record.levelname}{self.RESET}"
        return super().format(record)


def setup_default_logging(level: int = logging.INFO) -> None:
    """Install one coloured stream handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for h in root.handlers:
        if getattr(h, "_nanochat_default", False):
            return
    handler = logging.StreamHandler()
    handler.setFormatter(ColoredFormatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    handler._nanochat_default = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


logger = logging.getLogger(__name__)

# -----------------------------------------------------------------------------
# Paths and downloads


def get_base_dir() -> str:
    """The folder holding every artifact; ``$NANOCHAT_BASE_DIR`` or ``~/.cache/nanochat``. Created if missing."""
    base = os.environ.get("NANOCHAT_BASE_DIR")
    if not base:
        base = os.path.join(os.path.expanduser("~"), ".cache", "nanochat")
    os.makedirs(base, exist_ok=True)
    return base


def download_file_with_lock(
    url: str, filename: str, postprocess_fn: Callable[[str], Any] | None = None
) -> str:
    """Download ``url`` to ``<base_dir>/<filename>`` once, even with many ranks racing; return the local path.

    The first process to take the lock downloads (into ``.tmp``, then an atomic rename) and runs
    ``postprocess_fn(path)``; the others wait on the lock and then find the file already there.
    """
    from filelock import FileLock

    file_path = os.path.join(get_base_dir(), filename)
    if os.path.exists(file_path):
        return file_path
    with FileLock(file_path + ".lock"):
        if os.path.exists(file_path):  # someone else finished while we waited
            return file_path
        print(f"Downloading {url}...")
        tmp_path = file_path + ".tmp"
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp_path, "wb") as f:
            while chunk := response.read(1 << 20):
                f.write(chunk)
        os.replace(tmp_path, file_path)
        print(f"Downloaded to {file_path}")
        if postprocess_fn is not None:
            postprocess_fn(file_path)
    return file_path


# -----------------------------------------------------------------------------
# Printing and distributed info


def print0(s: str = "", **kwargs: Any) -> None:
    """``print`` on rank 0 only (every process under plain ``python`` is rank 0)."""
    if int(os.environ.get("RANK", 0)) == 0:
        print(s, **kwargs)


def print_banner() -> None:
    """Print the nanochat banner (rank 0 only)."""
    banner = r"""
                                                   __              __
      ____  ____ _____  ____  _____/ /_  ____ _/ /_
     / __ \/ __ `/ __ \/ __ \/ ___/ __ \/ __ `/ __/
    / / / / /_/ / / / / /_/ / /__/ / / / /_/ / /_
   /_/ /_/\__,_/_/ /_/\____/\___/_/ /_/\__,_/\__/   (nanochat Lab reference)
    """
    print0(banner)


def is_ddp_requested() -> bool:
    """True when torchrun's ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` are all set."""
    return all(k in os.environ for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))


def is_ddp_initialized() -> bool:
    """True when a torch.distributed process group is up."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def get_dist_info() -> tuple[bool, int, int, int]:
    """``(ddp, rank, local_rank, world_size)`` from torchrun's env vars; ``(False, 0, 0, 1)`` without them."""
    if is_ddp_requested():
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ["LOCAL_RANK"])
        world_size = int(os.environ["WORLD_SIZE"])
        assert 0 <= rank < world_size, f"RANK={rank} out of range for WORLD_SIZE={world_size}"
        return True, rank, local_rank, world_size
    return False, 0, 0, 1


# -----------------------------------------------------------------------------
# Hardware: the one place for device fallbacks


def autodetect_device_type() -> str:
    """Prefer ``cuda``, then ``mps``, then ``cpu``."""
    import torch

    if torch.cuda.is_available():
        device_type = "cuda"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device_type = "mps"
    else:
        device_type = "cpu"
    print0(f"Autodetected device type: {device_type}")
    return device_type


def autocast_ctx(device_type: str):
    """bf16 autocast on CUDA; a no-op context on CPU/MPS (fp32 there: exact, deterministic, test-friendly)."""
    import torch

    if device_type == "cuda":
        return torch.amp.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def synchronize(device_type: str) -> None:
    """Wait for queued device work (for honest timings); a no-op on CPU."""
    import torch

    if device_type == "cuda":
        torch.cuda.synchronize()
    elif device_type == "mps":
        torch.mps.synchronize()


def compute_init(device_type: str = "cuda"):
    """Seed, set precision and (under torchrun) start the process group.

    Returns ``(ddp, rank, local_rank, world_size, device)``. NCCL on CUDA, gloo on CPU/MPS.
    """
    import torch
    import torch.distributed as dist

    assert device_type in ("cuda", "mps", "cpu"), f"invalid device type: {device_type}"
    if device_type == "cuda":
        assert torch.cuda.is_available(), "device_type='cuda' but CUDA is not available"
    if device_type == "mps":
        assert torch.backends.mps.is_available(), "device_type='mps' but MPS is not available"

    # Reproducibility
    torch.manual_seed(42)
    if device_type == "cuda":
        torch.cuda.manual_seed(42)
        torch.backends.cuda.matmul.fp32_precision = "tf32"  # tf32 matmuls instead of full fp32

    ddp, rank, local_rank, world_size = get_dist_info()
    if ddp and not is_ddp_initialized():
        if device_type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
            dist.init_process_group(backend="nccl", device_id=device)
        else:
            device = torch.device(device_type)
            dist.init_process_group(backend="gloo")
        dist.barrier()
    elif device_type == "cuda":
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device(device_type)

    if rank == 0:
        logger.info("Distributed world size: %d", world_size)
    return ddp, rank, local_rank, world_size, device


def compute_cleanup() -> None:
    """Tear down the process group if one is up."""
    import torch.distributed as dist

    if is_ddp_initialized():
        dist.destroy_process_group()


class DummyWandb:
    """Stands in for a wandb run (run name ``"dummy"`` or non-zero ranks): every call is a no-op."""

    def __init__(self) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def finish(self) -> None:
        pass
