"""sandbox.docker without an engine: the container spec (exhaustively), the stream demuxer, result mapping."""

from __future__ import annotations

import http.server
import io
import os
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from docker.models.containers import _create_container_args

from sandbox import JobSpec, Mount, SandboxError, get_backend
from sandbox.bwrap import BwrapSandbox
from sandbox.docker import (
    SEED_PRELUDE,
    SEED_TARGET,
    DockerSandbox,
    classify,
    connect,
    container_spec,
    demux,
    measures_cgroups,
    parent_cgroup_name,
)
from sandbox.limits import MIB, resolve
from sandbox.runtime import Runtime

SpecFactory = Callable[..., JobSpec]


@pytest.fixture
def job(tmp_path: Path) -> JobSpec:
    data = tmp_path / "data"
    data.mkdir()
    return JobSpec(
        argv=["python", "-c", "print(1)"],
        mounts=[Mount(data, "/data"), Mount(tmp_path, "/scratch", writable=True)],
        workdir=tmp_path / "work",
        env={"PATH": "/usr/bin", "HOME": "/work"},
        limits=resolve(
            {
                "memory_bytes": 512 * MIB,
                "pids": 40,
                "tmpfs_bytes": 16 * MIB,
                "cpu_seconds": 7,
                "open_files": 99,
                "file_size_bytes": 5 * MIB,
                "work_bytes": 32 * MIB,
                "work_inodes": 500,
            },
            environ={},
        ),
    )


def test_the_container_has_no_network(job: JobSpec) -> None:
    assert container_spec(job)["network_mode"] == "none"


def test_the_root_file_system_is_read_only(job: JobSpec) -> None:
    assert container_spec(job)["read_only"] is True


def test_tmp_and_shm_are_size_capped_tmpfs_that_allow_exec(job: JobSpec) -> None:
    tmpfs = container_spec(job)["tmpfs"]  # docker's own default would be noexec
    assert {p: tmpfs[p] for p in ("/tmp", "/dev/shm")} == {
        p: f"rw,nosuid,nodev,exec,size={16 * MIB},mode=1777" for p in ("/tmp", "/dev/shm")
    }


def test_work_is_a_tmpfs_capped_in_bytes_and_inodes_and_owned_by_the_job_user(job: JobSpec) -> None:
    assert container_spec(job, uid=61007)["tmpfs"]["/work"] == (
        f"rw,nosuid,nodev,exec,size={32 * MIB},nr_inodes=500,uid=61007,gid=61007,mode=0700"
    )


def test_memory_and_memory_plus_swap_are_the_same_cap(job: JobSpec) -> None:
    spec = container_spec(job)
    assert spec["mem_limit"] == spec["memswap_limit"] == 512 * MIB


def test_the_pids_cap_is_the_limit(job: JobSpec) -> None:
    assert container_spec(job)["pids_limit"] == 40


def test_cpus_become_nano_cpus(job: JobSpec) -> None:
    assert container_spec(job, cpus=1.5)["nano_cpus"] == 1_500_000_000


def test_the_job_runs_as_the_given_non_root_user(job: JobSpec) -> None:
    assert container_spec(job, uid=61234)["user"] == "61234:61234"


def test_root_is_refused(job: JobSpec) -> None:
    with pytest.raises(ValueError, match="never run as root"):
        container_spec(job, uid=0)


def test_zero_cpus_are_refused(job: JobSpec) -> None:
    with pytest.raises(ValueError, match="cpus must be > 0"):
        container_spec(job, cpus=0)


def test_every_capability_is_dropped_and_no_new_privileges_is_set(job: JobSpec) -> None:
    spec = container_spec(job)
    assert (spec["cap_drop"], spec["security_opt"], spec["privileged"]) == (
        ["ALL"],
        ["no-new-privileges"],
        False,
    )


def test_rlimits_become_ulimits(job: JobSpec) -> None:
    ulimits = {u["name"]: (u["soft"], u["hard"]) for u in container_spec(job)["ulimits"]}
    assert ulimits == {"cpu": (7, 8), "fsize": (5 * MIB, 5 * MIB), "nofile": (99, 99), "core": (0, 0)}


def test_the_host_work_dir_is_bound_read_only_and_only_explicit_binds_are_writable(
    job: JobSpec, tmp_path: Path
) -> None:
    volumes = container_spec(job)["volumes"]
    assert volumes == {
        str(tmp_path / "work"): {"bind": SEED_TARGET, "mode": "ro"},
        str(tmp_path / "data"): {"bind": "/data", "mode": "ro"},
        str(tmp_path): {"bind": "/scratch", "mode": "rw"},
    }


@pytest.mark.parametrize("target", ["/work", SEED_TARGET])
def test_a_mount_over_the_work_dir_or_its_seed_is_refused(job: JobSpec, tmp_path: Path, target: str) -> None:
    job.mounts.append(Mount(tmp_path, target))
    with pytest.raises(ValueError, match="reserved"):
        container_spec(job)


