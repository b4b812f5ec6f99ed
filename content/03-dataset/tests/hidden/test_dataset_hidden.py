"""Hidden tests for module 3: more rank layouts, val, the retry path, and the parallel CLI."""

import os

import pyarrow.parquet as pq
import pytest


@pytest.fixture
def ds(learner):
    return learner.module("nanochat.dataset")


def _ref_groups(data_dir, split, start=0, step=1):
    paths = sorted(os.path.join(data_dir, f) for f in os.listdir(data_dir) if f.endswith(".parquet"))
    paths = paths[:-1] if split == "train" else paths[-1:]
    out = []
    for path in paths:
        pf = pq.ParquetFile(path)
        out += [
            pf.read_row_group(i).column("text").to_pylist() for i in range(start, pf.num_row_groups, step)
        ]
    return out


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_an_empty_folder_lists_no_files(ds, learner_tmp):
    assert list(ds.list_parquet_files(learner_tmp)) == []


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
@pytest.mark.parametrize("world_size", [3, 4])
def test_every_rank_reads_its_own_stride(learner, ds, learner_base, judge_data_dir, world_size):
    to_list = learner.module("builtins").list
    for rank in range(world_size):
        got = [list(g) for g in to_list(ds.parquets_iter_batched("train", rank, world_size))]
        assert got == _ref_groups(judge_data_dir, "train", rank, world_size)


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_the_val_split_reads_only_the_last_shard(learner, ds, learner_base, judge_data_dir):
    got = [list(g) for g in learner.module("builtins").list(ds.parquets_iter_batched("val"))]
    assert got == _ref_groups(judge_data_dir, "val")


FLAKY_SERVER = """
import functools, http.server, threading

STATE = {"gets": 0}


def serve(directory, failures):
    \"\"\"An HTTP file server that answers 503 to its first `failures` GETs, then serves `directory`.\"\"\"
    state = STATE

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            state["gets"] += 1
            if state["gets"] <= failures:
                self.send_error(503, "warming up")
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=directory))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address
    return f"http://{host}:{port}", server
"""


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_shard_that_fails_at_first_is_fetched_on_retry(learner, ds, learner_base, learner_tmp):
    """Deterministic: the server refuses the first request, so only a download that retries can succeed."""
    from conftest import file_bytes, listdir

    os_mod = learner.module("os")
    helper_dir = learner.module("tempfile").mkdtemp()
    learner.module("pathlib").Path(os_mod.path.join(helper_dir, "flaky_server.py")).write_text(FLAKY_SERVER)
    learner.module("sys").path.insert(0, helper_dir)
    served = learner.module("tempfile").mkdtemp()
    src = os_mod.path.join(learner_base, "base_data", "shard_00000.parquet")
    learner.module("shutil").copy(src, os_mod.path.join(served, "shard_00000.parquet"))
    flaky = learner.module("flaky_server")
    url, server = flaky.serve(served, 1)
    try:
        assert ds.download_single_file(0, url, learner_tmp, 3, 0.1) is True
        assert learner.value(flaky.STATE)["gets"] >= 2, (
            "the download never retried after the failed first attempt"
        )
        assert listdir(learner, learner_tmp) == ["shard_00000.parquet"]
        assert file_bytes(learner, learner_tmp + "/shard_00000.parquet") == file_bytes(learner, src)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_the_cli_downloads_every_shard_in_parallel(learner, ds, learner_base, serve):
    from conftest import listdir

    os_mod = learner.module("os")
    url = serve(os_mod.path.join(learner_base, "base_data"))
    fresh = learner.module("tempfile").mkdtemp()
    os_mod.environ.update({"NANOCHAT_BASE_DIR": fresh})
    try:
        assert ds.main(["-n", "3", "-w", "2", "--base-url", url, "--max-shard", "2"]) == 0
        assert listdir(learner, os_mod.path.join(fresh, "base_data")) == [
            "shard_00000.parquet",
            "shard_00001.parquet",
            "shard_00002.parquet",
        ]
    finally:
        os_mod.environ.update({"NANOCHAT_BASE_DIR": learner_base})
