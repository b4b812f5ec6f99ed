"""The adversarial suite: hostile jobs against the real bwrap backend, one property per test.

Every case checks three things: the attack is contained (the asserted property), a JobResult still comes back
(``run`` returns), and the host is unharmed (the autouse fixture: no process of the suite's uid range survives
the test; the worker's services still answer).
"""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox import CompletedJob, JobSpec
from sandbox.bwrap import BwrapSandbox
from sandbox.cgroups import available as cgroups_available
from sandbox.uids import pids_of_uids
from sandbox.workfs import MAX_DEPTH

SpecFactory = Callable[..., JobSpec]


def _suite_uids() -> range:
    """This suite's own 64 uids; each pytest-xdist worker (``gw0``, ``gw1``...) gets its own block, so the check
    after every test (no process of the suite's uids survives) never sees another worker's running jobs."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    base = 62100 + 64 * worker
    return range(base, base + 64)


SUITE_UIDS = _suite_uids()
REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the adversarial suite drops to per-job uids (root)"
)


@pytest.fixture(scope="module")
def sb() -> BwrapSandbox:
    return BwrapSandbox(uids=SUITE_UIDS)


@pytest.fixture(autouse=True)
def host_unharmed() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 2
    survivors = pids_of_uids(SUITE_UIDS)
    while survivors and time.monotonic() < deadline:
        time.sleep(0.05)
        survivors = pids_of_uids(SUITE_UIDS)
    assert survivors == [], f"sandbox processes survived the job: {survivors}"


def run(sb: BwrapSandbox, job: JobSpec, stdin: bytes = b"") -> CompletedJob:
    done = sb.run(job, stdin)
    assert done.outcome != "sandbox_error", done.result.message
    return done


def out(sb: BwrapSandbox, job: JobSpec) -> str:
    return run(sb, job).stdout.decode("utf-8", "replace").strip()


def attempt(body: str) -> str:
    """Code printing 'ok' if ``body`` succeeds, else the exception class name."""
    indented = "\n".join("    " + line for line in body.splitlines())
    return f"try:\n{indented}\n    print('ok')\nexcept BaseException as e:\n    print(type(e).__name__)"


def connect(host: str, port: int, timeout: float = 1.0) -> str:
    return attempt(f"import socket\nsocket.create_connection(({host!r}, {port}), timeout={timeout})")


# -- network ------------------------------------------------------------------------------------------------


def test_postgresql_on_loopback_is_unreachable(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(connect("127.0.0.1", 5432))) == "ConnectionRefusedError"


def test_redis_on_loopback_is_unreachable(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(connect("127.0.0.1", 6379))) == "ConnectionRefusedError"


def test_an_outside_address_is_unreachable(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(connect("192.0.2.1", 80, timeout=0.5))) == "OSError"  # ENETUNREACH, not a timeout


def test_dns_resolution_fails(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("import socket\nsocket.getaddrinfo('example.com', 80)"))) == "gaierror"


def test_only_the_loopback_interface_exists(sb: BwrapSandbox, spec: SpecFactory) -> None:
    done = out(sb, spec("import socket; print([n for _, n in socket.if_nameindex()])"))
    assert done == "['lo']"


def test_raw_sockets_are_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = attempt("import socket\nsocket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)")
    assert out(sb, spec(code)) == "PermissionError"


def test_packet_sockets_are_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = attempt("import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)")
    assert out(sb, spec(code)) == "PermissionError"


def test_the_postgresql_unix_socket_is_not_there(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = attempt(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/var/run/postgresql/.s.PGSQL.5432')"
    )
    assert out(sb, spec(code)) == "FileNotFoundError"


def test_a_host_abstract_unix_socket_is_unreachable(sb: BwrapSandbox, spec: SpecFactory) -> None:
    name = f"\0nanochat-sandbox-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX)
    server.bind(name)
    server.listen(1)
    try:
        code = attempt(f"import socket\nsocket.socket(socket.AF_UNIX).connect({name!r})")
        assert out(sb, spec(code)) == "ConnectionRefusedError"  # abstract sockets live in the net namespace
    finally:
        server.close()


def test_the_worker_services_still_answer_after_the_network_cases() -> None:
    for port in (5432, 6379):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# -- secrets and the host file system -----------------------------------------------------------------------


def test_worker_secrets_are_absent_from_the_job_env(
    sb: BwrapSandbox, spec: SpecFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "fake-secret-4711")
    monkeypatch.setenv("DATABASE_URL", "postgres://root@127.0.0.1/test")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    done = out(sb, spec("import os; print(repr(dict(os.environ)))"))
    assert not any(s in done for s in ("fake-secret-4711", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"))


def test_worker_secrets_are_absent_from_every_visible_process_environ(
    sb: BwrapSandbox, spec: SpecFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "fake-secret-4712")
    code = (
        "import glob\nfound = b''\nfor p in glob.glob('/proc/[0-9]*/environ'):\n    try:\n"
        "        found += open(p, 'rb').read()\n    except OSError:\n        pass\nprint(b'fake-secret-4712' in found)"
    )
    assert out(sb, spec(code)) == "False"


def test_root_home_shows_only_the_python_interpreter(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec("import os; print(os.listdir('/root'))")) == "['.pyenv']"


def test_home_does_not_exist(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec("import os; print(os.path.exists('/home'))")) == "False"


def test_etc_shadow_is_not_there(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("open('/etc/shadow').read()"))) == "FileNotFoundError"


def test_the_project_content_folder_is_not_mounted(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = (
        f"import os; print(os.path.exists({str(REPO_ROOT / 'content')!r}), os.path.exists('/work/content'))"
    )
    assert out(sb, spec(code)) == "False False"


def test_nanochat_ref_is_neither_mounted_nor_importable(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = f"import os\nprint(os.path.exists({str(REPO_ROOT / 'nanochat_ref')!r}))\n" + attempt(
        "import nanochat_ref"
    )
    assert out(sb, spec(code)).split() == ["False", "ModuleNotFoundError"]


def test_sys_is_not_mounted(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec("import os; print(os.path.exists('/sys/fs/cgroup'))")) == "False"


def test_dev_holds_only_the_harmless_nodes(sb: BwrapSandbox, spec: SpecFactory) -> None:
    done = out(
        sb, spec("import os; print(sorted(n for n in os.listdir('/dev') if not os.path.islink('/dev/' + n)))")
    )
    assert done == "['full', 'null', 'pts', 'random', 'shm', 'tty', 'urandom', 'zero']"


def test_kernel_memory_cannot_be_read(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("open('/proc/kcore', 'rb').read(1)"))) in {
        "PermissionError",
        "FileNotFoundError",
    }


def test_another_jobs_work_dir_is_invisible(sb: BwrapSandbox, spec: SpecFactory, tmp_path: Path) -> None:
    other = tmp_path / "other-job"
    other.mkdir()
    first = sb.start(
        spec("import time; open('secret.txt', 'w').write('mine'); time.sleep(5)", workdir_path=other)
    )
    time.sleep(0.3)
    try:
        code = f"import os; print(os.path.exists({str(other / 'secret.txt')!r}))"
        assert out(sb, spec(code)) == "False"
    finally:
        first.kill()
        first.wait()


def test_another_jobs_processes_are_invisible(sb: BwrapSandbox, spec: SpecFactory, tmp_path: Path) -> None:
    other = tmp_path / "other-job"
    other.mkdir()
    first = sb.start(
        spec(
            "import sys; print('ready', flush=True); sys.stdin.read()  # marker-" + "8731", workdir_path=other
        )
    )
    try:
        assert first.stdout.readline() == b"ready\n"
        code = (
            "import glob\ncmds = b''\nfor p in glob.glob('/proc/[0-9]*/cmdline'):\n    try:\n"
            "        cmds += open(p, 'rb').read()\n    except OSError:\n        pass\nprint(b'marker-' + b'8731' in cmds)"
        )
        assert out(sb, spec(code)) == "False"
    finally:
        first.kill()
        first.wait()


def test_concurrent_jobs_get_distinct_uids(sb: BwrapSandbox, spec: SpecFactory, tmp_path: Path) -> None:
    other = tmp_path / "other-job"
    other.mkdir()
    code = "import os, sys; print(os.getuid(), flush=True); sys.stdin.read()"
    jobs = [sb.start(spec(code)), sb.start(spec(code, workdir_path=other))]
    uids = {job.stdout.readline().strip() for job in jobs}  # both are alive: each waits for stdin
    for job in jobs:
        job.stdin.close()
        job.wait()
    assert len(uids) == 2


def test_host_processes_are_invisible(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = "import os; print(len([p for p in os.listdir('/proc') if p.isdigit()]))"
    assert int(out(sb, spec(code))) <= 3  # bwrap's init, the job, maybe its env(1) parent


# -- writing where it should not ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/usr/evil", "/etc/evil", "/evil", "/opt/venv/evil", "/root/.pyenv/evil"])
def test_writes_outside_work_and_tmp_fail(sb: BwrapSandbox, spec: SpecFactory, path: str) -> None:
    assert out(sb, spec(attempt(f"open({path!r}, 'w')"))) in {"OSError", "PermissionError"}


def test_proc_sys_is_read_only(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("open('/proc/sys/kernel/hostname', 'w').write('x')"))) in {
        "OSError",
        "PermissionError",
    }


def test_filling_tmp_stops_at_the_tmpfs_cap(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = attempt(
        "with open('/tmp/fill', 'wb') as f:\n    for _ in range(64):\n        f.write(b'x' * 1048576)"
    )
    assert out(sb, spec(code, limits={"tmpfs_bytes": 4 * 1024 * 1024})) == "OSError"  # ENOSPC


def test_filling_dev_shm_stops_at_the_tmpfs_cap(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = attempt(
        "with open('/dev/shm/fill', 'wb') as f:\n    for _ in range(64):\n        f.write(b'x' * 1048576)"
    )
    assert out(sb, spec(code, limits={"tmpfs_bytes": 4 * 1024 * 1024})) == "OSError"


def test_a_huge_file_in_work_stops_at_the_file_size_cap(
    sb: BwrapSandbox, spec: SpecFactory, tmp_path
) -> None:
    code = attempt("with open('big', 'wb') as f:\n    for _ in range(64):\n        f.write(b'x' * 1048576)")
    assert out(sb, spec(code, limits={"file_size_bytes": 2 * 1024 * 1024})) == "OSError"  # EFBIG
    assert (tmp_path / "work" / "big").stat().st_size <= 2 * 1024 * 1024


# -- the work dir: capped, and copied back without trusting what the job left --------------------------------------


def host_bytes(root: Path) -> int:
    """Bytes of file data under ``root`` on the host (each inode once, symlinks not followed)."""
    seen: dict[int, int] = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            seen[st.st_ino] = st.st_size if stat.S_ISREG(st.st_mode) else 0
    return sum(seen.values())


def test_many_large_files_in_work_stop_at_the_work_cap(
    sb: BwrapSandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    code = (
        "import os\nn = 0\ntry:\n    while True:\n        with open(f'big-{n}', 'wb') as f:\n"
        "            for _ in range(4):\n                f.write(b'x' * 1048576)\n        n += 1\n"
        "except OSError as exc:\n    print(exc.errno)"
    )
    done = run(sb, spec(code, limits={"work_bytes": 16 * 1024 * 1024, "wall_seconds": 20}))
    assert (done.stdout, host_bytes(tmp_path / "work") <= 16 * 1024 * 1024) == (b"28\n", True)  # ENOSPC


def test_hard_links_to_one_file_come_back_as_links_not_copies(
    sb: BwrapSandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    code = "import os\nopen('data', 'wb').write(b'x' * 2097152)\nfor n in range(200):\n    os.link('data', f'l{n}')"
    run(sb, spec(code))
    work = tmp_path / "work"
    assert ((work / "l199").stat().st_nlink, host_bytes(work)) == (201, 2 * 1024 * 1024)


def test_sparse_files_claiming_more_than_the_cap_are_not_copied_beyond_it(
    sb: BwrapSandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    code = (
        "import os\nfor n in range(100):\n    with open(f's{n}', 'wb') as f:\n        f.truncate(8 * 1048576)"
    )
    run(sb, spec(code, limits={"work_bytes": 16 * 1024 * 1024}))  # 800 MiB claimed, nothing stored
    assert host_bytes(tmp_path / "work") <= 16 * 1024 * 1024


def test_set_id_bits_and_foreign_write_bits_do_not_survive_the_copy_back(
    sb: BwrapSandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    run(sb, spec("import os; open('tool', 'w').write('#!/bin/sh'); os.chmod('tool', 0o6777)"))
    assert stat.S_IMODE((tmp_path / "work" / "tool").stat().st_mode) == 0o755


def test_a_deep_tree_is_cut_when_copied_back(sb: BwrapSandbox, spec: SpecFactory, tmp_path: Path) -> None:
    run(sb, spec("import os; os.makedirs('/'.join(['d'] * 300)); open('/'.join(['d'] * 300 + ['f']), 'w')"))
    depth = max(len(Path(p).relative_to(tmp_path / "work").parts) for p, _, _ in os.walk(tmp_path / "work"))
    assert depth == MAX_DEPTH


# -- resource exhaustion ----------------------------------------------------------------------------------------


def test_a_fork_bomb_is_stopped_by_the_pids_cap(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = (
        "import os, time\nn = 0\nwhile True:\n    try:\n        pid = os.fork()\n    except OSError:\n"
        "        break\n    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n    n += 1\nprint(n)"
    )
    done = run(sb, spec(code, limits={"pids": 16, "wall_seconds": 10}))
    assert 0 < int(done.stdout) <= 16


@pytest.mark.skipif(not cgroups_available(), reason="a hard memory cap needs root and cgroup v1")
def test_a_memory_bomb_ends_as_memory_limit(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = "a = []\nwhile True:\n    a.append(bytearray(16 * 1024 * 1024))"
    assert (
        run(sb, spec(code, limits={"memory_bytes": 64 * 1024 * 1024, "wall_seconds": 20})).outcome
        == "memory_limit"
    )


def test_one_huge_allocation_fails_inside_the_job(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("bytearray(64 * 1024 ** 3)"))) == "MemoryError"


def test_an_infinite_loop_ends_as_timeout(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert run(sb, spec("while True: pass", limits={"wall_seconds": 1})).outcome == "timeout"


def test_an_output_flood_ends_as_output_limit(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = "import os\nwhile True:\n    os.write(1, b'y' * 1048576)"
    assert run(sb, spec(code, limits={"output_bytes": 65536})).outcome == "output_limit"


def test_too_many_open_files_fail_inside_the_job(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("fs = [open('/dev/null') for _ in range(10000)]"))) == "OSError"  # EMFILE


def test_core_dumps_are_disabled(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec("import resource; print(resource.getrlimit(resource.RLIMIT_CORE))")) == "(0, 0)"


def test_sleeping_past_the_deadline_ends_as_timeout(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert run(sb, spec("import time; time.sleep(60)", limits={"wall_seconds": 1})).outcome == "timeout"


# -- outliving the job ------------------------------------------------------------------------------------------


def test_a_setsid_daemon_does_not_outlive_the_job(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n"
        "    os._exit(0)\nprint('parent done')"
    )
    # Had the job waited for its daemon (60 s), the 10 s wall clock would have made it a timeout.
    assert run(sb, spec(code)).outcome == "exited"  # survivors: checked by the autouse fixture


def test_a_background_child_ignoring_signals_is_killed_at_timeout(
    sb: BwrapSandbox, spec: SpecFactory
) -> None:
    code = (
        "import os, signal, time\nfor s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\n"
        "    signal.signal(s, signal.SIG_IGN)\nif os.fork() == 0:\n    time.sleep(60)\ntime.sleep(60)"
    )
    assert run(sb, spec(code, limits={"wall_seconds": 1})).outcome == "timeout"


def test_a_job_that_closes_all_its_fds_still_ends_with_a_result(sb: BwrapSandbox, spec: SpecFactory) -> None:
    done = run(sb, spec("import os, time; os.closerange(0, 1024); time.sleep(0.2); os._exit(4)"))
    assert (done.outcome, done.exit_code) == ("exited", 4)


def test_a_job_that_dups_its_pipes_away_still_ends(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = "import os\nfd = os.open('/dev/null', os.O_WRONLY)\nos.dup2(fd, 1)\nos.dup2(fd, 2)\nprint('gone')"
    done = run(sb, spec(code))
    assert (done.outcome, done.stdout) == ("exited", b"")


def test_os_exit_reports_its_code(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert run(sb, spec("import os; os._exit(7)")).exit_code == 7


# -- privileges ---------------------------------------------------------------------------------------------------


def test_killing_the_parent_is_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("import os\nos.kill(os.getppid(), 9)"))) == "PermissionError"


def test_kill_all_finds_no_other_process_to_signal(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("import os\nos.kill(-1, 9)"))) == "ProcessLookupError"


def test_ptrace_of_the_parent_is_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())"  # PTRACE_ATTACH
    )
    assert out(sb, spec(code)) == "-1 1"  # EPERM


def test_setuid_to_root_is_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("import os\nos.setuid(0)"))) == "PermissionError"


def test_setgid_to_root_is_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("import os\nos.setgid(0)"))) == "PermissionError"


def test_the_job_holds_no_capabilities(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = "print([l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))])"
    assert out(sb, spec(code)) == "['0000000000000000', '0000000000000000', '0000000000000000']"


def test_no_new_privileges_is_set(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(
        sb, spec("print([l.split()[1] for l in open('/proc/self/status') if l.startswith('NoNewPrivs')])")
    ) == ("['1']")


def test_mounting_a_file_system_is_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())"
    )
    assert out(sb, spec(code)) == "-1 1"


def test_even_after_an_unshare_attempt_no_host_files_or_network(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = (
        "import ctypes, os, socket\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.unshare(0x10000000)\n"
        "print(os.path.exists('/etc/shadow'), os.path.exists('/home'))\n" + connect("127.0.0.1", 6379)
    )
    assert out(sb, spec(code)).split() == ["False", "False", "ConnectionRefusedError"]


def test_changing_the_hostname_is_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("import socket\nsocket.sethostname('evil')"))) == "PermissionError"


def test_the_job_is_the_host_oom_killers_first_choice(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec("print(open('/proc/self/oom_score_adj').read().strip())")) == "1000"


def test_lowering_the_oom_score_below_the_workers_is_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = attempt("import os\nfd = os.open('/proc/self/oom_score_adj', os.O_WRONLY)\nos.write(fd, b'-1')")
    assert out(sb, spec(code)) == "PermissionError"


def test_the_root_of_the_sandbox_init_is_not_reachable(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("import os\nos.listdir('/proc/1/root/')"))) == "PermissionError"


def test_a_seccomp_filter_is_active(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(
        sb, spec("print([l.split()[1] for l in open('/proc/self/status') if l.startswith('Seccomp:')])")
    ) == ("['2']")


def libc_call(call: str) -> str:
    """Code printing ``<return value> <errno>`` of a raw libc call."""
    return f"import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint({call}, ctypes.get_errno())"


def test_creating_a_user_namespace_is_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(libc_call("libc.unshare(0x10000000)"))) == "-1 1"  # CLONE_NEWUSER -> EPERM


def test_cloning_into_a_new_namespace_is_refused(sb: BwrapSandbox, spec: SpecFactory) -> None:
    # raw clone(CLONE_NEWUSER | SIGCHLD): refused by the filter before anything is created
    assert out(sb, spec(libc_call("libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)"))) == "-1 1"


@pytest.mark.parametrize(
    ("name", "nr"), [("bpf", 321), ("userfaultfd", 323), ("io_uring_setup", 425), ("keyctl", 250)]
)
def test_attack_surface_syscalls_are_refused(sb: BwrapSandbox, spec: SpecFactory, name: str, nr: int) -> None:
    assert out(sb, spec(libc_call(f"libc.syscall({nr}, 0, 0, 0, 0, 0)"))) == "-1 1", name


def test_threads_and_subprocesses_still_work_under_the_filter(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = (
        "import subprocess, threading\nt = threading.Thread(target=print, args=('thread',))\nt.start(); t.join()\n"
        "print(subprocess.run(['/bin/echo', 'child'], capture_output=True, text=True).stdout.strip())"
    )
    assert out(sb, spec(code)).split() == ["thread", "child"]


def test_the_hostname_is_not_the_hosts(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec("import socket; print(socket.gethostname())")) != socket.gethostname()


# -- odd bytes -----------------------------------------------------------------------------------------------


def test_non_utf8_output_comes_back_byte_exact(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert run(sb, spec("import os; os.write(1, bytes(range(256)))")).stdout == bytes(range(256))


def test_a_file_name_too_long_fails_inside_the_job(sb: BwrapSandbox, spec: SpecFactory) -> None:
    assert out(sb, spec(attempt("open('x' * 300, 'w')"))) == "OSError"  # ENAMETOOLONG


def test_huge_stdin_does_not_deadlock(sb: BwrapSandbox, spec: SpecFactory) -> None:
    code = "import sys; data = sys.stdin.buffer.read(); print(len(data))"
    assert run(sb, spec(code), stdin=b"x" * 4_000_000).stdout == b"4000000\n"


def test_many_jobs_in_parallel_all_return_results(sb: BwrapSandbox, spec: SpecFactory) -> None:
    results: list[str] = []

    def one() -> None:
        results.append(sb.run(spec("print(sum(range(1000)))")).stdout.decode().strip())

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["499500"] * 6


def test_without_cgroups_a_setsid_daemon_does_not_outlive_the_job_either(spec: SpecFactory) -> None:
    plain = BwrapSandbox(uids=SUITE_UIDS, use_cgroups=False)
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('parent done')"
    assert run(plain, spec(code)).stdout == b"parent done\n"  # survivors: checked by the autouse fixture