def test_the_env_travels_as_arguments_of_env_i_not_as_the_container_s_env(job: JobSpec) -> None:
    # the engine adds HOSTNAME and the image's ENV to the container's env: env -i leaves the job only the spec's
    assert container_spec(job)["environment"] == {}


def test_the_command_copies_the_work_dir_in_then_runs_the_env_and_argv_as_arguments(job: JobSpec) -> None:
    spec = container_spec(job)
    assert (spec["command"], spec["entrypoint"], spec["working_dir"]) == (
        ["/bin/sh", "-c", SEED_PRELUDE, "sandbox-seed", "PATH=/usr/bin", "HOME=/work", *job.argv],
        [],
        "/work",
    )


@pytest.mark.parametrize(
    "change",
    [{"argv": ["A=1", "x"]}, {"argv": []}, {"env": {"A=B": "1"}}, {"env": {"A": "nul\0"}}],
)
def test_an_argv_or_env_that_env_i_would_misread_is_refused(job: JobSpec, change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        container_spec(replace(job, **change))  # type: ignore[arg-type]


def test_the_container_goes_under_the_given_parent_cgroup_or_the_engine_s_default(job: JobSpec) -> None:
    assert (
        container_spec(job, cgroup_parent="/p/q")["cgroup_parent"],
        "cgroup_parent" in container_spec(job),
    ) == (
        "/p/q",
        False,
    )


@pytest.mark.parametrize(("driver", "expected"), [("cgroupfs", True), ("systemd", False), (None, False)])
def test_parent_cgroups_are_read_only_with_the_cgroupfs_driver(driver: str | None, expected: bool) -> None:
    assert measures_cgroups({"CgroupDriver": driver}) is expected


def test_each_job_gets_its_own_parent_cgroup_named_after_this_worker() -> None:
    names = [parent_cgroup_name() for _ in range(3)]
    assert len(set(names)) == 3 and all(n.startswith(f"{os.getpid()}-") for n in names)


def test_the_docker_backend_does_not_return_the_work_dir() -> None:
    assert (DockerSandbox.returns_work, get_backend("bwrap").returns_work) == (False, True)


def test_an_init_reaps_children_and_logs_are_off(job: JobSpec) -> None:
    spec = container_spec(job)
    assert (spec["init"], spec["log_config"]["type"]) == (True, "none")


def test_stdin_is_open_without_a_tty(job: JobSpec) -> None:
    spec = container_spec(job)
    assert (spec["stdin_open"], spec["tty"]) == (True, False)


def test_cpu_jobs_request_no_devices(job: JobSpec) -> None:
    assert "device_requests" not in container_spec(job)


def test_gpu_jobs_request_every_nvidia_gpu(job: JobSpec) -> None:
    job.gpu = True
    assert container_spec(job)["device_requests"] == [
        {"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}
    ]


def test_a_name_is_passed_through(job: JobSpec) -> None:
    assert container_spec(job, name="job-7")["name"] == "job-7"


def test_the_docker_sdk_accepts_the_spec(job: JobSpec) -> None:
    kwargs = container_spec(job, cgroup_parent="/p/q")  # exactly what containers.create(**kwargs) gets
    kwargs["version"] = "1.44"
    built = _create_container_args(kwargs)
    host = built["host_config"]
    assert (
        host["NetworkMode"],
        host["ReadonlyRootfs"],
        host["PidsLimit"],
        host["CapDrop"],
        host["Tmpfs"]["/work"],
        host["CgroupParent"],
    ) == ("none", True, 40, ["ALL"], container_spec(job)["tmpfs"]["/work"], "/p/q")


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(payload)) + payload


def test_demux_splits_stdout_and_stderr_frames() -> None:
    raw = io.BytesIO(frame(1, b"out") + frame(2, b"err") + frame(1, b"") + frame(1, b"more"))
    assert list(demux(raw.read)) == [
        ("stdout", b"out"),
        ("stderr", b"err"),
        ("stdout", b""),
        ("stdout", b"more"),
    ]


def test_demux_ignores_unknown_stream_ids() -> None:
    assert list(demux(io.BytesIO(frame(0, b"echo") + frame(1, b"x")).read)) == [("stdout", b"x")]


def test_demux_stops_at_a_truncated_payload() -> None:
    assert list(demux(io.BytesIO(frame(1, b"ok") + frame(2, b"cut")[:-1]).read)) == [("stdout", b"ok")]


def test_demux_stops_at_a_truncated_header() -> None:
    assert list(demux(io.BytesIO(frame(1, b"ok") + b"\x01\x00").read)) == [("stdout", b"ok")]


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        ({"ExitCode": 0}, None, ("exited", 0, None)),
        ({"ExitCode": 139}, None, ("exited", None, 11)),
        ({"ExitCode": 137}, "timeout", ("timeout", None, 9)),
        ({"ExitCode": 137}, "output_limit", ("output_limit", None, 9)),
        ({"ExitCode": 137}, "killed", ("killed", None, 9)),
        ({"ExitCode": 137, "OOMKilled": True}, None, ("memory_limit", None, 9)),
        ({"ExitCode": 152}, None, ("timeout", None, 24)),
        ({"ExitCode": None, "Error": "boom"}, None, ("sandbox_error", None, None)),
    ],
)
def test_container_states_map_to_outcomes(job: JobSpec, state, reason, expected) -> None:
    result = classify(state, reason, job, wall=1.0)
    assert (result.outcome, result.exit_code, result.signal) == expected


