"""The run's markdown "report card", assembled from per-stage section files (nanochat `report.py`, commit C).

Design choices:

- Each stage calls `get_report().log(section, data)`, which writes `<base>/report/<slug>.md` on its own: stages can
  run as separate processes, crash, or be rerun, and the report is just whatever section files exist.
- `reset()` deletes old sections and writes `header.md` (git, hardware, software, bloat, `Run started:`).
- `generate()` concatenates header + sections in the fixed pipeline order, then appends a `## Summary` with a
  metric x stage table (BASE/MID/SFT/RL; CORE first, ChatCORE last, missing cells `-`) and the total wall-clock
  time from `Run started:` to the last non-RL section (RL is "experimental", as in nanochat).
- On non-zero ranks `get_report()` returns a `DummyReport` that does nothing.
- Extra (nanochat Lab): the synthetic SpellingBee metric is collected too, and `extra_sections` lets the tiny
  speedrun add its own sections; `estimate_cost` uses nanochat's hourly GPU rates.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import socket
import subprocess
import sys

from .common import get_base_dir, get_dist_info


def run_command(cmd: str) -> str | None:
    """Run a shell command (fixed strings only, never user data) and return its stripped stdout, or None."""
    try:
        result = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=5)  # noqa: S602
        if result.returncode == 0:
            return result.stdout.strip()
        return None
    except Exception:  # noqa: BLE001
        return None


def get_git_info() -> dict:
    return {
        "commit": run_command("git rev-parse --short HEAD") or "unknown",
        "branch": run_command("git rev-parse --abbrev-ref HEAD") or "unknown",
        "dirty": bool(run_command("git status --porcelain")),
        "message": (run_command("git log -1 --pretty=%B") or "").split("\n")[0][:80],
    }


def get_gpu_info() -> dict:
    try:
        import torch

        if not torch.cuda.is_available():
            return {"available": False}
        n = torch.cuda.device_count()
        info = {"available": True, "count": n, "names": [], "memory_gb": []}
        for i in range(n):
            props = torch.cuda.get_device_properties(i)
            info["names"].append(props.name)
            info["memory_gb"].append(props.total_memory / 1024**3)
        info["cuda_version"] = torch.version.cuda or "unknown"
        return info
    except Exception:  # noqa: BLE001
        return {"available": False}


def get_system_info() -> dict:
    info = {
        "hostname": socket.gethostname(),
        "platform": platform.system(),
        "python_version": platform.python_version(),
        "cpu_count_logical": os.cpu_count(),
        "user": os.environ.get("USER", "unknown"),
        "nanochat_base_dir": get_base_dir(),
        "working_dir": os.getcwd(),
    }
    try:
        import torch

        info["torch_version"] = torch.__version__
    except Exception:  # noqa: BLE001
        info["torch_version"] = "unknown"
    try:
        import psutil

        info["cpu_count"] = psutil.cpu_count(logical=False)
        info["memory_gb"] = psutil.virtual_memory().total / 1024**3
    except Exception:  # noqa: BLE001
        info["cpu_count"] = os.cpu_count()
        info["memory_gb"] = 0.0
    return info


def estimate_cost(gpu_info: dict, runtime_hours: float | None = None) -> dict | None:
    """Hourly rate of the node: per GPU H100 $3.00, A100 $1.79, V100 $0.55, other $2.00.

    Returns None when ``gpu_info["available"]`` is false. Otherwise the rate of the first GPU name (the first of
    "H100", "A100", "V100" contained in it, else $2.00) times ``gpu_info["count"]``, as
    ``{"hourly_rate": ..., "gpu_type": <first name or "">, "estimated_total": hourly * runtime_hours}``, where
    ``estimated_total`` is None when ``runtime_hours`` is None (0 hours is a real runtime: 0.0).
    """
    raise NotImplementedError("TODO(step 3): pick the hourly rate from the GPU name, times the GPU count and hours")


def _bloat() -> dict:
    """Characters, lines, files, approximate tokens of the package's source (git-tracked .py/.md/.html)."""
    here = os.path.dirname(os.path.abspath(__file__))
    chars = lines = files = 0
    for root, _, names in os.walk(here):
        if "__pycache__" in root or "checkpoints" in root:
            continue
        for name in names:
            if name.endswith((".py", ".md", ".html", ".rs", ".toml", ".sh")):
                try:
                    text = open(os.path.join(root, name), encoding="utf-8").read()
                except (OSError, UnicodeDecodeError):
                    continue
                files += 1
                chars += len(text)
                lines += text.count("\n")
    return {"chars": chars, "lines": lines, "files": files, "tokens": chars // 4}


def generate_header() -> str:
    timestamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    git, gpu, sysinfo = get_git_info(), get_gpu_info(), get_system_info()
    cost = estimate_cost(gpu)
    out = f"# nanochat training report\n\nGenerated: {timestamp}\n\n## Environment\n\n### Git Information\n"
    out += (
        f"- Branch: {git['branch']}\n- Commit: {git['commit']} {'(dirty)' if git['dirty'] else '(clean)'}\n"
    )
    out += f"- Message: {git['message']}\n\n### Hardware\n- Platform: {sysinfo['platform']}\n"
    out += f"- CPUs: {sysinfo['cpu_count']} cores ({sysinfo['cpu_count_logical']} logical)\n"
    out += f"- Memory: {sysinfo['memory_gb']:.1f} GB\n"
    if gpu.get("available"):
        out += (
            f"- GPUs: {gpu['count']}x {gpu['names'][0]}\n- GPU Memory: {sum(gpu['memory_gb']):.1f} GB total\n"
        )
        out += f"- CUDA Version: {gpu['cuda_version']}\n"
        if cost:
            out += f"- Hourly Rate: ${cost['hourly_rate']:.2f}/hour\n"
    else:
        out += "- GPUs: None available\n"
    out += f"\n### Software\n- Python: {sysinfo['python_version']}\n- PyTorch: {sysinfo['torch_version']}\n\n"
    b = _bloat()
    out += f"### Bloat\n- Characters: {b['chars']:,}\n- Lines: {b['lines']:,}\n- Files: {b['files']:,}\n"
    out += f"- Tokens (approx): {b['tokens']:,}\n\n"
    return out


def slugify(text: str) -> str:
    return text.lower().replace(" ", "-")


EXPECTED_FILES = [
    "tokenizer-training.md",
    "tokenizer-evaluation.md",
    "base-model-training.md",
    "base-model-loss.md",
    "base-model-evaluation.md",
    "midtraining.md",
    "chat-evaluation-mid.md",
    "chat-sft.md",
    "chat-evaluation-sft.md",
    "chat-rl.md",
    "chat-evaluation-rl.md",
]
CHAT_METRICS = ["ARC-Easy", "ARC-Challenge", "MMLU", "GSM8K", "HumanEval", "SpellingBee", "ChatCORE"]


def extract(section: str, keys) -> dict:
    """Values of `- key: value` lines in a section for the given keys."""
    if not isinstance(keys, list):
        keys = [keys]
    out = {}
    for line in section.split("\n"):
        for key in keys:
            if line.startswith(f"- {key}:"):
                out[key] = line.split(":", 1)[1].strip()
    return out


def extract_timestamp(content: str, prefix: str) -> datetime.datetime | None:
    for line in content.split("\n"):
        if line.startswith(prefix):
            try:
                return datetime.datetime.strptime(line.split(":", 1)[1].strip(), "%Y-%m-%d %H:%M:%S")
            except ValueError:
                return None
    return None


def _format_value(value) -> str:
    """How ``log`` writes a value: floats with 4 decimals, ints >= 10,000 with thousands separators, else str().

    Careful: bool is a subclass of int; it is written with str() (``True``).
    """
    raise NotImplementedError("TODO(step 1): format floats as 0.1234, ints >= 10000 as 12,345, the rest with str()")


class Report:
    """Writes section files and assembles them into report.md."""

    def __init__(self, report_dir: str):
        os.makedirs(report_dir, exist_ok=True)
        self.report_dir = report_dir

    def log(self, section: str, data) -> str:
        """Write `<slug>.md` with `## section`, a timestamp line, then the items (str raw; dict as `- k: v`)."""
        """Write `<slug>.md` with `## section`, a timestamp line, then the items (str raw; dict as `- k: v`).

        The file is ``<report_dir>/<slugify(section)>.md`` (overwritten) and reads::

            ## {section}
            timestamp: YYYY-mm-dd HH:MM:SS
            <blank line>
            <each item: a str written as is; a dict as one "- k: <_format_value(v)>" line per key;
             falsy items (None, "", {}) skipped>
            <blank line>

        Returns the file's path.
        """
        raise NotImplementedError("TODO(step 1): write the heading, the timestamp line and the formatted items")

    def generate(self, extra_sections: list[str] | None = None, copy_to_cwd: bool = True) -> str:
        """Assemble report.md; returns its path."""
        """Assemble report.md; returns its path.

        1. Write header.md (if present; else print a warning) then every file of ``EXPECTED_FILES`` and then of
           ``extra_sections`` that exists, each followed by a blank line, into ``<report_dir>/report.md``;
           print a warning and skip the missing ones.
        2. Collect metrics with ``extract``: "CORE" from base-model-evaluation.md, and ``CHAT_METRICS`` from
           chat-evaluation-{mid,sft,rl}.md, for the stages base, mid, sft, rl.
        3. Write ``## Summary``, a blank line, the header's ``### Bloat`` items (if any) and a blank line, then the
           table: the two fixed heading lines

               | Metric          | BASE     | MID      | SFT      | RL       |
               |-----------------|----------|----------|----------|----------|

           then one row per metric (CORE first, ChatCORE last, the rest
           alphabetical), cells padded as ``f"| {metric:<15} | " + " | ".join(f"{c:<8}" ...) + " |"``, "-" for a
           missing cell, then a blank line.
        4. (step 3) ``Total wall clock time: XhYm``: whole minutes from the header's ``Run started:`` to the
           ``timestamp:`` of the last existing section whose file name does not contain "rl" (RL is
           experimental); ``Total wall clock time: unknown`` when either end is missing.
        5. If ``copy_to_cwd``, copy report.md to ``./report.md``.
        """
        raise NotImplementedError("TODO(step 2): concatenate the sections and write the summary table")

    def reset(self) -> None:
        """Delete old section files and report.md, write a fresh header with `Run started:`."""
        for file_name in [*EXPECTED_FILES, "report.md"]:
            path = os.path.join(self.report_dir, file_name)
            if os.path.exists(path):
                os.remove(path)
        header_file = os.path.join(self.report_dir, "header.md")
        with open(header_file, "w") as f:
            f.write(generate_header())
            f.write(f"Run started: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S')}\n\n---\n\n")


class DummyReport:
    def log(self, *args, **kwargs):
        pass

    def generate(self, *args, **kwargs):
        pass

    def reset(self, *args, **kwargs):
        pass


def get_report():
    """The real report on rank 0, a `DummyReport` elsewhere."""
    _, rank, _, _ = get_dist_info()
    if rank == 0:
        return Report(os.path.join(get_base_dir(), "report"))
    return DummyReport()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Generate or reset the nanochat training report.")
    parser.add_argument(
        "command", nargs="?", default="generate", choices=["generate", "reset"], help="action"
    )
    args = parser.parse_args()
    if args.command == "generate":
        get_report().generate()
    else:
        get_report().reset()
    sys.exit(0)
