"""``python -m grading run <module-dir> <submission-file>...``: grade files from the command line.

``--format json`` (the default) prints one JSON event per line as it happens; the last line is the full result.
``--format gradescope|exercism|prairielearn`` prints only the final result, as that autograder's
``results.json`` document (:mod:`grading.engine.exporters`), so the engine can run inside those platforms.
Files map to the module's editable paths by name (``gpt.py`` -> ``nanochat/gpt.py``) or explicitly with
``--file nanochat/gpt.py=./my_gpt.py``.  The exit status is 1 when the platform failed (``status: error``).
This entry point never imports Django.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _map_files(editable: list[str], positional: list[str], pairs: list[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for item in pairs:
        target, sep, local = item.partition("=")
        if not sep or not target or not local:
            raise SystemExit(f"--file expects path=local, got {item!r}")
        files[target] = Path(local).read_bytes()
    for local in positional:
        name = Path(local).name
        matches = [p for p in editable if Path(p).name == name]
        if len(matches) != 1:
            raise SystemExit(
                f"{local}: cannot map to one of the module's files ({', '.join(editable)}); use --file"
            )
        files[matches[0]] = Path(local).read_bytes()
    return files


FORMATS = ("json", "gradescope", "exercism", "prairielearn")


def _export(result: dict[str, Any], fmt: str, steps: list[str]) -> dict[str, Any]:
    from grading.engine import exporters

    if fmt == "gradescope":
        return exporters.to_gradescope(result)
    if fmt == "exercism":
        return exporters.to_exercism(result, steps)
    return exporters.to_prairielearn(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading", description="nanochat Lab grading engine")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="grade submission files against a module folder")
    run.add_argument("module_dir", type=Path, help="the module folder (content/NN-slug)")
    run.add_argument("files", nargs="*", help="submission files, mapped to editable paths by file name")
    run.add_argument("--file", action="append", default=[], metavar="PATH=LOCAL", help="explicit mapping")
    run.add_argument("--submission-id", default=None, help="recorded in the result")
    run.add_argument(
        "--wall-seconds", type=float, default=None, help="override the module's wall-clock limit"
    )
    run.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="json: every event, then the result (default); otherwise that autograder's results.json",
    )
    args = parser.parse_args(argv)

    from grading.engine.runner import grade
    from grading.engine.workspace import SpecError, load_module

    try:
        module = load_module(args.module_dir)
    except SpecError:
        module = None  # grading reports the broken module as a platform error; files map by --file only
    files = _map_files(module.editable_paths if module else [], args.files, args.file)
    limits = {"wall_seconds": args.wall_seconds} if args.wall_seconds else None
    result: dict[str, Any] = {}
    for event in grade(args.module_dir, files, limits=limits, submission_id=args.submission_id):
        if event["type"] == "verdict":
            result = event["result"]
        elif args.format == "json":
            print(json.dumps(event, ensure_ascii=False), flush=True)
    steps = module.step_ids if module else []
    document = result if args.format == "json" else _export(result, args.format, steps)
    print(json.dumps(document, ensure_ascii=False), flush=True)
    return 1 if result["status"] == "error" else 0


if __name__ == "__main__":
    sys.exit(main())
