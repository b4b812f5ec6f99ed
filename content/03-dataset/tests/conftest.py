"""Fixtures for module 3: tiny shards in the learner's sandbox (and the same ones in the judge), a local server.

Both sides build the shards with the reference ``make_shards`` from Python's documentation prose (always
present); it is byte-for-byte deterministic, so the judge can compute the expected documents on its own copy.
The learner's sandbox has no network, so the download tests serve files from an HTTP server started INSIDE the
learner's process on 127.0.0.1 (stdlib ``http.server`` only), and point nanochat's module constants at it:
``dataset.BASE_URL`` (the server), ``dataset.DATA_DIR`` (where shards land) and ``dataset.time`` (a clock whose
``sleep`` records the backoff instead of waiting 2 + 4 + 8 + 16 s). These are nanochat's own names at ``48abd7d``;
the tests never pass the lab's extra arguments, so nanochat's ``download_single_file(index)`` meets the same tests.

The command-line tests run ``python -m nanochat.dataset`` as a real child process with ``NANOCHAT_BASE_DIR`` set
to the given path; a small shim in that child sends the requests for nanochat's Hugging Face URL to the local
server instead (``LAB_SHIM``), since nothing may reach the internet.
"""

import textwrap

import pytest

from grading.testkit import TINY_SHARDS, learner_base_data

HF_URL = "https://huggingface.co/datasets/karpathy/fineweb-edu-100b-shuffle/resolve/main"

# Written into the learner's process and imported there: the server, the recording clock, the child-process shim.
HELPER = textwrap.dedent(
    '''
    """Lab test helper (module 3), run inside the learner's process."""
    import http.server
    import os
    import subprocess
    import sys
    import threading
    import time as _real_time

    HF_URL = @HF_URL@


    class RecordingClock:
        """Stands in for the ``time`` module: ``sleep`` records its argument and returns at once."""

        def __init__(self):
            self.sleeps = []

        def sleep(self, seconds):
            self.sleeps.append(seconds)

        def __getattr__(self, name):
            return getattr(_real_time, name)


    class ShardServer:
        """Serve ``directory`` on 127.0.0.1. ``plan[i]`` says how to answer GET number i (then "ok"):
        "ok" the file, "503" an error, "cut" the full Content-Length but only half the bytes then hang up,
        "hang" the first ``hang_bytes`` bytes then wait (until ``stop``) with the connection open."""

        def __init__(self, directory, plan=(), hang_bytes=0):
            self.directory = directory
            self.plan = list(plan)
            self.hang_bytes = hang_bytes
            self.gets = []
            self.release = threading.Event()
            outer = self

            class Handler(http.server.BaseHTTPRequestHandler):
                def log_message(self, *args):
                    pass

                def do_GET(self):
                    n = len(outer.gets)
                    outer.gets.append(self.path)
                    mode = outer.plan[n] if n < len(outer.plan) else "ok"
                    path = os.path.join(outer.directory, os.path.basename(self.path))
                    if mode == "503":
                        self.send_error(503, "try again later")
                        return
                    if not os.path.isfile(path):
                        self.send_error(404)
                        return
                    with open(path, "rb") as f:
                        body = f.read()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if mode == "cut":
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                    elif mode == "hang":
                        self.wfile.write(body[: outer.hang_bytes])
                        self.wfile.flush()
                        outer.release.wait(30)
                        self.close_connection = True
                    else:
                        self.wfile.write(body)

            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self.httpd.daemon_threads = True
            host, port = self.httpd.server_address
            self.url = f"http://{host}:{port}"
            threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

        def stop(self):
            self.release.set()
            self.httpd.shutdown()
            self.httpd.server_close()


    SHIM = """
    import sys, runpy, time, requests.sessions
    _sleep = time.sleep
    time.sleep = lambda seconds: _sleep(min(seconds, 0.05))  # the child's backoff runs fast: 2 s become 0.05 s
    _request = requests.sessions.Session.request
    HF, MIRROR = sys.argv[1], sys.argv[2]
    def request(self, method, url, *args, **kwargs):
        if url.startswith(HF):  # no network in the sandbox: nanochat's shard host is served locally
            url = MIRROR + url[len(HF):]
        return _request(self, method, url, *args, **kwargs)
    requests.sessions.Session.request = request
    mode = sys.argv[3]
    if mode == "-m":  # python -m nanochat.dataset ARGS
        sys.argv = ["-m"] + sys.argv[4:]
        runpy.run_module("nanochat.dataset", run_name="__main__", alter_sys=True)
    else:  # python -c 'from nanochat.dataset import download_single_file; download_single_file(INDEX)'
        from nanochat.dataset import download_single_file
        print("RESULT", download_single_file(int(sys.argv[4])))
    """


    def child(workspace, base_dir, mirror, mode, args, **popen):
        """Start a Python child in ``workspace`` with NANOCHAT_BASE_DIR=base_dir and the shard host shimmed."""
        env = dict(os.environ, NANOCHAT_BASE_DIR=base_dir, PYTHONPATH=workspace, PYTHONUNBUFFERED="1")
        env.pop("NANOCHAT_DATASET_URL", None)
        argv = [sys.executable, "-c", SHIM, HF_URL, mirror, mode] + [str(a) for a in args]
        return subprocess.Popen(
            argv, cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
        )


    def wait_child(proc, seconds):
        """The child's exit status, or None if it is still running after ``seconds`` (one short call each)."""
        try:
            return proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None


    def wait_for_bytes(folder, at_least, timeout=2.0):
        """Wait until some file in ``folder`` holds ``at_least`` bytes; return the names then, or None."""
        deadline = _real_time.monotonic() + timeout
        while _real_time.monotonic() < deadline:
            names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
            if any(os.path.getsize(os.path.join(folder, n)) >= at_least for n in names):
                return names
            _real_time.sleep(0.02)
        return None
    '''
).replace("@HF_URL@", repr(HF_URL))


