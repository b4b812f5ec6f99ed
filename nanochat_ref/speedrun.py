"""The whole pipeline in one command, nanochat's `speedrun.sh` as Python (tokenizer -> base -> mid -> SFT -> RL ->
eval -> report.md).

    python -m nanochat_ref.speedrun --tiny        # 2 CPU cores, about 10-15 minutes, a model that learned
    python -m nanochat_ref.speedrun --chat        # the shipped chat model (checkpoints/chat/), ~70 min on one busy core
    python -m nanochat_ref.speedrun --smoke       # every stage with toy sizes, about a minute (tests)
    python -m nanochat_ref.speedrun --tiny --device-type cuda   # same recipe on a GPU (bf16 autocast)

Design choices:

- Each stage is the real script's `main(argv)` called in-process with explicit flags (one `import torch`, and the
  exact flags are printed so any stage can be rerun by hand with `python -m nanochat_ref.scripts.<stage>`).
- Everything is offline and deterministic: shards come from `scripts.make_shards` (text on the machine), chat
  data from `chatdata` generators, seeds are fixed (`compute_init` seeds 42).
- Stage times are measured and written to an extra report section, `speedrun.md`, and printed as `name: value`
  lines; `report.md` ends up in the base dir and the current directory.
- `--export DIR` ships the last checkpoint of every stage (base, mid, SFT, RL) in bf16 with the tokenizer, a frozen
  chain that the course's later modules start from (midtraining from base, SFT from mid, RL from SFT).
- `--reeval DIR` is an eval-only pass on an exported folder (e.g. the shipped `checkpoints/`): the final model's
  evaluation is rerun with the profile's flags in a scratch copy, and its `## Chat evaluation <stage>` section and
  the summary table's column in `DIR/report.md` are replaced; nothing is retrained. It exists so that an evaluation
  added later (e.g. the balanced spelling evals) can be reported for a model that was already shipped.
- `--chat` is the shipped chat model's recipe: the tiny tokenizer and a shorter base run, then midtraining and SFT
  on the chat model's domain conversations only (`tasks/domainchat.py`), evaluated on its frozen domain set; no RL.
- `--tiny` sizes: a 2,048-token vocabulary, a depth-3 model (width 192, two heads, ~2.1M parameters) at context
  256. Base training is short (the offline corpus is small); most of the skill comes from three epochs of
  midtraining on the synthetic task mixture, as in nanochat where mid/SFT teach the format and the tools.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from .common import get_base_dir, print0

DOMAIN_EVAL = "|".join(f"Domains-{c}-{lang}" for c in ("arithmetic", "letters", "identity", "refusal")
                       for lang in ("en", "zh"))  # fmt: skip

# Flag sets per profile. Base training is the teammate's script; its --tiny preset is overridden where noted.
PROFILES = {
    "tiny": {
        "shards": ["--num_shards", "3", "--row_groups_per_shard", "2", "--rows_per_group", "512"],
        "tok": ["--vocab_size", "2048", "--max_chars", "2000000"],
        "base": ["--tiny", "--depth", "3", "--max_seq_len", "256", "--device_batch_size", "16",
                 "--total_batch_size", "4096", "--num_iterations", "60", "--eval_every", "30",
                 "--eval_tokens", "16384", "--matrix_lr", "0.03"],
        "mid": ["--tiny", "--device_batch_size", "16", "--max_seq_len", "256", "--total_batch_size", "4096",
                "--num_epochs", "3", "--eval_every", "-1", "--eval_tokens", "16384", "--matrix_lr", "0.03"],
        "sft": ["--tiny", "--source", "mid", "--device_batch_size", "8", "--target_examples_per_step", "16",
                "--init_lr_frac", "0.1"],
        "rl": ["--tiny", "--source", "sft", "--num_steps", "12"],
        "base_eval": ["--max-per-task", "100"],
        "eval_mid": ["-a", "ARC-Easy|ARC-Challenge|MMLU", "-x", "200", "-b", "16"],
        "eval_sft": ["-x", "100", "-m", "96", "-b", "16"],
        "eval_rl": ["-a", "GSM8K|SpellingBee|SpellingBee-balanced|SimpleSpelling", "-x", "100", "-m", "96"],
    },
    # The shipped chat model (checkpoints/chat/): the tiny base recipe, then midtraining and SFT on the chat model's
    # domain conversations only (tasks/domainchat.py); evaluated on the frozen domain set, no RL.
    "chat": {
        "shards": ["--num_shards", "3", "--row_groups_per_shard", "2", "--rows_per_group", "512"],
        "tok": ["--vocab_size", "2048", "--max_chars", "2000000"],
        "base": ["--tiny", "--depth", "3", "--max_seq_len", "256", "--device_batch_size", "16",
                 "--total_batch_size", "4096", "--num_iterations", "30", "--eval_every", "15",
                 "--eval_tokens", "16384", "--matrix_lr", "0.03"],
        "mid": ["--tiny", "--domains", "40000", "--device_batch_size", "8", "--max_seq_len", "256",
                "--total_batch_size", "2048", "--num_iterations", "1300", "--eval_every", "200", "--eval_tokens", "8192",
                "--matrix_lr", "0.03", "--save_every", "200"],
        "sft": ["--tiny", "--source", "mid", "--domains", "400", "--device_batch_size", "8",
                "--target_examples_per_step", "16", "--init_lr_frac", "0.1"],
        "rl": [],
        "base_eval": ["--max-per-task", "100"],
        "eval_mid": ["-a", DOMAIN_EVAL, "-x", "5", "-m", "128"],
        "eval_sft": ["-a", DOMAIN_EVAL, "-x", "50", "-m", "128"],
        "eval_rl": [],
    },
    "smoke": {
        "shards": ["--num_shards", "2", "--row_groups_per_shard", "1", "--rows_per_group", "128"],
        "tok": ["--vocab_size", "512", "--max_chars", "100000"],
        "base": ["--tiny", "--depth", "1", "--max_seq_len", "64", "--device_batch_size", "4",
                 "--total_batch_size", "256", "--num_iterations", "4", "--eval_every", "2", "--eval_tokens", "512"],
        "mid": ["--tiny", "--device_batch_size", "4", "--max_seq_len", "64", "--total_batch_size", "256",
                "--num_iterations", "4", "--eval_every", "-1", "--eval_tokens", "256"],
        "sft": ["--tiny", "--source", "mid", "--device_batch_size", "2", "--target_examples_per_step", "4",
                "--num_iterations", "3", "--eval_steps", "2", "--eval_metrics_max_problems", "8"],
        "rl": ["--tiny", "--source", "sft", "--num_steps", "1", "--examples_per_step", "1", "--num_samples", "4",
               "--device_batch_size", "4", "--max_new_tokens", "16"],
        "base_eval": ["--max-per-task", "4"],
        "eval_mid": ["-a", "ARC-Easy", "-x", "8", "-b", "4"],
        "eval_sft": ["-x", "4", "-m", "8", "-b", "4"],
        "eval_rl": ["-a", "GSM8K", "-x", "4", "-m", "8"],
    },
}  # fmt: skip


#: The stages whose last checkpoint `--export` ships, in pipeline order: the chain the course's modules grade against
#: (midtraining starts from base, SFT from mid, RL from SFT), up to the final model.
EXPORTED_STAGES = ("base", "mid", "sft", "rl")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Run the whole nanochat pipeline end to end")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--tiny", action="store_true", help="the CPU recipe (~10-15 min on 2 cores)")
    size.add_argument("--chat", action="store_true", help="the shipped chat model (~70 min on one busy core)")
    size.add_argument("--smoke", action="store_true", help="toy sizes for tests (~1 min)")
    p.add_argument("--device-type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    p.add_argument("--export", type=str, default=None, help="copy every stage's last model (base, mid, sft, rl; "
                   "bf16) and the tokenizer to this folder")  # fmt: skip
    p.add_argument(
        "--depth", type=int, default=0, help="override the base model depth of the profile (0: keep)"
    )
    p.add_argument("--mid-epochs", type=int, default=0, help="override the midtraining epochs (0: keep)")
    p.add_argument(
        "--mid-steps", type=int, default=0, help="midtrain for exactly this many steps (0: epochs)"
    )
    p.add_argument(
        "--sft-steps", type=int, default=0, help="fine-tune for exactly this many steps (0: epochs)"
    )
    p.add_argument(
        "--mid-domains", type=int, default=0, help="--chat: domain conversations to midtrain on (0: keep)"
    )
    p.add_argument("--skip-rl", action="store_true", help="stop after SFT (and its evaluation)")
    p.add_argument("--reeval", type=str, default=None, help="eval-only: rerun the final evaluation on this "
                   "exported folder and update its report.md (no training)")  # fmt: skip
    p.add_argument(
        "--sweep",
        type=str,
        default=None,
        help="eval-only: evaluate every stage exported to this "
        "folder on the same tasks and store the scores in its curves.json (the report's stage radar)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default; 1 is best on a "
                   "busy machine, where OpenMP threads wait on each other)")  # fmt: skip
    return p


#: The run's curves (per-step losses, val histories, rewards, stage times) next to the report's sections.
CURVES_FILE = "curves.json"
#: What each stage's ``main()`` returns that the curves keep (lists of numbers or of [step, value] pairs).
CURVE_KEYS = {
    "base_train": ("train_losses", "val_bpb_history", "num_flops_per_token", "total_batch_size"),
    "mid_train": ("train_losses", "val_loss_history"),
    "chat_sft": ("train_losses", "val_loss_history"),
    "chat_rl": ("rewards",),
}


def write_curves(path: str, outputs: dict, timings: dict[str, float]) -> str:
    """Write the stages' curves and times as JSON (``{"stages": {stage: {key: value}}, "times": {stage: s}}``)."""
    import json

    stages = {}
    for name, keys in CURVE_KEYS.items():
        out = outputs.get(name)
        if isinstance(out, dict):
            stages[name] = {k: out[k] for k in keys if k in out}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"stages": stages, "times": timings}, f, indent=1)
        f.write("\n")
    return path


