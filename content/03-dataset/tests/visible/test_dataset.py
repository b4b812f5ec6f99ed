"""Visible tests for module 3 (dataset). Learner code is reached only through the ``learner`` fixture."""

import os

import pyarrow.parquet as pq
import pytest


@pytest.fixture
def ds(learner):
    return learner.module("nanochat.dataset")


def _names(paths):
    return [os.path.basename(p) for p in paths]


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


# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_list_parquet_files_skips_tmp_and_other_files(learner, ds, learner_tmp):
    path_cls = learner.module("pathlib").Path
    for name in ["shard_00002.parquet", "shard_00000.parquet", "shard_00001.parquet.tmp", "notes.txt"]:
        path_cls(learner_tmp, name).touch()
    got = ds.list_parquet_files(learner_tmp)
    assert _names(got) == ["shard_00000.parquet", "shard_00002.parquet"]


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_list_parquet_files_returns_full_sorted_paths_under_base_data(ds, learner_base):
    got = ds.list_parquet_files()
    assert _names(got) == ["shard_00000.parquet", "shard_00001.parquet", "shard_00002.parquet"]
    assert all(p.startswith(learner_base) and os.path.isabs(p) for p in got)


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_train_is_every_shard_but_the_last_and_val_is_the_last(ds, learner_base):
    assert _names(ds.split_parquet_files("train")) == ["shard_00000.parquet", "shard_00001.parquet"]
    assert _names(ds.split_parquet_files("val")) == ["shard_00002.parquet"]


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_parquets_iter_batched_yields_one_row_group_of_text_at_a_time(
    learner, ds, learner_base, judge_data_dir
):
    got = learner.module("builtins").list(ds.parquets_iter_batched("train"))
    assert [list(g) for g in got] == _ref_groups(judge_data_dir, "train")


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_two_ranks_read_disjoint_row_groups_covering_the_split(learner, ds, learner_base, judge_data_dir):
    to_list = learner.module("builtins").list
    rank0 = [list(g) for g in to_list(ds.parquets_iter_batched("train", 0, 2))]
    rank1 = [list(g) for g in to_list(ds.parquets_iter_batched("train", 1, 2))]
    assert rank0 == _ref_groups(judge_data_dir, "train", 0, 2), (
        "rank 0 of 2 must read row groups 0, 2, 4, ..."
    )
    assert rank1 == _ref_groups(judge_data_dir, "train", 1, 2), (
        "rank 1 of 2 must read row groups 1, 3, 5, ..."
    )
    assert not any(g in rank1 for g in rank0), "ranks must read disjoint row groups (no overlap)"


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_download_single_file_fetches_a_shard_into_place(learner, ds, learner_base, learner_tmp, serve):
    from conftest import file_bytes, listdir

    url = serve(learner.module("os").path.join(learner_base, "base_data"))
    assert ds.download_single_file(1, url, learner_tmp) is True
    assert listdir(learner, learner_tmp) == ["shard_00001.parquet"]
    src = learner.module("os").path.join(learner_base, "base_data", "shard_00001.parquet")
    assert file_bytes(learner, learner_tmp + "/shard_00001.parquet") == file_bytes(learner, src)


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_download_single_file_skips_a_shard_already_on_disk(learner, ds, learner_tmp):
    from conftest import file_bytes

    learner.module("pathlib").Path(learner_tmp, "shard_00000.parquet").write_bytes(b"already here")
    assert ds.download_single_file(0, "http://127.0.0.1:9", learner_tmp) is True  # port 9: nobody listens
    assert file_bytes(learner, learner_tmp + "/shard_00000.parquet") == b"already here"


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_download_single_file_gives_up_after_max_attempts_leaving_nothing(learner, ds, learner_tmp, serve):
    from conftest import listdir

    empty = learner.module("tempfile").mkdtemp()
    url = serve(empty)  # every request is a 404
    assert ds.download_single_file(0, url, learner_tmp, 3, 0.0) is False
    assert listdir(learner, learner_tmp) == []
