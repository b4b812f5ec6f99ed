"""Compile a learner's Rust crate inside the learner sandbox, offline, and load it as a Python extension.

Runs in the UNTRUSTED learner host (stdlib only). Design choices:
- The build happens where the learner's Python runs, under the same sandbox: no network (cargo is ``--offline``
  and its crates come from Debian's registry, the crate's ``.cargo/config.toml`` source replacement), writes only
  under the job's work dir (target dir, ``CARGO_HOME`` and ``TMPDIR`` there) and the job's rlimits, cgroup and
  wall clock. What it compiles is the crate's reference files with the learner's ``lib.rs`` in place: the engine
  accepted that file only if its text outside the marked regions is the reference's and no region names a
  compile-time file or environment access (``modules.spec.rust_regions_check``), so no build script, proc macro
  or ``include_str!`` of the learner's ever runs.
- It is lazy: the first import of the crate's module name builds it, so only the tests of the Rust step wait for
  the compile, under the longer deadline the runner gives that one call. The runner also says whether the learner
  attempted the file at all; an untouched starter is never compiled, and importing it fails at once saying so.
- The module name is always answered by the learner's build (or an error), never by the reference extension
  installed in the venv.
- A reference build of the dependencies (a tar of its target dir, read-only, made by ``python -m
  grading.engine.rustbuild`` in the same sandbox layout, so paths and env match) is unpacked into the target dir
  first when present, so only the learner's crate compiles; without it the dependencies compile too (slower,
  same result). A tar keeps the files' mtimes, which cargo's freshness checks compare.
- A failed compile raises :class:`RustBuildError` whose message is rustc's diagnostics, paths made relative to the
  workspace (``rustbpe/src/lib.rs:57:13``), so the learner sees the file and line in their code.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import ModuleType

#: Where the build lives inside the workspace, and where the reference cache is mounted read-only.
BUILD_DIR = ".lab-rust"
CACHE_TARGET = "/opt/lab-rust-cache.tar"
#: The host's Rust toolchain (its sysroot: cargo, rustc, std), bound read-only.
TOOLCHAIN_TARGET = "/opt/rust"
DIAGNOSTIC_CHARS = 3500
_NOISE = re.compile(r"^\s*(Compiling|Finished|Running|Blocking|Fresh|Updating)\b")


class RustBuildError(ImportError):
    """The learner's crate did not compile (or was not attempted); the message is what the learner reads."""


def cargo_env(
    root: Path, build: Path, target: Path | None = None, toolchain: str = TOOLCHAIN_TARGET
) -> dict[str, str]:
    """The only variables cargo sees: nothing of the host's or the learner's environment."""
    return {
        "PATH": f"{toolchain}/bin:/usr/bin:/bin",
        "HOME": str(build),
        "CARGO_HOME": str(build / "cargo-home"),
        "CARGO_TARGET_DIR": str(target or build / "target"),
        "CARGO_NET_OFFLINE": "true",
        "CARGO_TERM_COLOR": "never",
        "CARGO_BUILD_JOBS": "2",
        "CARGO_INCREMENTAL": "0",
        "PYO3_PYTHON": sys.executable,
        "TMPDIR": str(build / "tmp"),
        "LANG": "C.UTF-8",
    }


def diagnostics(stderr: str, crate: str) -> str:
    """rustc's errors without cargo's progress lines, paths relative to the workspace, capped in length."""
    lines = [line for line in stderr.splitlines() if not _NOISE.match(line)]
    text = "\n".join(lines).strip()
    text = re.sub(r"(-->\s+)(src/)", rf"\g<1>{crate}/\g<2>", text)
    text = re.sub(r"\(/[^()]*/" + re.escape(crate) + r"\)", f"({crate})", text)
    if len(text) > DIAGNOSTIC_CHARS:
        text = text[:DIAGNOSTIC_CHARS] + "\n[more diagnostics cut]"
    return text


