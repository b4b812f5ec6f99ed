"""Run untrusted model-written Python with timeouts and memory limits (used to grade HumanEval-style tasks).

Design choices (following nanochat's classic `execution.py`, commit C):

- `execute_code(code, timeout, maximum_memory_bytes) -> ExecutionResult`: the program runs in a *separate process*
  (`multiprocessing`, start method "fork" where available), inside a fresh temporary directory that is deleted
  afterwards. The parent joins with `timeout + 1` seconds and kills the child if it is still alive, so even code that
  blocks signals cannot hang the caller.
- Inside the child, `reliability_guard` sets `RLIMIT_AS` / `RLIMIT_DATA` (memory bombs raise `MemoryError`), disables
  faulthandler, `exit`/`quit`/`help`, about 25 destructive `os` functions, `shutil.rmtree/move/chown`,
  `subprocess.Popen`, and blocks a few imports. stdin raises on read; stdout/stderr are captured into strings.
  A `setitimer(ITIMER_REAL)` alarm raises `TimeoutException` after `timeout` seconds.
- Results come back over a `multiprocessing.Pipe` as a plain dict (nanochat used a `Manager().dict()`; a pipe avoids
  starting a manager server process per call, which matters on 2 busy cores).

THREAT MODEL — this is NOT a security sandbox. It protects the evaluation run from *accidents* (infinite loops,
runaway allocations, stray file deletions) by a well-meaning but weak model. Network access stays open, `ctypes`
is importable, there is no kernel isolation, and a determined program can undo every guard. Real isolation for
learner code lives in the platform's `sandbox/` (bubblewrap + rlimits + cgroups).
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import multiprocessing
import os
import platform
import signal
import tempfile
from dataclasses import dataclass


@dataclass
class ExecutionResult:
    """Outcome of one `execute_code` call."""

    success: bool
    stdout: str
    stderr: str
    error: str | None = None
    timeout: bool = False
    memory_exceeded: bool = False

    def __repr__(self) -> str:
        parts = [f"success={self.success}"]
        if self.timeout:
            parts.append("timeout=True")
        if self.memory_exceeded:
            parts.append("memory_exceeded=True")
        if self.error:
            parts.append(f"error={self.error!r}")
        if self.stdout:
            parts.append(f"stdout={self.stdout!r}")
        if self.stderr:
            parts.append(f"stderr={self.stderr!r}")
        return f"ExecutionResult({', '.join(parts)})"


class TimeoutException(Exception):
    """Raised inside the child when the wall-clock alarm fires."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise `TimeoutException` in the current (main) thread after `seconds` of wall-clock time."""

    def handler(signum, frame):
        raise TimeoutException("Timed out!")

    signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.signal(signal.SIGALRM, handler)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


class WriteOnlyStringIO(io.StringIO):
    """A stdin replacement that raises on every read."""

    def read(self, *args, **kwargs):
        raise OSError

    def readline(self, *args, **kwargs):
        raise OSError

    def readlines(self, *args, **kwargs):
        raise OSError

    def readable(self, *args, **kwargs):
        return False


class redirect_stdin(contextlib._RedirectStream):  # type: ignore[type-arg]
    _stream = "stdin"


@contextlib.contextmanager
def capture_io():
    """Capture stdout/stderr into StringIOs and make stdin unreadable."""
    stdout_capture = io.StringIO()
    stderr_capture = io.StringIO()
    stdin_block = WriteOnlyStringIO()
    with contextlib.redirect_stdout(stdout_capture):
        with contextlib.redirect_stderr(stderr_capture):
            with redirect_stdin(stdin_block):
                yield stdout_capture, stderr_capture


