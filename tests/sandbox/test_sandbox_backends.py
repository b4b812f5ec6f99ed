"""The shared backend suite: every backend (bwrap here; docker where an engine answers) passes it.

One property per test. Run it against Docker on a host with an engine and the sandbox image:
``SANDBOX_TEST_BACKENDS=docker SANDBOX_DOCKER_IMAGE=nanochat-lab-sandbox:latest pytest tests/sandbox/test_sandbox_backends.py``.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import JobSpec, Mount, Sandbox
from sandbox.cgroups import available as cgroups_available
from sandbox.limits import DEFAULTS, MIB

SpecFactory = Callable[..., JobSpec]


def test_it_returns_the_exit_code_of_the_job(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("import sys; sys.exit(3)"))
    assert (done.outcome, done.exit_code) == ("exited", 3)


def test_it_feeds_stdin_and_collects_stdout(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("import sys; print(sys.stdin.read().upper())"), stdin=b"hello sandbox")
    assert done.stdout == b"HELLO SANDBOX\n"


def test_it_keeps_stderr_apart_from_stdout(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("import sys; print('out'); print('err', file=sys.stderr)"))
    assert (done.stdout, done.stderr) == (b"out\n", b"err\n")


def test_it_carries_a_line_protocol_over_raw_pipes(backend: Sandbox, spec: SpecFactory) -> None:
    code = "import sys\nfor line in sys.stdin:\n    sys.stdout.write(str(int(line) * 2) + '\\n'); sys.stdout.flush()"
    job = backend.start(spec(code))
    answers = []
    for n in (1, 21, 50):
        job.stdin.write(f"{n}\n".encode())
        job.stdin.flush()
        answers.append(job.stdout.readline())
    job.stdin.close()
    assert (answers, job.wait().outcome) == ([b"2\n", b"42\n", b"100\n"], "exited")


def test_the_pipes_are_buffered_like_popen_s(backend: Sandbox, spec: SpecFactory) -> None:
    # the grading engine drains stderr with read1() and writes frames to stdin before a flush()
    job = backend.start(spec("import sys; sys.stderr.write(sys.stdin.readline())"))
    job.stdin.write(b"to stderr\n")
    job.stdin.flush()
    first = job.stderr.read1(65536)
    job.stdin.close()
    assert (first, job.wait(timeout=10).outcome) == (b"to stderr\n", "exited")


def test_the_job_sees_exactly_the_env_it_was_given(backend: Sandbox, spec: SpecFactory, py) -> None:
    done = backend.run(spec("import os; print(sorted(os.environ))", env={"GREETING": "hi"}))
    assert done.stdout.decode().strip() == str(sorted({**py.env, "GREETING": "hi"}))


def test_the_job_runs_as_a_non_root_user(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("import os; print(os.getuid(), os.geteuid(), os.getgid())"))
    assert all(int(x) != 0 for x in done.stdout.split())


def test_the_job_starts_in_the_work_dir(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("import os; print(os.getcwd())"))
    assert done.stdout == b"/work\n"


def test_the_job_reads_files_placed_in_the_work_dir(
    backend: Sandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    (tmp_path / "work" / "given.txt").write_text("from the host")
    done = backend.run(spec("print(open('given.txt').read())"))
    assert done.stdout == b"from the host\n"


def test_files_the_job_writes_in_the_work_dir_reach_the_host_where_the_backend_returns_them(
    backend: Sandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    backend.run(spec("open('/work/out.txt', 'w').write('made inside')"))
    out = tmp_path / "work" / "out.txt"
    assert (out.read_text() if out.exists() else None) == ("made inside" if backend.returns_work else None)


# -- the work dir's caps (bwrap mounts them as root) --------------------------------------------------------------

#: Writes 1 MiB files into /work (at most 64: well past the caps used here); prints errno and bytes written.
FILL_WORK = """
import os
written, code = 0, None
try:
    for n in range(64):
        with open(f"fill-{n}", "wb") as f:
            for _ in range(16):
                written += f.write(b"x" * 65536)
