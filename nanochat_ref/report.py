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
import json
import math
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


# --- lab: analysing a finished run (module 15, steps 4-6; nanochat's report stops at the table) -------------------

#: Pipeline stages in order, the section each one's training logs, and its timer in ``speedrun.md``.
STAGES = ("base", "mid", "sft", "rl")
STAGE_TIMERS = {"base": "base_train", "mid": "mid_train", "sft": "chat_sft", "rl": "chat_rl"}
#: The run's curves (per-step losses, rewards, the stage sweep's scores), written by ``speedrun`` next to the sections.
CURVES_FILE = "curves.json"
#: Dense bf16 FLOP/s of one H100 SXM, the peak nanochat's MFU divides by.
H100_PEAK_FLOPS = 989e12
#: A gain below this (in accuracy) is "no stage helped": 50 problems per task make 0.02 one problem.
MIN_GAIN = 0.02


def parse_number(text: str) -> float | None:
    """A report value as a number: ``"245,760"`` -> 245760.0, ``"0.2700"`` -> 0.27, ``"0.01%"`` -> 0.01,
    ``"1.209139e+07"`` -> 12091390.0; None for anything else (``"-"``, ``"None"``, ``""``, ``"nan"``, words)."""
    text = text.strip().replace(",", "").removesuffix("%")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def collect_run(run_dir: str) -> dict:
    """Everything the analysis needs from a finished run's report folder (section files and ``curves.json``).

    Returns ``{"times", "losses", "rewards", "evals", "core", "base", "missing"}``:

    - ``times``: stage -> seconds, from ``speedrun.md``'s ``- <timer> time (s): <s>`` lines (``STAGE_TIMERS``),
      plus ``"total"`` from ``- total time (s):``; a stage without its line is left out.
    - ``losses``: stage -> per-step train losses (floats) for base, mid and sft, from ``curves.json``'s
      ``stages[<timer>]["train_losses"]``; ``rewards``: chat_rl's ``rewards`` (``[]`` when absent).
    - ``evals``: stage -> {task: accuracy}: ``curves.json``'s ``evals`` (the stage sweep, every stage on the same
      tasks); a stage absent there falls back to its ``chat-evaluation-<stage>.md`` (the ``CHAT_METRICS`` it has).
    - ``core``: the base model's CORE from ``base-model-evaluation.md`` (None without it).
    - ``base``: ``{"params", "tokens", "flops_per_token"}`` from base-model-training.md's ``Number of parameters``,
      ``Number of training tokens`` and ``Number of FLOPs per token`` (None where missing).
    - ``missing``: the names in ``EXPECTED_FILES`` + ``speedrun.md`` that do not exist, in that order.
    Numbers are read with :func:`parse_number`; a file that is absent is treated as empty.
    """
    texts: dict[str, str] = {}
    missing = []
    for name in [*EXPECTED_FILES, "speedrun.md"]:
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            texts[name] = open(path, encoding="utf-8").read()
        else:
            missing.append(name)
    curves_path = os.path.join(run_dir, CURVES_FILE)
    curves = json.load(open(curves_path, encoding="utf-8")) if os.path.exists(curves_path) else {}
    curve_stages = curves.get("stages", {})

    times: dict[str, float] = {}
    speedrun = texts.get("speedrun.md", "")
    for stage, timer in [*STAGE_TIMERS.items(), ("total", "total")]:
        value = parse_number(extract(speedrun, f"{timer} time (s)").get(f"{timer} time (s)", ""))
        if value is not None:
            times[stage] = value
    losses = {
        stage: [float(v) for v in curve_stages[STAGE_TIMERS[stage]]["train_losses"]]
        for stage in ("base", "mid", "sft")
        if "train_losses" in curve_stages.get(STAGE_TIMERS[stage], {})
    }
    rewards = [float(v) for v in curve_stages.get("chat_rl", {}).get("rewards", [])]
    evals: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        swept = curves.get("evals", {}).get(stage)
        if swept:
            evals[stage] = {task: float(v) for task, v in swept.items()}
            continue
        found = extract(texts.get(f"chat-evaluation-{stage}.md", ""), CHAT_METRICS)
        numbers = {task: parse_number(v) for task, v in found.items()}
        if any(v is not None for v in numbers.values()):
            evals[stage] = {task: v for task, v in numbers.items() if v is not None}
    core = parse_number(extract(texts.get("base-model-evaluation.md", ""), "CORE").get("CORE", ""))
    keys = {"params": "Number of parameters", "tokens": "Number of training tokens",
            "flops_per_token": "Number of FLOPs per token"}  # fmt: skip
    found = extract(texts.get("base-model-training.md", ""), list(keys.values()))
    base = {k: parse_number(found.get(label, "")) for k, label in keys.items()}
    return {"times": times, "losses": losses, "rewards": rewards, "evals": evals, "core": core, "base": base,
            "missing": missing}  # fmt: skip