def reliability_guard(maximum_memory_bytes: int | None = None) -> None:
    """Disable destructive functions and cap memory for the current process (irreversible; child only).

    WARNING: not a security sandbox (see the module docstring).
    """
    if maximum_memory_bytes is not None and platform.uname().system != "Darwin":
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (maximum_memory_bytes, maximum_memory_bytes))
        resource.setrlimit(resource.RLIMIT_DATA, (maximum_memory_bytes, maximum_memory_bytes))
        resource.setrlimit(resource.RLIMIT_STACK, (maximum_memory_bytes, maximum_memory_bytes))

    faulthandler.disable()

    import builtins

    builtins.exit = None  # type: ignore[assignment]
    builtins.quit = None  # type: ignore[assignment]
    builtins.help = None  # type: ignore[assignment]

    os.environ["OMP_NUM_THREADS"] = "1"
    for name in (
        "kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
        "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
        "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir",
    ):  # fmt: skip
        if hasattr(os, name):
            setattr(os, name, None)

    import shutil

    shutil.rmtree = None  # type: ignore[assignment]
    shutil.move = None  # type: ignore[assignment]
    shutil.chown = None  # type: ignore[assignment]

    import subprocess

    subprocess.Popen = None  # type: ignore[assignment,misc]

    import sys

    for mod in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[mod] = None  # type: ignore[assignment]


def _unsafe_execute(code: str, timeout: float, maximum_memory_bytes: int | None, conn) -> None:
    """Child-process body: chdir into a temp dir, guard, exec, send a result dict back over `conn`."""
    result = {
        "success": False,
        "stdout": "",
        "stderr": "",
        "error": None,
        "timeout": False,
        "memory_exceeded": False,
    }
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        rmtree, rmdir, chdir, unlink = __import__("shutil").rmtree, os.rmdir, os.chdir, os.unlink
        reliability_guard(maximum_memory_bytes)
        try:
            exec_globals: dict = {"__name__": "__main__"}
            with capture_io() as (out, err):
                with time_limit(timeout):
                    exec(code, exec_globals)  # noqa: S102 - the whole point of this module
            result.update(success=True, stdout=out.getvalue(), stderr=err.getvalue())
        except TimeoutException:
            result.update(timeout=True, error="Execution timed out")
        except MemoryError as e:
            result.update(memory_exceeded=True, error=f"Memory limit exceeded: {e}")
        except BaseException as e:  # report any failure of the untrusted code
            result.update(error=f"{type(e).__name__}: {e}")
        finally:
            # restore what TemporaryDirectory's cleanup needs
            import shutil

            shutil.rmtree, os.rmdir, os.chdir, os.unlink = rmtree, rmdir, chdir, unlink
            try:
                os.chdir("/")
            except OSError:
                pass
        try:
            conn.send(result)
        except Exception:  # e.g. unpicklable output; fall back to a minimal message
            conn.send({**result, "stdout": "", "stderr": "", "error": "could not send result"})


def execute_code(
    code: str, timeout: float = 5.0, maximum_memory_bytes: int | None = 256 * 1024 * 1024
) -> ExecutionResult:
    """Execute `code` in a separate, guarded process and report what happened.

    Args:
        code: the Python source to run (as `__main__`).
        timeout: seconds of wall-clock time before the run counts as timed out.
        maximum_memory_bytes: address-space cap for the child (`None` disables it).
    """
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_unsafe_execute, args=(code, timeout, maximum_memory_bytes, child_conn))
    p.start()
    child_conn.close()
    data = None
    if parent_conn.poll(timeout + 1):
        try:
            data = parent_conn.recv()
        except EOFError:
            data = None
    if p.is_alive():
        p.kill()
    p.join(1)
    parent_conn.close()
    if data is None:
        # no result: either killed by the parent's timeout, or the child died (e.g. memory blow-up in C code)
        timed_out = p.exitcode is None or p.exitcode == -signal.SIGKILL
        return ExecutionResult(
            success=False,
            stdout="",
            stderr="",
            error="Execution timed out (process killed)"
            if timed_out
            else f"Process died (exit {p.exitcode})",
            timeout=timed_out,
            memory_exceeded=False,
        )
    return ExecutionResult(**data)
