"""Visible tests for module 3 (dataset). Learner code is reached only through the ``learner`` fixture.

Every test calls nanochat's public API at ``48abd7d`` (``list_parquet_files(data_dir=None)``,
``parquets_iter_batched(split, start=0, step=1)``, ``download_single_file(index)``, ``python -m nanochat.dataset
-n N -w W``), except the one marked ``lab_addition``: ``split_parquet_files`` is a helper the lab split out.
"""

import os

import pyarrow.parquet as pq
import pytest

from grading.testkit import TINY_SHARDS, assert_number, assert_numbers, finite_numbers

MiB = 1024 * 1024


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


def _groups(learner, ds, split, start=0, step=1):
    got = learner.module("builtins").list(ds.parquets_iter_batched(split, start, step))
    assert isinstance(got, list), f"parquets_iter_batched must yield lists of str, got {type(got).__name__}"
    return [list(g) if isinstance(g, list | tuple) else g for g in got]


def _why_groups(got, expected, what, cause, step):
    if got == expected:
        return ""
    lines = [f"{what}: expected {len(expected)} row groups, got {len(got)}."]
    if got and not isinstance(got[0], list):
        lines.append(f"The first item is a {type(got[0]).__name__}, not a list of documents (one row group).")
    elif got and expected and got[0] != expected[0]:
        lines.append(
            f"The first group differs: expected {str(expected[0])[:60]}..., got {str(got[0])[:60]}..."
        )
    lines.append(f"Likely cause: {cause} ({step}).")
    return " ".join(lines)


# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_list_parquet_files_skips_tmp_and_other_files(learner, ds, learner_tmp):
    path_cls = learner.module("pathlib").Path
    names = ["shard_00005.parquet", "shard_00000.parquet", "shard_00002.parquet.tmp", "notes.txt"]
    names += ["shard_00003.parquet", "shard_00001.parquet"]
    for name in names:
        path_cls(learner_tmp, name).touch()
    got = ds.list_parquet_files(learner_tmp)
    expected = [
        os.path.join(learner_tmp, n)
        for n in ["shard_00000.parquet", "shard_00001.parquet", "shard_00003.parquet", "shard_00005.parquet"]
    ]
    assert got == expected, (
        f"list_parquet_files({learner_tmp!r}): expected the full paths {_names(expected)} sorted by name, got "
        f"{got!r}. Likely cause: a name filter that keeps '.tmp' partial downloads or other files, no sort "
        "(os.listdir has no order), bare names instead of os.path.join(data_dir, name), or ignoring the "
        "data_dir argument (step 1)."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_list_parquet_files_returns_full_sorted_paths_under_base_data(ds, learner_base):
    got = ds.list_parquet_files()
    expected = [
        os.path.join(learner_base, "base_data", f"shard_{i:05d}.parquet")
        for i in range(TINY_SHARDS["num_shards"])
    ]
    assert got == expected, (
        f"list_parquet_files() with no argument: expected the shards of <NANOCHAT_BASE_DIR>/base_data, {expected}, "
        f"got {got!r}. Likely cause: a different default folder than <base_dir>/base_data, or bare names (step 1)."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
@pytest.mark.lab_addition("split-helper")
def test_train_is_every_shard_but_the_last_and_val_is_the_last(ds, learner_base):
    train, val = _names(ds.split_parquet_files("train")), _names(ds.split_parquet_files("val"))
    assert (train, val) == (["shard_00000.parquet", "shard_00001.parquet"], ["shard_00002.parquet"]), (
        "split_parquet_files: expected train = every shard but the last (shard_00000, shard_00001) and val = the "
        f"last one (shard_00002), got train={train}, val={val}. Likely cause: an off-by-one slice "
        "(paths[:-1] and paths[-1:]) or the two splits swapped (step 1)."
    )


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_parquets_iter_batched_yields_one_row_group_of_text_at_a_time(learner, ds, judge_data_dir):
    got = _groups(learner, ds, "train")
    expected = _ref_groups(judge_data_dir, "train")
    assert got == expected, _why_groups(
        got,
        expected,
        "parquets_iter_batched('train')",
        "yielding single documents instead of one row group's list, reading only some row groups or files, or "
        "including the val shard in train",
        "step 2",
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_the_val_split_is_the_last_shard_and_train_never_sees_it(learner, ds, judge_data_dir):
    val = _groups(learner, ds, "val")
    expected = _ref_groups(judge_data_dir, "val")
    assert val == expected, _why_groups(
        val, expected, "parquets_iter_batched('val')", "val must be the LAST shard on disk only", "step 2"
    )
    train = _groups(learner, ds, "train")
    ref_train = {d for g in _ref_groups(judge_data_dir, "train") for d in g}
    train_docs = {d for g in train for d in g if isinstance(g, list)}
    expected_shared = sum(
        1 for g in expected for d in g if d in ref_train
    )  # a few texts repeat in the corpus
    shared = sum(1 for g in expected for d in g if d in train_docs)
    assert shared == expected_shared and len(train) == len(_ref_groups(judge_data_dir, "train")), (
        f"the train split yields {len(train)} row groups sharing {shared} documents with val: expected "
        f"{len(_ref_groups(judge_data_dir, 'train'))} row groups sharing {expected_shared}. Likely cause: train must "
        "be every shard BUT the last (paths[:-1]), val the last one (paths[-1:]) (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_two_ranks_read_disjoint_row_groups_covering_the_split(learner, ds, judge_data_dir):
    for rank in range(2):
        got = _groups(learner, ds, "train", rank, 2)
        expected = _ref_groups(judge_data_dir, "train", rank, 2)
        assert got == expected, _why_groups(
            got,
            expected,
            f"parquets_iter_batched('train', start={rank}, step=2)",
            f"rank {rank} of 2 must read row groups {rank}, {rank + 2}, {rank + 4}, ... of EVERY file "
            "(range(start, num_row_groups, step)); striding over files, ignoring start or ignoring step breaks it",
            "step 2",
        )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_shuffled_row_groups_give_every_rank_a_fair_share(learner, ds, judge_data_dir, metrics):
    """The measurement: the corpus is shuffled once when the shards are made, so a rank may read its row groups in
    file order and still see a representative sample. Charted: characters per row group in read order, per rank."""
    world = 2
    per_rank = [_groups(learner, ds, "train", r, world) for r in range(world)]
    all_docs = [d for g in _ref_groups(judge_data_dir, "train") for d in g]
    seen = [d for groups in per_rank for g in groups for d in g]
    assert sorted(seen) == sorted(all_docs), (
        f"{world} ranks together read {len(seen)} documents, expected each of the {len(all_docs)} train documents "
        "exactly once. Likely cause: overlapping or missing row groups in the rank striding (step 2)."
    )
    for r, groups in enumerate(per_rank):
        chars = finite_numbers(
            [sum(len(d) for d in g) for g in groups], what=f"rank {r} characters per row group"
        )
        metrics.series(f"shuffle/rank{r}_chars_per_row_group", chars)
        metrics.record(f"shuffle/rank{r}_documents", sum(len(g) for g in groups))
        mean = sum(chars) / len(chars)
        metrics.record(f"shuffle/rank{r}_mean_chars_per_row_group", mean)
    counts = [sum(len(g) for g in groups) for groups in per_rank]
    assert_numbers(
        counts,
        [len(all_docs) // world] * world,
        rel=0,
        abs=0,
        what="documents per rank",
        msg="with 8 train row groups and 2 ranks, each rank reads 4 row groups of 16 documents (step 2)",
    )


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_download_single_file_fetches_a_shard_into_place(
    learner, ds, learner_base, learner_tmp, serve, lab, patched
):
    from conftest import file_bytes, listdir

    server = serve(learner.module("os").path.join(learner_base, "base_data"))
    clock = lab.RecordingClock()
    patched(BASE_URL=server.url, DATA_DIR=learner_tmp, time=clock)
    ok = ds.download_single_file(1)
    assert ok is True, f"download_single_file(1) from a working server: expected True, got {ok!r} (step 3)."
    left = listdir(learner, learner_tmp)
    assert left == ["shard_00001.parquet"], (
        f"after download_single_file(1) the data dir holds {left}, expected only shard_00001.parquet. Likely cause: "
        "a wrong file name (shard_{index:05d}.parquet), a wrong folder (DATA_DIR), or a .tmp never renamed (step 3)."
    )
    src = learner.module("os").path.join(learner_base, "base_data", "shard_00001.parquet")
    assert file_bytes(learner, learner_tmp + "/shard_00001.parquet") == file_bytes(learner, src), (
        "the downloaded shard differs from the served one. Likely cause: chunks dropped or written twice, or a "
        "text-mode file (open(temp_path, 'wb')) (step 3)."
    )
    assert learner.value(server.gets) == ["/shard_00001.parquet"], (
        f"expected one GET of <BASE_URL>/shard_00001.parquet, got {learner.value(server.gets)} (step 3)."
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_download_single_file_skips_a_shard_already_on_disk(learner, ds, learner_tmp, serve, lab, patched):
    from conftest import file_bytes

    learner.module("pathlib").Path(learner_tmp, "shard_00000.parquet").write_bytes(b"already here")
    server = serve(learner_tmp)
    patched(BASE_URL=server.url, DATA_DIR=learner_tmp, time=lab.RecordingClock())
    ok = ds.download_single_file(0)
    gets = learner.value(server.gets)
    assert ok is True and gets == [], (
        f"download_single_file(0) with shard_00000.parquet already in DATA_DIR: expected True and no request, got "
        f"{ok!r} after {len(gets)} request(s). Likely cause: the os.path.exists(filepath) check is missing or "
        "looks at another path (step 3)."
    )
    assert file_bytes(learner, learner_tmp + "/shard_00000.parquet") == b"already here"


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_transfer_cut_half_way_is_discarded_and_retried(
    learner, ds, learner_base, learner_tmp, serve, lab, patched
):
    """The server promises the whole file (Content-Length), sends half and hangs up; the second try works."""
    from conftest import file_bytes, listdir

    server = serve(learner.module("os").path.join(learner_base, "base_data"), ["cut"])
    clock = lab.RecordingClock()
    patched(BASE_URL=server.url, DATA_DIR=learner_tmp, time=clock)
    try:
        ok = ds.download_single_file(2)
    except Exception as exc:  # the learner's exception type is what we report
        pytest.fail(
            f"download_single_file(2) raised {exc} when the connection was cut half-way: expected it to catch the "
            "error and retry. Likely cause: catching only HTTP errors; a cut stream raises "
            "requests.exceptions.ChunkedEncodingError, a requests.RequestException (step 3)."
        )
    gets = learner.value(server.gets)
    assert ok is True and len(gets) == 2, (
        f"first transfer cut half-way, second complete: expected True after 2 requests, got {ok!r} after "
        f"{len(gets)}. Likely cause: no retry loop, or giving up after the first failure (step 3)."
    )
    src = learner.module("os").path.join(learner_base, "base_data", "shard_00002.parquet")
    assert listdir(learner, learner_tmp) == ["shard_00002.parquet"], (
        f"expected only shard_00002.parquet, found {listdir(learner, learner_tmp)} (step 3)."
    )
    assert file_bytes(learner, learner_tmp + "/shard_00002.parquet") == file_bytes(learner, src), (
        "the shard on disk is not the served file: the half of the cut transfer was kept (append mode, or a "
        "file opened once outside the retry loop) (step 3)."
    )
    sleeps = learner.value(clock.sleeps)
    assert_numbers(
        sleeps,
        [2],
        rel=0,
        abs=0,
        what="the waits before the retry (time.sleep calls)",
        msg="after failed attempt 1 nanochat waits 2**1 = 2 seconds (step 3)",
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_failing_server_gets_five_attempts_with_exponential_backoff(
    learner, ds, learner_tmp, serve, lab, patched
):
    from conftest import listdir

    server = serve(learner_tmp, ["cut", "503", "cut", "503", "cut", "ok"])  # the 6th would work: too late
    learner.module("pathlib").Path(learner_tmp, "served").mkdir()
    served = learner_tmp + "/served"
    learner.module("pathlib").Path(served, "shard_00007.parquet").write_bytes(b"x" * 4096)
    server.directory = served
    data = learner.module("tempfile").mkdtemp()
    clock = lab.RecordingClock()
    patched(BASE_URL=server.url, DATA_DIR=data, time=clock)
    ok = ds.download_single_file(7)
    gets = learner.value(server.gets)
    assert ok is False and len(gets) == 5, (
        f"a server failing 5 times: expected False after exactly 5 attempts, got {ok!r} after {len(gets)}. "
        "Likely cause: an off-by-one retry loop (range(1, max_attempts + 1) tries 5 times) (step 3)."
    )
    assert_numbers(
        learner.value(clock.sleeps),
        [2, 4, 8, 16],
        rel=0,
        abs=0,
        what="the waits between the 5 attempts (time.sleep calls)",
        msg="nanochat waits 2**attempt seconds after attempts 1-4 and not after the last; likely "
        "cause of a difference: linear backoff, a wrong exponent, or a sleep after the final attempt (step 3)",
    )
    left = listdir(learner, data)
    assert left == [], (
        f"after giving up, the data dir holds {left}: expected nothing. Likely cause: the partial "
        "shard_00007.parquet.tmp is not deleted after a failed attempt (step 3)."
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_a_crash_half_way_never_leaves_a_partial_file_under_the_final_name(
    learner, learner_tmp, serve, lab, workspace
):
    """A real crash: the downloader runs as a child process, the server sends 1 MiB of a 1.5 MiB shard and holds
    the connection open; once that first MiB is on disk the child is killed. What survives is the evidence."""
    from conftest import listdir

    path_cls = learner.module("pathlib").Path
    served = learner.module("tempfile").mkdtemp()
    path_cls(served, "shard_00004.parquet").write_bytes(bytes(range(256)) * (3 * MiB // 512))
    server = serve(served, ["hang"], MiB + 4096)
    base = learner.module("tempfile").mkdtemp()
    data = base + "/base_data"
    proc = lab.child(workspace, base, server.url, "-c", [4])
    seen = None
    try:
        for _ in range(10):  # up to 20 s, in calls of 2 s
            seen = learner.value(lab.wait_for_bytes(data, MiB))
            if seen is not None or learner.value(proc.poll()) is not None:
                break
    finally:
        proc.kill()
        proc.wait()
    assert seen is not None, (
        f"the child never wrote the first 1 MiB chunk of shard 4 within 20 s. Output: {str(proc.stdout.read())[-400:]}"
        " Likely cause: the download does not stream in 1 MiB chunks (requests.get(..., stream=True), "
        "iter_content(chunk_size=1024 * 1024)) (step 3)."
    )
    left = listdir(learner, data)
    assert "shard_00004.parquet" not in left and "shard_00004.parquet" not in [
        os.path.basename(p)
        for p in learner.value(learner.module("nanochat.dataset").list_parquet_files(data))
    ], (
        f"a download killed half-way left {left}: expected no shard_00004.parquet (a later run would skip it as "
        "complete and train on a truncated shard). Likely cause: writing straight to the final name; write to "
        "shard_00004.parquet.tmp and os.rename it when complete (step 3)."
    )


# --- step 4 ---------------------------------------------------------------------------------------------------


def run_cli(learner, lab, workspace, served, base, args):
    from conftest import run_cli as run

    return run(learner, lab, workspace, served, base, args)


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_python_m_nanochat_dataset_downloads_n_shards_into_the_given_path(
    learner, learner_base, lab, workspace, metrics
):
    """``NANOCHAT_BASE_DIR=<path> python -m nanochat.dataset -n 3 -w 2`` against a server holding 3 shards + 1."""
    from conftest import file_bytes, listdir

    os_mod = learner.module("os")
    served = learner.module("tempfile").mkdtemp()
    src_dir = os_mod.path.join(learner_base, "base_data")
    shutil = learner.module("shutil")
    for i in range(3):
        shutil.copy(f"{src_dir}/shard_{i:05d}.parquet", f"{served}/shard_{i:05d}.parquet")
    shutil.copy(f"{src_dir}/shard_00000.parquet", f"{served}/shard_00003.parquet")
    base = learner.module("tempfile").mkdtemp(prefix="given-path-")
    rc, out, gets = run_cli(learner, lab, workspace, served, base, ["-n", 3, "-w", 2])
    names = [f"shard_{i:05d}.parquet" for i in range(3)]
    got = listdir(learner, f"{base}/base_data") if os_mod.path.isdir(f"{base}/base_data") else []
    assert rc == 0 and got == names, (
        f"NANOCHAT_BASE_DIR={base} python -m nanochat.dataset -n 3 -w 2: expected exit 0 and {names} in "
        f"<path>/base_data, got exit {rc} and {got}. Output (end): {out[-600:]} Likely cause: an off-by-one in "
        "the shard ids (range(num) with num = min(num_files, MAX_SHARD + 1)), or the files landing elsewhere (step 4)."
    )
    assert sorted(gets) == [f"/{n}" for n in names], (
        f"expected one GET per shard, got {sorted(gets)} (step 4)."
    )
    for n in names:
        assert file_bytes(learner, f"{base}/base_data/{n}") == file_bytes(learner, f"{src_dir}/{n}"), n
    metrics.record("cli/shards_downloaded", len(got))
    metrics.record("cli/requests", len(gets))


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_the_cli_with_one_worker_downloads_every_shard(learner, learner_base, lab, workspace):
    from conftest import listdir

    os_mod = learner.module("os")
    src_dir = os_mod.path.join(learner_base, "base_data")
    base = learner.module("tempfile").mkdtemp(prefix="given-path-")
    rc, out, gets = run_cli(learner, lab, workspace, src_dir, base, ["-n", 2, "-w", 1])
    got = listdir(learner, f"{base}/base_data") if os_mod.path.isdir(f"{base}/base_data") else []
    assert rc == 0 and got == ["shard_00000.parquet", "shard_00001.parquet"], (
        f"python -m nanochat.dataset -n 2 -w 1: expected exit 0 and shards 0 and 1, got exit {rc} and {got}. "
        f"Output (end): {out[-600:]} (step 4)."
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_the_downloaded_shards_pass_the_parquet_metadata_check(
    learner, learner_base, lab, workspace, metrics
):
    """Open every downloaded shard's footer: one ``text`` column, full row groups, the documents of the source."""
    os_mod = learner.module("os")
    src_dir = os_mod.path.join(learner_base, "base_data")
    served = learner.module("tempfile").mkdtemp()
    for i in range(4):  # one shard more than asked for
        learner.module("shutil").copy(
            f"{src_dir}/shard_{i % 3:05d}.parquet", f"{served}/shard_{i:05d}.parquet"
        )
    base = learner.module("tempfile").mkdtemp(prefix="given-path-")
    rc, out, _ = run_cli(learner, lab, workspace, served, base, ["-n", 3, "-w", 3])
    assert rc == 0, f"python -m nanochat.dataset -n 3 -w 3 failed with exit {rc}: {out[-600:]} (step 4)."
    pq_mod = learner.module("pyarrow.parquet")
    rows, sizes = [], []
    for i in range(3):
        path = f"{base}/base_data/shard_{i:05d}.parquet"
        meta = pq_mod.ParquetFile(path).metadata
        names = learner.value(meta.schema.names)
        assert names == ["text"], f"{path}: expected one column 'text', got {names} (step 4)."
        n_groups = learner.value(meta.num_row_groups)
        assert_number(
            n_groups, TINY_SHARDS["row_groups_per_shard"], rel=0, abs=0, what=f"row groups in shard {i}"
        )
        group_rows = [learner.value(meta.row_group(g).num_rows) for g in range(n_groups)]
        assert_numbers(
            group_rows,
            [TINY_SHARDS["rows_per_group"]] * n_groups,
            rel=0,
            abs=0,
            what=f"documents per row group in shard {i}",
        )
        rows += group_rows
        sizes.append(learner.value(os_mod.path.getsize(path)))
    metrics.series("metadata/documents_per_row_group", rows)
    metrics.series("metadata/bytes_per_shard", sizes)
    metrics.record("metadata/shards", 3)
    metrics.record("metadata/documents", sum(rows))