def speed_numbers(run: dict, peak_flops: float = H100_PEAK_FLOPS, hourly_rate: float = 0.0) -> dict:
    """Throughput, MFU and cost of a collected run.

    - ``tokens_per_second``: base training tokens / base training seconds (``run["times"]["base"]``);
    - ``flops_per_second``: ``flops_per_token`` (≈ 6N plus attention) x tokens_per_second;
    - ``mfu``: flops_per_second / ``peak_flops``, a fraction (nanochat prints it x100 as a percent);
    - ``hours``: the run's total seconds / 3600; ``cost``: hours x ``hourly_rate``.
    Any number whose inputs are missing (or a zero time) is None.
    """
    base, times = run["base"], run["times"]
    seconds, tokens, fpt = times.get("base"), base.get("tokens"), base.get("flops_per_token")
    tps = tokens / seconds if tokens is not None and seconds else None
    fps = fpt * tps if fpt is not None and tps is not None else None
    total = times.get("total")
    hours = total / 3600 if total is not None else None
    return {
        "tokens_per_second": tps,
        "flops_per_second": fps,
        "mfu": fps / peak_flops if fps is not None else None,
        "hours": hours,
        "cost": hours * hourly_rate if hours is not None else None,
    }


def smooth(values: list[float], beta: float = 0.9) -> list[float]:
    """The debiased exponential moving average base_train prints as ``loss``:
    ``ema = beta * ema + (1 - beta) * v`` from ``ema = 0``, each point divided by ``1 - beta ** (i + 1)``."""
    ema, out = 0.0, []
    for i, v in enumerate(values):
        ema = beta * ema + (1 - beta) * v
        out.append(ema / (1 - beta ** (i + 1)))
    return out


def shared_tasks(evals: dict[str, dict[str, float]]) -> list[str]:
    """The tasks every evaluated stage has, in the order of the first stage (in ``STAGES`` order) that has any."""
    stages = [s for s in STAGES if evals.get(s)]
    if not stages:
        return []
    return [t for t in evals[stages[0]] if all(t in evals[s] for s in stages)]


def chart_series(run: dict) -> dict:
    """What the results pane draws, from a collected run.

    - ``loss``: stage -> :func:`smooth` of its train losses (base, mid, sft: those the run has);
    - ``reward``: the RL rewards as they are;
    - ``radar``: stage -> {task: accuracy} over :func:`shared_tasks`, stages in ``STAGES`` order;
    - ``speed_quality``: ``{"stages", "seconds", "score"}``: for each evaluated stage that has a time, in order,
      the cumulative seconds of the stages so far (every stage in ``STAGES`` up to it that has a time) and its
      score, the mean accuracy over the shared tasks (a stage left out when there are no shared tasks).
    """
    tasks = shared_tasks(run["evals"])
    radar = {s: {t: run["evals"][s][t] for t in tasks} for s in STAGES if run["evals"].get(s) and tasks}
    stages, seconds, score = [], [], []
    elapsed = 0.0
    for stage in STAGES:
        if stage not in run["times"]:
            continue
        elapsed += run["times"][stage]
        if stage in radar:
            stages.append(stage)
            seconds.append(elapsed)
            score.append(sum(radar[stage].values()) / len(tasks))
    return {
        "loss": {s: smooth(v) for s, v in run["losses"].items()},
        "reward": list(run["rewards"]),
        "radar": radar,
        "speed_quality": {"stages": stages, "seconds": seconds, "score": score},
    }


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m{secs:02d}s"