@pytest.fixture(scope="session")
def judge_data_dir(tmp_path_factory):
    from nanochat_ref.scripts.make_shards import make_shards

    data_dir = str(tmp_path_factory.mktemp("judge_data"))
    make_shards(data_dir, **TINY_SHARDS)
    return data_dir


@pytest.fixture
def learner_base(learner):
    """A base dir in the learner's process holding base_data/ with the tiny shards; set as NANOCHAT_BASE_DIR."""
    return learner_base_data(learner, tokenizer=False)


@pytest.fixture
def ds(learner, learner_base):
    """The learner's ``nanochat.dataset``, imported after NANOCHAT_BASE_DIR points at the tiny shards (nanochat
    fixes its ``DATA_DIR`` at import)."""
    return learner.module("nanochat.dataset")


@pytest.fixture
def learner_tmp(learner):
    """A fresh empty folder in the learner's process."""
    return learner.module("tempfile").mkdtemp(prefix="nanochat-tmp-")


@pytest.fixture
def lab(learner):
    """The helper module above, imported in the learner's process."""
    folder = learner.module("tempfile").mkdtemp(prefix="lab-helper-")
    learner.module("pathlib").Path(folder, "lab_dataset_helper.py").write_text(HELPER)
    sys_mod = learner.module("sys")
    sys_mod.path.insert(0, folder)
    return learner.module("importlib").import_module("lab_dataset_helper")


@pytest.fixture
def serve(lab):
    """``serve(directory, plan=(), hang_bytes=0) -> server`` (``server.url``, ``server.gets``), stopped after."""
    servers = []

    def _serve(directory, plan=(), hang_bytes=0):
        server = lab.ShardServer(directory, list(plan), hang_bytes)
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        server.stop()


@pytest.fixture
def patched(learner, ds):
    """``patched(name=value, ...)``: set module constants of the learner's dataset for one test, restored after."""
    saved = {}

    def _set(**values):
        for name, value in values.items():
            if name not in saved:  # data by value (an attribute proxy would read the patched value back)
                saved[name] = learner.module("time") if name == "time" else learner.value(getattr(ds, name))
            setattr(ds, name, value)

    yield _set
    for name, value in saved.items():
        setattr(ds, name, value)


@pytest.fixture
def workspace(learner, ds):
    """The folder holding the learner's ``nanochat`` package (a child process imports it from there)."""
    os_path = learner.module("os").path
    return os_path.dirname(os_path.dirname(learner.module("inspect").getfile(ds)))


def listdir(learner, path):
    return sorted(learner.module("os").listdir(path))


def file_bytes(learner, path):
    return learner.module("pathlib").Path(path).read_bytes()


def wait_child(learner, lab, proc, total_s=40.0):
    """Wait for a child process in short learner calls (each under the engine's call deadline); kill it after
    ``total_s``. Returns ``(exit status or None, its output)``."""
    import time

    deadline = time.monotonic() + total_s
    rc = None
    while rc is None and time.monotonic() < deadline:
        rc = learner.value(lab.wait_child(proc, 2.0))
    if rc is None:
        proc.kill()
        proc.wait()
    return rc, str(learner.value(proc.stdout.read()))


def run_cli(learner, lab, workspace, served, base, args):
    """``NANOCHAT_BASE_DIR=base python -m nanochat.dataset ARGS`` against a server of ``served``:
    ``(exit status, output, the paths the server was asked for)``."""
    server = lab.ShardServer(served)
    try:
        proc = lab.child(workspace, base, server.url, "-m", [str(a) for a in args])
        rc, out = wait_child(learner, lab, proc)
        gets = learner.value(server.gets)
    finally:
        server.stop()
    return rc, out, gets