#: The stage sweep (``--sweep``): every stage on the same tasks and problems, so they can be compared (radar). HumanEval
#: (0 for every tiny model) and nanochat's unbalanced SpellingBee are left out.
SWEEP_TASKS = "ARC-Easy|ARC-Challenge|MMLU|GSM8K|SpellingBee-balanced|SimpleSpelling"
SWEEP_FLAGS = ["-a", SWEEP_TASKS, "-b", "16", "--no-report"]


def sweep(
    run_dir: str, device_dash: list[str], max_problems: int = 50, max_new_tokens: int = 96
) -> dict[str, dict[str, float]]:
    """Evaluate every exported stage of ``run_dir`` with ``SWEEP_FLAGS`` (greedy, the first ``max_problems`` of each
    task); store the scores as ``curves.json["evals"]`` (stage -> task -> accuracy) and return them."""
    import json

    from .checkpoint_manager import PHASE_DIRS
    from .scripts import chat_eval

    evals: dict[str, dict[str, float]] = {}
    previous = os.environ.get("NANOCHAT_BASE_DIR")
    os.environ["NANOCHAT_BASE_DIR"] = run_dir
    try:
        for stage in EXPORTED_STAGES:
            if os.path.isdir(os.path.join(run_dir, PHASE_DIRS[stage])):
                argv = ["-i", stage, *SWEEP_FLAGS, "-x", str(max_problems), "-m", str(max_new_tokens)]
                results = chat_eval.main([*argv, *device_dash])
                evals[stage] = {k: float(v) for k, v in results.items() if "baseline" not in k}
    finally:
        if previous is None:
            os.environ.pop("NANOCHAT_BASE_DIR", None)
        else:
            os.environ["NANOCHAT_BASE_DIR"] = previous
    path = os.path.join(run_dir, CURVES_FILE)
    curves = json.load(open(path, encoding="utf-8")) if os.path.exists(path) else {}
    curves["evals"] = evals
    with open(path, "w", encoding="utf-8") as f:
        json.dump(curves, f, indent=1)
        f.write("\n")
    return evals