def compile_crate(
    root: Path,
    crate: str,
    seconds: float,
    cache: Path | None = None,
    target: Path | None = None,
    toolchain: str = TOOLCHAIN_TARGET,
) -> Path:
    """Build ``root/<crate>`` in release mode; return the extension's path. Raises :class:`RustBuildError`.

    ``target``: a target dir kept elsewhere (trusted tooling that compiles many variants of our own crate, such as
    the bug catalogue, shares one), else the build's own under ``root``; ``toolchain``: the Rust sysroot (bound at
    ``/opt/rust`` in the sandbox).
    """
    build = root / BUILD_DIR
    target = target or build / "target"
    (build / "tmp").mkdir(parents=True, exist_ok=True)
    if cache is not None and cache.is_file() and not target.exists():
        with tarfile.open(cache) as tar:
            tar.extractall(build, filter="tar")
    # From inside the crate: cargo reads the source replacement (Debian's crates) from <crate>/.cargo/.
    argv = ["cargo", "build", "--release", "--offline", "--features", "extension-module"]
    try:
        done = subprocess.run(
            argv,
            cwd=root / crate,
            env=cargo_env(root, build, target, toolchain),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RustBuildError(
            f"Compiling {crate}/src/lib.rs took longer than {seconds:g} s and was stopped."
        ) from None
    except OSError as exc:
        raise RustBuildError(f"cargo could not be started in the sandbox: {exc}") from None
    if done.returncode != 0:
        text = diagnostics(done.stderr.decode("utf-8", "replace"), crate)
        raise RustBuildError(f"{crate}/src/lib.rs does not compile:\n{text}")
    built = target / "release" / f"lib{crate}.so"
    if not built.is_file():
        raise RustBuildError(f"cargo finished but produced no {built.name}")
    return built


def load_extension(name: str, path: Path) -> ModuleType:
    """Import the extension at ``path`` as module ``name`` (its ``PyInit_<name>``), replacing any other."""
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules[name] = module
    return module


class CrateBuild:
    """One crate a learner host answers for: built on first import, then that module for every import."""

    def __init__(self, root: Path, info: dict[str, object]) -> None:
        self.root = root
        self.crate = str(info["crate"])
        self.module_name = str(info["module"])
        self.attempted = bool(info.get("attempted"))
        self.seconds = float(info.get("seconds", 120))  # type: ignore[arg-type]
        self.path = str(info.get("path", f"{self.crate}/src/lib.rs"))
        self.module: ModuleType | None = None
        self.error: RustBuildError | None = None

    def load(self) -> ModuleType:
        if self.module is not None:
            return self.module
        if self.error is not None:
            raise self.error
        if not self.attempted:
            self.error = RustBuildError(
                f"{self.path} still has its unimplemented!() regions: the optional Rust step is not "
                "attempted, so nothing was compiled."
            )
            raise self.error
        cache = Path(CACHE_TARGET)
        try:
            built = compile_crate(self.root, self.crate, self.seconds, cache if cache.is_file() else None)
            self.module = load_extension(self.module_name, built)
        except RustBuildError as exc:
            self.error = exc
            raise
        return self.module


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - build tooling, run by `make rustbpe`
    parser = argparse.ArgumentParser(
        description="Compile a crate as the learner sandbox does and keep its target dir as the dependency cache"
    )
    parser.add_argument(
        "--root", required=True, help="folder holding <crate>/ (Cargo.toml, Cargo.lock, src/)"
    )
    parser.add_argument("--crate", default="rustbpe", help="the crate's folder name")
    parser.add_argument("--seconds", type=float, default=600, help="the compile's time limit")
    args = parser.parse_args(argv)
    start = time.monotonic()
    root = Path(args.root)
    compile_crate(root, args.crate, args.seconds)
    print(f"built {args.crate} in {time.monotonic() - start:.1f} s", file=sys.stderr)
    with tarfile.open(root / BUILD_DIR / "target.tar", "w") as tar:
        tar.add(root / BUILD_DIR / "target", arcname="target")
    shutil.rmtree(root / BUILD_DIR / "target")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
