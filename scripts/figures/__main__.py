"""``python -m scripts.figures --out var/figures``: generate every handout figure (see the package docstring)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from scripts.figures import FIGURES, generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the handout figures from nanochat_ref.")
    parser.add_argument(
        "--out", type=Path, default=Path("var/figures"), help="output folder (default var/figures)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small computations; one thread keeps them cheap on a shared machine
    figures = generate(args.out, FIGURES)
    for key, figure in figures.items():
        print(f"{key}: {', '.join(figure.files.values())}")


if __name__ == "__main__":
    main()
