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
        result = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=5)
        if result.returncode == 0:
            return result.stdout.strip()
        return None
    except Exception:
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
    except Exception:
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
    except Exception:
        info["torch_version"] = "unknown"
    try:
        import psutil

        info["cpu_count"] = psutil.cpu_count(logical=False)
        info["memory_gb"] = psutil.virtual_memory().total / 1024**3
    except Exception:
        info["cpu_count"] = os.cpu_count()
        info["memory_gb"] = 0.0
    return info


def estimate_cost(gpu_info: dict, runtime_hours: float | None = None) -> dict | None:
    """Hourly rate of the node: per GPU H100 $3.00, A100 $1.79, V100 $0.55, other $2.00."""
    if not gpu_info.get("available"):
        return None
    default_rate = 2.0
    rates = {"H100": 3.00, "A100": 1.79, "V100": 0.55}
    name = gpu_info["names"][0] if gpu_info["names"] else ""
    rate = next((r for key, r in rates.items() if key in name), default_rate)
    hourly = rate * gpu_info["count"]
    return {
        "hourly_rate": hourly,
        "gpu_type": name,
        "estimated_total": hourly * runtime_hours if runtime_hours is not None else None,
    }


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
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int) and value >= 10000:
        return f"{value:,}"
    return str(value)


class Report:
    """Writes section files and assembles them into report.md."""

    def __init__(self, report_dir: str):
        os.makedirs(report_dir, exist_ok=True)
        self.report_dir = report_dir

    def log(self, section: str, data) -> str:
        """Write `<slug>.md` with `## section`, a timestamp line, then the items (str raw; dict as `- k: v`)."""
        file_path = os.path.join(self.report_dir, f"{slugify(section)}.md")
        with open(file_path, "w") as f:
            f.write(f"## {section}\n")
            f.write(f"timestamp: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S')}\n\n")
            for item in data:
                if not item:
                    continue
                if isinstance(item, str):
                    f.write(item)
                else:
                    for k, v in item.items():
                        f.write(f"- {k}: {_format_value(v)}\n")
            f.write("\n")
        return file_path

    def generate(self, extra_sections: list[str] | None = None, copy_to_cwd: bool = True) -> str:
        """Assemble report.md; returns its path."""
        report_file = os.path.join(self.report_dir, "report.md")
        header_file = os.path.join(self.report_dir, "header.md")
        final_metrics: dict[str, dict] = {}
        start_time = end_time = None
        bloat_block = ""
        with open(report_file, "w") as out:
            if os.path.exists(header_file):
                header = open(header_file).read()
                out.write(header)
                start_time = extract_timestamp(header, "Run started:")
                m = re.search(r"### Bloat\n(.*?)\n\n", header, re.DOTALL)
                bloat_block = m.group(1) if m else ""
            else:
                start_time = None
                print(f"Warning: {header_file} does not exist. Did you forget to run `reset`?")
            for file_name in [*EXPECTED_FILES, *(extra_sections or [])]:
                section_file = os.path.join(self.report_dir, file_name)
                if not os.path.exists(section_file):
                    print(f"Warning: {section_file} does not exist, skipping")
                    continue
                section = open(section_file).read()
                if "rl" not in file_name:
                    end_time = extract_timestamp(section, "timestamp:") or end_time
                if file_name == "base-model-evaluation.md":
                    final_metrics["base"] = extract(section, "CORE")
                for stage in ("mid", "sft", "rl"):
                    if file_name == f"chat-evaluation-{stage}.md":
                        final_metrics[stage] = extract(section, CHAT_METRICS)
                out.write(section)
                out.write("\n")
            out.write("## Summary\n\n")
            if bloat_block:
                out.write(bloat_block + "\n\n")
            all_metrics = set().union(*[set(m) for m in final_metrics.values()]) if final_metrics else set()
            order = {"CORE": 0, "ChatCORE": 2}
            all_metrics_sorted = sorted(all_metrics, key=lambda x: (order.get(x, 1), x))
            stages = ["base", "mid", "sft", "rl"]
            out.write("| Metric          | BASE     | MID      | SFT      | RL       |\n")
            out.write("|-----------------|----------|----------|----------|----------|\n")
            for metric in all_metrics_sorted:
                cells = [str(final_metrics.get(s, {}).get(metric, "-")) for s in stages]
                out.write(f"| {metric:<15} | " + " | ".join(f"{c:<8}" for c in cells) + " |\n")
            out.write("\n")
            if start_time and end_time:
                minutes = int((end_time - start_time).total_seconds() // 60)
                out.write(f"Total wall clock time: {minutes // 60}h{minutes % 60}m\n")
            else:
                out.write("Total wall clock time: unknown\n")
        if copy_to_cwd:
            shutil.copy(report_file, "report.md")
        return report_file

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