def test_get_backend_returns_the_docker_backend_by_name() -> None:
    assert isinstance(get_backend("docker"), DockerSandbox)


def test_the_docker_backend_reads_its_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_DOCKER_IMAGE", "img:1")
    monkeypatch.setenv("SANDBOX_DOCKER_UID", "63000")
    monkeypatch.setenv("SANDBOX_DOCKER_CPUS", "2.5")
    backend = DockerSandbox()
    assert (backend.image, backend.uid, backend.cpus) == ("img:1", 63000, 2.5)


def test_the_default_docker_uid_is_outside_the_default_bwrap_range(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDBOX_DOCKER_UID", "SANDBOX_UID_BASE", "SANDBOX_UID_COUNT"):
        monkeypatch.delenv(name, raising=False)
    assert DockerSandbox().uid == 60000


@pytest.mark.parametrize(("uid", "base"), [(61000, None), (61500, None), (70010, "70000")])
def test_a_docker_uid_inside_the_bwrap_range_is_refused(
    monkeypatch: pytest.MonkeyPatch, uid: int, base: str | None
) -> None:
    # a bwrap lease kills every process of its uid first: it would kill a container's job under that uid
    if base is None:
        monkeypatch.delenv("SANDBOX_UID_BASE", raising=False)
    else:
        monkeypatch.setenv("SANDBOX_UID_BASE", base)
    with pytest.raises(ValueError, match="inside the bwrap uid range"):
        DockerSandbox(uid=uid)


def test_starting_without_an_engine_is_a_sandbox_error(job: JobSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxError, match="no Docker engine answers"):
        DockerSandbox().start(job)


class _FakeEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _FakeEngineHandler(http.server.BaseHTTPRequestHandler):
    """Answers the two calls the SDK makes to connect: GET /version and GET /_ping."""

    def do_GET(self) -> None:  # http.server's naming
        body = b'{"ApiVersion": "1.44", "Version": "fake"}' if self.path.endswith("/version") else b"OK"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "fake-engine"

    def log_message(self, *args: object) -> None:
        pass


def test_connecting_to_an_engine_that_answers_ping_gives_a_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = tmp_path / "docker.sock"
    server = _FakeEngine(str(sock), _FakeEngineHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    try:
        assert connect().version()["Version"] == "fake"
    finally:
        server.shutdown()
        server.server_close()


# The seed prelude is plain sh + cp: run it in the bwrap sandbox, with the host dir bound where docker binds it.


def test_the_seed_prelude_copies_the_host_files_into_work_then_runs_the_argv_as_given(
    bwrap: BwrapSandbox, spec: SpecFactory, py: Runtime, tmp_path: Path
) -> None:
    seed = tmp_path / "seed"
    (seed / "pkg").mkdir(parents=True)
    (seed / "pkg" / "given.txt").write_text("from the host")
    os.symlink("pkg/given.txt", seed / "alias")
    code = "import os, sys; print(open('alias').read(), os.readlink('alias'), sys.argv[1:])"
    argv = ["/bin/sh", "-c", SEED_PRELUDE, "sandbox-seed", py.executable, "-c", code, "$HOME; `id`"]
    done = bwrap.run(spec(argv=argv, mounts=[Mount(seed, SEED_TARGET)]))
    assert done.stdout == b"from the host pkg/given.txt ['$HOME; `id`']\n", done.stderr


def test_the_seed_prelude_gives_the_job_exactly_the_env_in_its_arguments(
    bwrap: BwrapSandbox, spec: SpecFactory, py: Runtime, tmp_path: Path
) -> None:
    (tmp_path / "seed").mkdir()
    code = "import os; print(sorted(os.environ.items()))"
    argv = [
        "/bin/sh",
        "-c",
        SEED_PRELUDE,
        "sandbox-seed",
        "LANG=C.UTF-8",  # else Python's C-locale coercion adds LC_CTYPE
        "X=a=b",
        py.executable,
        "-c",
        code,
    ]
    done = bwrap.run(spec(argv=argv, mounts=[Mount(tmp_path / "seed", SEED_TARGET)], env={"LEAK": "1"}))
    assert done.stdout == b"[('LANG', 'C.UTF-8'), ('X', 'a=b')]\n", done.stderr


def test_the_seed_prelude_exits_125_when_the_files_do_not_fit(
    bwrap: BwrapSandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "big").write_bytes(b"x" * (2 * MIB))
    argv = ["/bin/sh", "-c", SEED_PRELUDE, "sandbox-seed", "/bin/true"]
    done = bwrap.run(spec(argv=argv, mounts=[Mount(seed, SEED_TARGET)], limits={"work_bytes": MIB}))
    assert (done.outcome, done.exit_code) == ("exited", 125)
