"""Hidden tests for module 3: the visible properties again on other inputs (other ranks, shards, failure plans,
worker counts), so hard-coding the visible cases does not pay. Every bug class here has a visible test too."""

import os

import pyarrow.parquet as pq
import pytest

from grading.testkit import assert_numbers


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


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_a_folder_with_only_partial_downloads_lists_the_complete_ones(learner, ds, learner_tmp):
    path_cls = learner.module("pathlib").Path
    for name in ["shard_00011.parquet.tmp", "shard_00010.parquet", "shard_00009.parquet", "README"]:
        path_cls(learner_tmp, name).touch()
    got = ds.list_parquet_files(learner_tmp)
    assert got == [os.path.join(learner_tmp, n) for n in ["shard_00009.parquet", "shard_00010.parquet"]]


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
@pytest.mark.parametrize("world_size", [3, 4])
def test_every_rank_reads_its_own_stride(learner, ds, judge_data_dir, world_size):
    to_list = learner.module("builtins").list
    for rank in range(world_size):
        got = [list(g) for g in to_list(ds.parquets_iter_batched("train", rank, world_size))]
        assert got == _ref_groups(judge_data_dir, "train", rank, world_size)


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_the_val_split_with_two_ranks_reads_only_the_last_shard(learner, ds, judge_data_dir):
    to_list = learner.module("builtins").list
    for rank in range(2):
        got = [list(g) for g in to_list(ds.parquets_iter_batched("val", rank, 2))]
        assert got == _ref_groups(judge_data_dir, "val", rank, 2)


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_two_server_errors_then_success(learner, ds, learner_base, learner_tmp, serve, lab, patched):
    from conftest import file_bytes, listdir

    server = serve(learner.module("os").path.join(learner_base, "base_data"), ["503", "cut"])
    clock = lab.RecordingClock()
    patched(BASE_URL=server.url, DATA_DIR=learner_tmp, time=clock)
    assert ds.download_single_file(0) is True
    assert len(learner.value(server.gets)) == 3
    assert_numbers(learner.value(clock.sleeps), [2, 4], rel=0, abs=0, what="waits")
    assert listdir(learner, learner_tmp) == ["shard_00000.parquet"]
    src = learner.module("os").path.join(learner_base, "base_data", "shard_00000.parquet")
    assert file_bytes(learner, learner_tmp + "/shard_00000.parquet") == file_bytes(learner, src)


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_missing_shard_is_given_up_after_five_tries(learner, ds, learner_tmp, serve, lab, patched):
    from conftest import listdir

    empty = learner.module("tempfile").mkdtemp()
    server = serve(empty)  # every request is a 404
    clock = lab.RecordingClock()
    data = learner.module("tempfile").mkdtemp()
    patched(BASE_URL=server.url, DATA_DIR=data, time=clock)
    assert ds.download_single_file(12) is False
    assert len(learner.value(server.gets)) == 5
    assert_numbers(learner.value(clock.sleeps), [2, 4, 8, 16], rel=0, abs=0, what="waits")
    assert listdir(learner, data) == []


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_the_cli_asks_for_one_shard_with_four_workers(learner, learner_base, lab, workspace):
    from conftest import listdir

    src_dir = learner.module("os").path.join(learner_base, "base_data")
    base = learner.module("tempfile").mkdtemp(prefix="given-path-")
    from conftest import run_cli

    rc, out, gets = run_cli(learner, lab, workspace, src_dir, base, ["-n", "1", "-w", "4"])
    assert rc == 0, out[-600:]
    assert gets == ["/shard_00000.parquet"]
    assert listdir(learner, base + "/base_data") == ["shard_00000.parquet"]
