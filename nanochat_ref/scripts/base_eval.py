"""Evaluate a base model on the CORE metric (nanochat `scripts/base_eval.py`, commit C).

    python -m nanochat_ref.scripts.base_eval                    # the largest base checkpoint
    python -m nanochat_ref.scripts.base_eval --max-per-task 100

Design choices:

- Reads the bundle's `core.yaml` (tasks) and `eval_meta_data.csv` (random baselines). nanochat downloads the real
  22-task bundle; offline we write a small synthetic bundle with the same layout (`chatdata.core_bundle`) the
  first time, under `<base>/eval_bundle`. Point `--bundle-dir` at a real bundle to use that instead.
- Each task's rows are shuffled with `random.Random(1337)` before the `max_per_task` crop.
- `centered = (acc - 0.01*baseline%) / (1 - 0.01*baseline%)`; CORE = the mean of the centred scores.
- Results go to `<base>/base_eval/<tag>.csv` and to the report ("Base model evaluation").
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import time

import yaml

from ..common import autocast_ctx, autodetect_device_type, compute_init, get_base_dir, print0
from ..core_eval import evaluate_task


def ensure_eval_bundle(bundle_dir: str | None = None) -> str:
    bundle_dir = bundle_dir or os.path.join(get_base_dir(), "eval_bundle")
    if not os.path.exists(os.path.join(bundle_dir, "core.yaml")):
        from ..chatdata.core_bundle import write_eval_bundle

        write_eval_bundle(bundle_dir)
    return bundle_dir


def evaluate_model(model, tokenizer, device, max_per_task: int = -1, bundle_dir: str | None = None) -> dict:
    """`{"results", "centered_results", "core_metric"}` over every task of the bundle."""
    bundle_dir = ensure_eval_bundle(bundle_dir)
    with open(os.path.join(bundle_dir, "core.yaml")) as f:
        tasks = yaml.safe_load(f)["icl_tasks"]
    baselines = {}
    with open(os.path.join(bundle_dir, "eval_meta_data.csv")) as f:
        for row in csv.DictReader(f):
            baselines[row["Eval Task"]] = float(row["Random baseline"])
    results, centered_results = {}, {}
    for task in tasks:
        t0 = time.time()
        label = task["label"]
        task_meta = {
            "task_type": task["icl_task_type"],
            "dataset_uri": task["dataset_uri"],
            "num_fewshot": task["num_fewshot"][0],
            "continuation_delimiter": task.get("continuation_delimiter", " "),
        }
        with open(os.path.join(bundle_dir, "eval_data", task_meta["dataset_uri"])) as f:
            data = [json.loads(line) for line in f if line.strip()]
        random.Random(1337).shuffle(data)
        if max_per_task > 0:
            data = data[:max_per_task]
        results[label] = evaluate_task(model, tokenizer, data, device, task_meta)
        print0(f"{label:<20} accuracy {results[label]:.4f} | {time.time() - t0:.1f}s")
    # lab: begin centering
    for label, accuracy in results.items():
        baseline = baselines[label]  # the random baseline, in percent
        centered_results[label] = (accuracy - 0.01 * baseline) / (1.0 - 0.01 * baseline)
    core_metric = sum(centered_results.values()) / len(centered_results)
    # lab: end centering
    print0("centered: " + ", ".join(f"{label} {value:.4f}" for label, value in centered_results.items()))
    return {"results": results, "centered_results": centered_results, "core_metric": core_metric}


def main(argv: list[str] | None = None) -> dict:
    from ..checkpoint_manager import load_model
    from ..report import get_report

    p = argparse.ArgumentParser(description="CORE metric of a base model")
    p.add_argument("-g", "--model-tag", type=str, default=None, help="model tag to load (default: largest)")
    p.add_argument("-s", "--step", type=int, default=None, help="checkpoint step (default: last)")
    p.add_argument("--max-per-task", type=int, default=-1, help="examples per task (-1: all)")
    p.add_argument(
        "--bundle-dir", type=str, default=None, help="eval bundle folder (default: <base>/eval_bundle)"
    )
    p.add_argument("--device-type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    args = p.parse_args(argv)
    device_type = args.device_type or autodetect_device_type()
    _, rank, _, _, device = compute_init(device_type)
    model, tokenizer, meta = load_model(
        "base", device, phase="eval", model_tag=args.model_tag, step=args.step
    )
    with autocast_ctx(device_type):
        out = evaluate_model(
            model, tokenizer, device, max_per_task=args.max_per_task, bundle_dir=args.bundle_dir
        )
    print0(f"CORE metric: {out['core_metric']:.4f}")
    if rank == 0:
        out_dir = os.path.join(get_base_dir(), "base_eval")
        os.makedirs(out_dir, exist_ok=True)
        slug = args.model_tag or f"d{model.config.n_layer}"
        with open(os.path.join(out_dir, f"{slug}.csv"), "w") as f:
            f.write(f"{'Task':<35}, {'Accuracy':<10}, {'Centered':<10}\n")
            for label in out["results"]:
                f.write(
                    f"{label:<35}, {out['results'][label]:<10.6f}, {out['centered_results'][label]:<10.6f}\n"
                )
            f.write(f"{'CORE':<35}, {'':<10}, {out['core_metric']:<10.6f}\n")
    get_report().log("Base model evaluation", [{"Model": slug if rank == 0 else "", "CORE": out["core_metric"]},
                                               out["centered_results"]])  # fmt: skip
    return out


if __name__ == "__main__":
    main()