except OSError as exc:
    code = exc.errno
print(code, written)
"""


def needs_work_caps(backend: Sandbox) -> None:
    if backend.name == "bwrap" and os.geteuid() != 0:
        pytest.skip("bwrap caps the work dir as root only")


def test_the_work_dir_has_the_caps_of_its_limits(backend: Sandbox, spec: SpecFactory) -> None:
    needs_work_caps(backend)
    code = "import os; st = os.statvfs('/work'); print(st.f_blocks * st.f_frsize, st.f_files)"
    done = backend.run(spec(code, limits={"work_bytes": 4 * MIB, "work_inodes": 300}))
    assert done.stdout == f"{4 * MIB} 300\n".encode()


def test_filling_the_work_dir_stops_at_its_byte_cap(backend: Sandbox, spec: SpecFactory) -> None:
    needs_work_caps(backend)
    done = backend.run(spec(FILL_WORK, limits={"work_bytes": 4 * MIB}))
    code, written = map(int, done.stdout.split())
    assert (code, written <= 4 * MIB) == (errno.ENOSPC, True)


def test_a_hundred_thousand_empty_files_stop_at_the_inode_cap(backend: Sandbox, spec: SpecFactory) -> None:
    needs_work_caps(backend)
    code = (
        "import os\nmade = 0\ntry:\n    for n in range(100_000):\n        open(f'e{n}', 'w').close()\n"
        "        made += 1\nexcept OSError as exc:\n    print(exc.errno, made)"
    )
    done = backend.run(spec(code))
    assert done.stdout.split() == [str(errno.ENOSPC).encode(), str(DEFAULTS["work_inodes"] - 1).encode()]


def test_read_only_mounts_are_readable(backend: Sandbox, spec: SpecFactory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("shared")
    done = backend.run(spec("print(open('/data/a.txt').read())", mounts=[Mount(data, "/data")]))
    assert done.stdout == b"shared\n"


def test_read_only_mounts_refuse_writes(backend: Sandbox, spec: SpecFactory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    code = "try:\n    open('/data/new.txt', 'w')\nexcept OSError as e:\n    print(e.errno)"
    done = backend.run(spec(code, mounts=[Mount(data, "/data")]))
    assert done.stdout == b"30\n" and not (data / "new.txt").exists()  # EROFS


def test_writable_mounts_accept_writes(backend: Sandbox, spec: SpecFactory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o777)
    backend.run(spec("open('/data/new.txt', 'w').write('ok')", mounts=[Mount(data, "/data", writable=True)]))
    assert (data / "new.txt").read_text() == "ok"


def test_tmp_is_private_and_writable(backend: Sandbox, spec: SpecFactory) -> None:
    code = "import os; open('/tmp/x', 'w').write('1'); print(os.listdir('/tmp'))"
    done = backend.run(spec(code))
    assert done.stdout == b"['x']\n"


def test_local_services_are_unreachable(backend: Sandbox, spec: SpecFactory) -> None:
    code = (
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 6379), timeout=1)\n    print('reached')\n"
        "except OSError:\n    print('blocked')"
    )
    assert backend.run(spec(code)).stdout == b"blocked\n"


def test_the_wall_clock_limit_ends_the_job_as_timeout(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("import time; time.sleep(30)", limits={"wall_seconds": 1}))
    assert done.outcome == "timeout" and done.result.wall_seconds < 5


@pytest.mark.skipif(not cgroups_available(), reason="a hard memory cap needs root and cgroup v1 (memory)")
def test_the_memory_cap_ends_the_job_as_memory_limit(backend: Sandbox, spec: SpecFactory) -> None:
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(8 * 1024 * 1024))"
    done = backend.run(spec(code, limits={"memory_bytes": 64 * 1024 * 1024, "wall_seconds": 20}))
    assert done.outcome == "memory_limit"


def test_more_output_than_the_cap_ends_the_job_as_output_limit(backend: Sandbox, spec: SpecFactory) -> None:
    code = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)"
    done = backend.run(spec(code, limits={"output_bytes": 100_000}))
    assert done.outcome == "output_limit"


def test_captured_output_never_exceeds_the_cap(backend: Sandbox, spec: SpecFactory) -> None:
    code = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536); sys.stderr.write('y' * 65536)"
    done = backend.run(spec(code, limits={"output_bytes": 100_000}))
    assert len(done.stdout) + len(done.stderr) <= 100_000 and done.truncated


def test_kill_ends_a_running_job_as_killed(backend: Sandbox, spec: SpecFactory) -> None:
    job = backend.start(spec("import time; time.sleep(30)"))
    job.kill()
    assert job.wait(timeout=10).outcome == "killed"


def test_wait_raises_timeout_expired_when_the_job_is_still_running(
    backend: Sandbox, spec: SpecFactory
) -> None:
    job = backend.start(spec("import time; time.sleep(30)"))
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            job.wait(timeout=0.2)
    finally:
        job.kill()
        job.wait()


def test_poll_is_none_while_running_and_the_result_after(backend: Sandbox, spec: SpecFactory) -> None:
    job = backend.start(spec("import sys; sys.stdin.read()"))
    running = job.poll()
    job.stdin.close()
    ended = job.wait(timeout=10)
    assert running is None and job.poll() is ended


def test_a_job_killed_by_a_signal_reports_the_signal(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"))
    assert (done.outcome, done.result.signal, done.exit_code) == ("exited", 11, None)


def test_wall_seconds_are_measured(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("import time; time.sleep(0.5)"))
    assert 0.45 <= done.result.wall_seconds < 10


def test_cpu_seconds_are_measured(backend: Sandbox, spec: SpecFactory) -> None:
    code = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end:\n    pass"
    done = backend.run(spec(code))
    assert done.result.cpu_seconds >= 0.35


# The CPU cap (moved here from the adversarial suite, which runs on bwrap only): RLIMIT_CPU in both backends,
# the time measured by the job's cgroup (bwrap's own, docker's parent cgroup of the container).


def test_a_cpu_burn_ends_at_the_cpu_seconds_cap(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("while True: pass", limits={"cpu_seconds": 1, "wall_seconds": 30}))
    assert (done.outcome, done.result.signal, "CPU" in done.result.message) == ("timeout", 24, True)
    assert 0.5 <= done.result.cpu_seconds < 3  # RLIMIT_CPU counts ticks, cgroups precisely: not equal


def test_ignoring_sigxcpu_still_ends_at_the_hard_cpu_cap(backend: Sandbox, spec: SpecFactory) -> None:
    code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass"
    done = backend.run(spec(code, limits={"cpu_seconds": 1, "wall_seconds": 30}))
    assert (done.outcome, done.result.signal, "CPU" in done.result.message) == ("timeout", 9, True)


def test_a_job_that_closes_its_stdin_early_still_gets_a_result(backend: Sandbox, spec: SpecFactory) -> None:
    done = backend.run(spec("import os; os.close(0); print('fine')"), stdin=b"x" * 1_000_000)
    assert (done.outcome, done.stdout) == ("exited", b"fine\n")


def test_two_jobs_run_at_once_without_waiting_for_each_other(backend: Sandbox, spec: SpecFactory) -> None:
    code = "import sys, time\nprint(time.time(), flush=True)\nsys.stdin.read()\nprint(time.time())"
    jobs = [backend.start(spec(code)) for _ in range(2)]
    starts = [float(job.stdout.readline()) for job in jobs]  # both are running now
    for job in jobs:
        job.stdin.close()
    ends = [float(job.stdout.readline()) for job in jobs]
    assert all(job.wait(timeout=10).outcome == "exited" for job in jobs) and max(starts) < min(ends)