def export_checkpoint(out_dir: str, source_dir: str, tag: str) -> None:
    """Copy the tokenizer and the last checkpoint of `source_dir/<tag>` to `out_dir`, weights in bf16."""
    import json

    import torch

    from .checkpoint_manager import find_last_step

    ckpt_dir = os.path.join(source_dir, tag)
    step = find_last_step(ckpt_dir)
    os.makedirs(os.path.join(out_dir, "tokenizer"), exist_ok=True)
    for name in ("tokenizer.pkl", "tokenizer.tiktoken", "token_bytes.pt"):
        src = os.path.join(get_base_dir(), "tokenizer", name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(out_dir, "tokenizer", name))
    phase_dir = os.path.join(out_dir, os.path.basename(source_dir), tag)
    os.makedirs(phase_dir, exist_ok=True)
    state = torch.load(os.path.join(ckpt_dir, f"model_{step:06d}.pt"), map_location="cpu", weights_only=True)
    state = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, os.path.join(phase_dir, f"model_{step:06d}.pt"))
    with open(os.path.join(ckpt_dir, f"meta_{step:06d}.json")) as f:
        meta = json.load(f)
    with open(os.path.join(phase_dir, f"meta_{step:06d}.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print0(f"Exported {ckpt_dir} step {step} to {phase_dir}")


def splice_report(report_text: str, section: str, stage: str, results: dict[str, float]) -> str:
    """`report_text` with its `## Chat evaluation <stage>` section replaced by `section` (appended before the
    summary if absent) and the summary table's `<stage>` column updated for the metrics in `results`."""
    import re

    heading = f"## Chat evaluation {stage}\n"
    pattern = re.compile(re.escape(heading) + r".*?(?=^## )", re.DOTALL | re.MULTILINE)
    section = section.rstrip("\n") + "\n\n\n"
    if pattern.search(report_text):
        report_text = pattern.sub(lambda _m: section, report_text, count=1)
    else:
        report_text = report_text.replace("## Summary\n", section + "## Summary\n", 1)
    column = {"base": 1, "mid": 2, "sft": 3, "rl": 4}[stage]
    lines = report_text.split("\n")
    for i, line in enumerate(lines):
        cells = line.split("|")
        if len(cells) == 7 and cells[1].strip() in results:
            cells[column + 1] = f" {results[cells[1].strip()]:.4f}".ljust(len(cells[column + 1]))
            lines[i] = "|".join(cells)
    return "\n".join(lines)


def reevaluate(export_dir: str, eval_argv: list[str]) -> dict[str, float]:
    """Eval-only pass on an exported folder: rerun the final model's evaluation, splice it into its report.md."""
    import tempfile

    from .scripts import chat_eval

    stage = "rl" if os.path.isdir(os.path.join(export_dir, "chatrl_checkpoints")) else "sft"
    old_base = os.environ.get("NANOCHAT_BASE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "base")
        shutil.copytree(export_dir, base, ignore=shutil.ignore_patterns("report.md", "report"))
        os.environ["NANOCHAT_BASE_DIR"] = base
        try:
            results = chat_eval.main(["-i", stage, *eval_argv])
            slug = f"chat-evaluation-{stage}.md"
            section = open(os.path.join(base, "report", slug)).read()
        finally:
            if old_base is None:
                os.environ.pop("NANOCHAT_BASE_DIR", None)
            else:
                os.environ["NANOCHAT_BASE_DIR"] = old_base
    section = section.replace(
        "\n\n", "\n(eval-only pass on the exported checkpoint: `speedrun --reeval`)\n\n", 1
    )
    report_path = os.path.join(export_dir, "report.md")
    with open(report_path) as f:
        text = f.read()
    with open(report_path, "w") as f:
        f.write(splice_report(text, section, stage, results))
    print0(f"Updated {report_path}")
    return results


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = build_parser().parse_args(argv)
    name = "tiny" if args.tiny else "chat" if args.chat else "smoke"
    profile = {k: list(v) for k, v in PROFILES[name].items()}
    if args.depth > 0:
        profile["base"] += ["--depth", str(args.depth)]  # argparse: the last occurrence wins
    if args.mid_epochs > 0:
        profile["mid"] += ["--num_epochs", str(args.mid_epochs)]
    if args.mid_steps > 0:
        profile["mid"] += ["--num_iterations", str(args.mid_steps)]
    if args.sft_steps > 0:
        profile["sft"] += ["--num_iterations", str(args.sft_steps)]
    if args.mid_domains > 0:
        profile["mid"] += ["--domains", str(args.mid_domains)]
    device = ["--device_type", args.device_type] if args.device_type else []
    device_dash = ["--device-type", args.device_type] if args.device_type else []

    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    if args.sweep:
        return {
            f"{stage}/{k}": v for stage, r in sweep(args.sweep, device_dash).items() for k, v in r.items()
        }
    if args.reeval:
        stage_key = (
            "eval_rl" if os.path.isdir(os.path.join(args.reeval, "chatrl_checkpoints")) else "eval_sft"
        )
        reevaluated = reevaluate(args.reeval, profile[stage_key] + device_dash)
        for k, v in reevaluated.items():
            print(f"{k}: {v:.4f}")
        return reevaluated
    from .chatdata import generators
    from .report import get_report
    from .scripts import (
        base_eval,
        base_train,
        chat_eval,
        chat_rl,
        chat_sft,
        make_shards,
        mid_train,
        tok_train,
    )

    base_dir = get_base_dir()
    print0(f"Base dir: {base_dir}")
    report = get_report()
    report.reset()
    timings: dict[str, float] = {}
    results: dict[str, float] = {}

    outputs: dict[str, object] = {}

    def stage(name: str, fn, stage_argv: list[str]):
        print0(f"\n===== {name}: {' '.join(stage_argv)}")
        t0 = time.time()
        out = fn(stage_argv)
        timings[name] = time.time() - t0
        outputs[name] = out
        print0(f"===== {name} done in {timings[name]:.1f}s")
        return out

    t_start = time.time()
    stage("shards", make_shards.main, profile["shards"])
    tok_stats = stage("tokenizer", tok_train.main, profile["tok"])
    report.log("Tokenizer training", [{k: v for k, v in tok_stats.items() if k != "tokenizer_dir"}])
    stage("chatdata", lambda a: generators.main(a), ["--out", base_dir])
    stage("base_train", base_train.main, profile["base"] + device)
    stage("base_eval", base_eval.main, profile["base_eval"] + device_dash)
    stage("mid_train", mid_train.main, profile["mid"] + device)
    mid = stage("chat_eval_mid", chat_eval.main, ["-i", "mid", *profile["eval_mid"], *device_dash])
    stage("chat_sft", chat_sft.main, profile["sft"] + device)
    sft = stage("chat_eval_sft", chat_eval.main, ["-i", "sft", *profile["eval_sft"], *device_dash])
    final_source = "sft"
    rl = {}
    if not (args.skip_rl or args.chat):
        stage("chat_rl", chat_rl.main, profile["rl"] + device)
        rl = stage("chat_eval_rl", chat_eval.main, ["-i", "rl", *profile["eval_rl"], *device_dash])
        final_source = "rl"
    timings["total"] = time.time() - t_start
    for prefix, res in (("mid", mid), ("sft", sft), ("rl", rl)):
        for k, v in res.items():
            results[f"{prefix}/{k}"] = v

    report.log("Speedrun", [{f"{k} time (s)": v for k, v in timings.items()}, {"final model": final_source}])
    path = report.generate(extra_sections=["speedrun.md"])
    print0(f"Report: {path}")
    curves = write_curves(os.path.join(base_dir, "report", CURVES_FILE), outputs, timings)
    if args.export:
        from .checkpoint_manager import PHASE_DIRS

        for phase in EXPORTED_STAGES[: EXPORTED_STAGES.index(final_source) + 1]:
            source_dir = os.path.join(base_dir, PHASE_DIRS[phase])
            tag = sorted(os.listdir(source_dir))[0]
            export_checkpoint(args.export, source_dir, tag)
        shutil.copy(path, os.path.join(args.export, "report.md"))
        shutil.copy(curves, os.path.join(args.export, CURVES_FILE))
    for k, v in timings.items():
        print(f"speedrun_{k}_s: {v:.1f}")
    for k, v in results.items():
        print(f"{k}: {v:.4f}")
    return {**{f"time/{k}": v for k, v in timings.items()}, **results}


if __name__ == "__main__":
    main()
