"""Fixtures for module 3: tiny shards in the learner's sandbox (and the same ones in the judge), a local server.

Both sides build the shards with the reference ``make_shards`` from Python's documentation prose (always
present); it is byte-for-byte deterministic, so the judge can compute the expected documents on its own copy.
The learner's sandbox has no network, so the download tests serve files from an HTTP server started INSIDE the
learner's process on 127.0.0.1 (stdlib ``http.server`` only).
"""

import pytest

from grading.testkit import TINY_SHARDS, learner_base_data


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
def learner_tmp(learner):
    """A fresh empty folder in the learner's process."""
    return learner.module("tempfile").mkdtemp(prefix="nanochat-tmp-")


@pytest.fixture
def serve(learner):
    """``serve(directory) -> base_url``: an HTTP file server on 127.0.0.1 inside the learner's process."""
    servers = []

    def _serve(directory: str) -> str:
        hs = learner.module("http.server")
        handler = learner.module("functools").partial(hs.SimpleHTTPRequestHandler, directory=directory)
        server = hs.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        learner.module("threading").Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        host, port = learner.value(server.server_address)
        return f"http://{host}:{port}"

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


def listdir(learner, path):
    return sorted(learner.module("os").listdir(path))


def file_bytes(learner, path):
    return learner.module("pathlib").Path(path).read_bytes()
