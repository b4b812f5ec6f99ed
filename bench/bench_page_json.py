"""Page data escaping: Django's ``json_script`` against ``page_json`` (not a test).

Builds a module page's kind of data from the real course for each module (both guides as text, its reference
files; the page carries the rendered guide and the starter files, of the same size and mix of markup and
Chinese), then times both on it, side by side in one run, and prints per module the size, the median
milliseconds of each and their ratio. Usage: ``.venv/bin/python bench/bench_page_json.py [--repeats 50]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labplatform.settings")

import django  # noqa: E402

django.setup()

from django.utils.html import json_script  # noqa: E402

from modules.templatetags.page_data import page_json  # noqa: E402


def page_like(module_dir: Path) -> dict[str, object]:
    files = {
        str(path.relative_to(module_dir)): path.read_text(encoding="utf-8")
        for path in sorted((module_dir / "reference").rglob("*"))
        if path.is_file() and path.suffix in (".py", ".rs", ".md", ".toml")
    }
    guides = {lang: (module_dir / f"guide.{lang}.md").read_text(encoding="utf-8") for lang in ("en", "zh")}
    return {"module": {"slug": module_dir.name}, "guide_html": guides, "files": files}


def median_ms(function, value, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(value, "page-data")
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    ratios = []
    for module_dir in sorted(p for p in (REPO / "content").iterdir() if (p / "module.yaml").is_file()):
        value = page_like(module_dir)
        assert str(page_json(value, "page-data")) == str(json_script(value, "page-data"))
        size = len(str(json_script(value, "page-data")))
        django_ms = median_ms(json_script, value, args.repeats)
        ours_ms = median_ms(page_json, value, args.repeats)
        ratios.append(django_ms / ours_ms)
        print(
            f"{module_dir.name}: {size / 1024:.0f} KiB  json_script_ms: {django_ms:.2f}  page_json_ms: "
            f"{ours_ms:.2f}  ratio: {django_ms / ours_ms:.1f}"
        )
    print(f"median_ratio_json_script_over_page_json: {statistics.median(ratios):.1f}")


if __name__ == "__main__":
    main()
