"""Module 13's figure: how CORE centres a task's accuracy by its random baseline.

``centred = (accuracy - 0.01 * baseline%) / (1 - 0.01 * baseline%)``, the line of
``nanochat_ref.scripts.base_eval.evaluate_model``, drawn for the baselines of the bundle's task types: 0 %
(language modelling), 25 % (4-way multiple choice), 50 % (2-way schema). Chance maps to 0 and a perfect score to 1,
whatever the baseline, so tasks can be averaged; below chance is negative. The values are computed by running the
reference's ``evaluate_model`` on a stub task list whose accuracies are given (no model is involved).
"""

from __future__ import annotations

import json

ACCURACIES = [round(0.05 * i, 2) for i in range(21)]
BASELINES = [0.0, 25.0, 50.0]

WORDS = {
    "en": {
        "title": "CORE's centring: centred score against raw accuracy",
        "x": "accuracy",
        "y": "centred score",
        "series": "random baseline {b:g} %",
    },
    "zh": {
        "title": "CORE 的中心化：中心化分数与原始准确率",
        "x": "准确率",
        "y": "中心化分数",
        "series": "随机基线 {b:g} %",
    },
}


def centred_by_reference(accuracies: list[float], baseline: float) -> list[float]:
    """Run the reference ``evaluate_model`` on a stub bundle whose task accuracies are ``accuracies``."""
    import os
    import tempfile
    from unittest import mock

    import yaml

    from nanochat_ref.scripts import base_eval

    labels = [f"t{i}" for i in range(len(accuracies))]
    with tempfile.TemporaryDirectory() as bundle:
        tasks = [{"label": lab, "dataset_uri": f"{lab}.jsonl", "num_fewshot": [0], "icl_task_type": "schema"}
                 for lab in labels]  # fmt: skip
        with open(os.path.join(bundle, "core.yaml"), "w", encoding="utf-8") as fh:
            yaml.safe_dump({"icl_tasks": tasks}, fh)
        with open(os.path.join(bundle, "eval_meta_data.csv"), "w", encoding="utf-8") as fh:
            fh.write("Eval Task,Random baseline\n" + "".join(f"{lab},{baseline}\n" for lab in labels))
        os.makedirs(os.path.join(bundle, "eval_data"))
        for lab in labels:
            open(os.path.join(bundle, "eval_data", f"{lab}.jsonl"), "w", encoding="utf-8").close()
        accuracy = iter(accuracies)
        with mock.patch.object(base_eval, "evaluate_task", lambda *a, **k: next(accuracy)), \
                mock.patch.object(base_eval, "print0", lambda *a, **k: None):  # fmt: skip
            out = base_eval.evaluate_model(None, None, "cpu", bundle_dir=bundle)
    return [round(out["centered_results"][lab], 6) for lab in labels]


def core_centring(lang: str) -> str:
    words = WORDS[lang]
    series = [
        {"name": words["series"].format(b=b), "x": ACCURACIES, "y": centred_by_reference(ACCURACIES, b)}
        for b in BASELINES
    ]
    spec = {"title": words["title"], "x_label": words["x"], "y_label": words["y"], "y_range": [-1.05, 1.05],
            "series": series}  # fmt: skip
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