def conclusion(run: dict, hourly_rate: float = 0.0, peak_flops: float = H100_PEAK_FLOPS) -> str:
    """A written conclusion from the numbers, three sections, each line built by a rule::

        ## Conclusion

        ### Which stage helped which task
        - <task>: <STAGE> helped most (+0.9000, 0.0000 -> 0.9000)
        - <task>: no stage helped by 0.02 or more (best +0.0100, <STAGE>)

        ### Time and cost
        - Total: 0h11m45s (705 s) at $2.00/hour: $0.3918
        - Slowest stage: BASE, 197 s (50.6% of the staged time)
        - Base training: 1,248 tokens/s, MFU 0.0015% of 989 TFLOP/s

        ### Speed vs quality
        - Most quality per minute: SFT (+0.3000 mean accuracy in 0.8 min)

    Rules: a task line per :func:`shared_tasks` task, in that order; a stage's gain is its accuracy minus that of the
    evaluated stage before it (the first evaluated stage has no gain); the largest gain wins (the earlier stage on a
    tie), and it must be at least ``MIN_GAIN``. The staged time is the sum of the stages' times; the total is
    ``times["total"]``. Per minute: each stage after the first evaluated one, its score gain (``chart_series``'
    speed-vs-quality score minus the previous point's) / its own minutes; the largest wins. A line whose numbers are
    missing reads ``- <what>: unknown`` (``Total``, ``Slowest stage``, ``Base training``, ``Most quality per
    minute``); ``Which stage`` with no shared tasks reads ``- no task was evaluated at two stages``. Ends with one
    newline.
    """
    lines = ["## Conclusion", "", "### Which stage helped which task"]
    evals = run["evals"]
    stages = [s for s in STAGES if evals.get(s)]
    tasks = shared_tasks(evals) if len(stages) >= 2 else []
    for task in tasks:
        gains = [(evals[b][task] - evals[a][task], b, a) for a, b in zip(stages, stages[1:], strict=False)]
        best = max(gains, key=lambda g: g[0])  # max keeps the first of equal gains: the earlier stage
        gain, stage, before = best
        if gain >= MIN_GAIN:
            lines.append(
                f"- {task}: {stage.upper()} helped most (+{gain:.4f}, {evals[before][task]:.4f} -> "
                f"{evals[stage][task]:.4f})"
            )
        else:
            lines.append(
                f"- {task}: no stage helped by {MIN_GAIN} or more (best {gain:+.4f}, {stage.upper()})"
            )
    if not tasks:
        lines.append("- no task was evaluated at two stages")

    lines += ["", "### Time and cost"]
    speed = speed_numbers(run, peak_flops=peak_flops, hourly_rate=hourly_rate)
    total = run["times"].get("total")
    if total is None:
        lines.append("- Total: unknown")
    else:
        lines.append(
            f"- Total: {_duration(total)} ({total:.0f} s) at ${hourly_rate:.2f}/hour: ${speed['cost']:.4f}"
        )
    staged = {s: run["times"][s] for s in STAGES if s in run["times"]}
    if staged and sum(staged.values()) > 0:
        slowest = max(staged, key=lambda s: staged[s])
        share = 100 * staged[slowest] / sum(staged.values())
        lines.append(
            f"- Slowest stage: {slowest.upper()}, {staged[slowest]:.0f} s ({share:.1f}% of the staged time)"
        )
    else:
        lines.append("- Slowest stage: unknown")
    if speed["tokens_per_second"] is None or speed["mfu"] is None:
        lines.append("- Base training: unknown")
    else:
        lines.append(
            f"- Base training: {speed['tokens_per_second']:,.0f} tokens/s, MFU {100 * speed['mfu']:.4f}% of "
            f"{peak_flops / 1e12:.0f} TFLOP/s"
        )

    lines += ["", "### Speed vs quality"]
    sq = chart_series(run)["speed_quality"]
    rates = []
    for i in range(1, len(sq["stages"])):
        stage = sq["stages"][i]
        minutes = run["times"][stage] / 60
        if minutes > 0:
            gain = sq["score"][i] - sq["score"][i - 1]
            rates.append((gain / minutes, stage, gain, minutes))
    if rates:
        _, stage, gain, minutes = max(rates, key=lambda r: r[0])
        lines.append(
            f"- Most quality per minute: {stage.upper()} ({gain:+.4f} mean accuracy in {minutes:.1f} min)"
        )
    else:
        lines.append("- Most quality per minute: unknown")
    return "\n".join(lines) + "\n"


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
