"""``python -m grading run <module-dir> <submission-file>...``: grade files from the command line.

Prints one JSON event per line; the last line is the full result.  Files map to the module's editable paths
by name (``gpt.py`` -> ``nanochat/gpt.py``) or explicitly with ``--file nanochat/gpt.py=./my_gpt.py``.
This entry point never imports Django.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _map_files(module_dir: Path, positional: list[str], pairs: list[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for item in pairs:
        target, sep, local = item.partition("=")
        if not sep or not target or not local:
            raise SystemExit(f"--file expects path=local, got {item!r}")
        files[target] = Path(local).read_bytes()
    if not positional:
        return files
    from grading.engine.workspace import SpecError, load_module

    try:
        editable = load_module(module_dir).editable_paths
    except SpecError as exc:
        raise SystemExit(f"cannot map files by name: {exc}") from None
    for local in positional:
        name = Path(local).name
        matches = [p for p in editable if Path(p).name == name]
        if len(matches) != 1:
            raise SystemExit(
                f"{local}: cannot map to one of the module's files ({', '.join(editable)}); use --file"
            )
        files[matches[0]] = Path(local).read_bytes()
    return files


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
    args = parser.parse_args(argv)

    from grading.engine.runner import grade

    files = _map_files(args.module_dir, args.files, args.file)
    limits = {"wall_seconds": args.wall_seconds} if args.wall_seconds else None
    result = None
    for event in grade(args.module_dir, files, limits=limits, submission_id=args.submission_id):
        if event["type"] == "verdict":
            result = event["result"]
        else:
            print(json.dumps(event, ensure_ascii=False), flush=True)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0 if result is not None and result["status"] != "error" else 1


if __name__ == "__main__":
    sys.exit(main())
