"""Tests for nanochat_ref.dataset and scripts.make_shards: listing, splits, striding, downloads with retries."""

import hashlib
import http.server
import os
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nanochat_ref import dataset
from nanochat_ref.scripts import make_shards as make_shards_script


class ShardServer:
    """Serve a folder over HTTP on 127.0.0.1; the first ``fail_first`` GETs of each path answer 503."""

    def __init__(self, directory: Path, fail_first: int = 0, truncate_first: int = 0):
        self.directory = directory
        self.fail_first = fail_first
        self.truncate_first = truncate_first
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                seen = server.requests.count(self.path)
                path = server.directory / self.path.lstrip("/")
                if seen <= server.fail_first:
                    self.send_error(503, "try again later")
                    return
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if seen <= server.fail_first + server.truncate_first:
                    self.wfile.write(body[: len(body) // 2])  # promise everything, send half, hang up
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _md5(path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# -----------------------------------------------------------------------------
# Reading


def test_list_parquet_files_is_sorted_and_skips_tmp_and_other_files(tmp_path):
    for name in ["shard_00002.parquet", "shard_00000.parquet", "shard_00001.parquet.tmp", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert dataset.list_parquet_files(str(tmp_path)) == [
        str(tmp_path / "shard_00000.parquet"),
        str(tmp_path / "shard_00002.parquet"),
    ]


def test_list_parquet_files_defaults_to_base_data_under_the_base_dir(tiny_base_dir, tiny_config):
    files = dataset.list_parquet_files()
    assert [os.path.basename(f) for f in files] == [
        dataset.index_to_filename(i) for i in range(tiny_config["num_shards"])
    ]
    assert all(f.startswith(str(tiny_base_dir / "base_data")) for f in files)


def test_val_is_the_last_shard_and_train_is_all_the_others(tiny_base_dir):
    files = dataset.list_parquet_files()
    assert dataset.split_parquet_files("train") == files[:-1]
    assert dataset.split_parquet_files("val") == files[-1:]


def test_parquets_iter_batched_yields_each_row_group_once(tiny_base_dir, tiny_config):
    groups = list(dataset.parquets_iter_batched("train"))
    assert len(groups) == (tiny_config["num_shards"] - 1) * tiny_config["row_groups_per_shard"]
    assert all(len(g) == tiny_config["rows_per_group"] for g in groups)
    all_docs = [d for g in groups for d in g]
    expected = []
    for f in dataset.split_parquet_files("train"):
        expected += pq.read_table(f).column("text").to_pylist()
    assert all_docs == expected


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_parquets_iter_batched_rank_strides_partition_the_row_groups(tiny_base_dir, world_size):
    everything = list(dataset.parquets_iter_batched("train"))
    per_rank = [
        list(dataset.parquets_iter_batched("train", start=r, step=world_size)) for r in range(world_size)
    ]
    seen = sorted(tuple(g) for rank_groups in per_rank for g in rank_groups)
    assert seen == sorted(tuple(g) for g in everything)


# -----------------------------------------------------------------------------
# Downloading


@pytest.fixture
def served_shards(tiny_artifacts):
    return tiny_artifacts / "base_data"


def test_download_single_file_fetches_a_shard_and_renames_it_into_place(served_shards, tmp_path):
    with ShardServer(served_shards) as server:
        ok = dataset.download_single_file(1, base_url=server.url, data_dir=str(tmp_path))
    assert ok is True
    name = dataset.index_to_filename(1)
    assert _md5(tmp_path / name) == _md5(served_shards / name)
    assert sorted(os.listdir(tmp_path)) == [name]


def test_download_single_file_skips_a_shard_that_already_exists(served_shards, tmp_path):
    (tmp_path / dataset.index_to_filename(0)).write_bytes(b"already here")
    with ShardServer(served_shards) as server:
        assert dataset.download_single_file(0, base_url=server.url, data_dir=str(tmp_path)) is True
    assert server.requests == []
    assert (tmp_path / dataset.index_to_filename(0)).read_bytes() == b"already here"


def test_download_single_file_retries_after_server_errors(served_shards, tmp_path):
    with ShardServer(served_shards, fail_first=2) as server:
        ok = dataset.download_single_file(0, base_url=server.url, data_dir=str(tmp_path), retry_wait_s=0.001)
    assert ok is True
    assert len(server.requests) == 3
    name = dataset.index_to_filename(0)
    assert _md5(tmp_path / name) == _md5(served_shards / name)


def test_download_single_file_discards_a_truncated_transfer_and_retries(served_shards, tmp_path):
    with ShardServer(served_shards, truncate_first=1) as server:
        ok = dataset.download_single_file(0, base_url=server.url, data_dir=str(tmp_path), retry_wait_s=0.001)
    assert ok is True
    assert len(server.requests) == 2
    name = dataset.index_to_filename(0)
    assert _md5(tmp_path / name) == _md5(served_shards / name)


def test_download_single_file_gives_up_after_max_attempts_leaving_no_file(served_shards, tmp_path):
    with ShardServer(served_shards, fail_first=10) as server:
        ok = dataset.download_single_file(
            0, base_url=server.url, data_dir=str(tmp_path), max_attempts=3, retry_wait_s=0.001
        )
    assert ok is False
    assert len(server.requests) == 3
    assert os.listdir(tmp_path) == []


def test_base_url_comes_from_the_environment_when_not_given(monkeypatch):
    monkeypatch.setenv("NANOCHAT_DATASET_URL", "http://127.0.0.1:9/mirror/")
    assert dataset.get_base_url() == "http://127.0.0.1:9/mirror"
    assert dataset.get_base_url("http://other") == "http://other"
    monkeypatch.delenv("NANOCHAT_DATASET_URL")
    assert dataset.get_base_url() == dataset.BASE_URL


def test_cli_downloads_shards_in_parallel_workers_into_the_base_dir(
    served_shards, nanochat_base_dir, tiny_config
):
    n = tiny_config["num_shards"]
    with ShardServer(served_shards) as server:
        rc = dataset.main(["-n", str(n), "-w", "2", "--base-url", server.url, "--max-shard", str(n - 1)])
    assert rc == 0
    got = dataset.list_parquet_files()
    assert [os.path.basename(p) for p in got] == [dataset.index_to_filename(i) for i in range(n)]
    for p in got:
        assert _md5(p) == _md5(served_shards / os.path.basename(p))


def test_cli_reports_failure_when_a_shard_is_missing_on_the_server(
    served_shards, nanochat_base_dir, tiny_config
):
    n = tiny_config["num_shards"]
    with ShardServer(served_shards) as server:
        args = [
            "-n",
            str(n + 1),
            "-w",
            "1",
            "--base-url",
            server.url,
            "--max-shard",
            str(n),
            "--retry-wait-s",
            "0",
        ]
        rc = dataset.main(args)
    assert rc == 1
    assert len(dataset.list_parquet_files()) == n


# -----------------------------------------------------------------------------
# Making shards


def test_make_shards_writes_full_row_groups_with_a_text_column(tmp_path, tiny_shards_kwargs):
    paths = make_shards_script.make_shards(str(tmp_path), **tiny_shards_kwargs)
    assert [os.path.basename(p) for p in paths] == [
        dataset.index_to_filename(i) for i in range(tiny_shards_kwargs["num_shards"])
    ]
    for p in paths:
        pf = pq.ParquetFile(p)
        assert pf.schema_arrow.names == ["text"]
        assert pf.num_row_groups == tiny_shards_kwargs["row_groups_per_shard"]
        for rg in range(pf.num_row_groups):
            texts = pf.read_row_group(rg).column("text").to_pylist()
            assert len(texts) == tiny_shards_kwargs["rows_per_group"]
            assert all(0 < len(t) <= tiny_shards_kwargs["max_doc_chars"] for t in texts)


def test_make_shards_is_byte_identical_when_regenerated(tmp_path, tiny_shards_kwargs):
    first = make_shards_script.make_shards(str(tmp_path / "a"), **tiny_shards_kwargs)
    second = make_shards_script.make_shards(str(tmp_path / "b"), **tiny_shards_kwargs)
    assert [_md5(p) for p in first] == [_md5(p) for p in second]


def test_make_shards_with_another_seed_shuffles_differently(tmp_path, tiny_shards_kwargs):
    first = make_shards_script.make_shards(str(tmp_path / "a"), **tiny_shards_kwargs)
    other = make_shards_script.make_shards(str(tmp_path / "b"), seed=7, **tiny_shards_kwargs)
    assert _md5(first[0]) != _md5(other[0])


def test_make_shards_mixes_english_and_chinese_text(tmp_path):
    if not os.path.isfile(os.path.join(make_shards_script.FORTUNE_DIR, "chinese")):
        pytest.skip("fortunes-zh is not installed (the Makefile installs it)")
    paths = make_shards_script.make_shards(
        str(tmp_path), num_shards=2, row_groups_per_shard=2, rows_per_group=64
    )
    texts = [t for p in paths for t in pq.read_table(p).column("text").to_pylist()]
    assert any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t)
    assert any(" the " in t for t in texts)


def test_make_shards_fails_clearly_when_the_sources_are_too_small(tmp_path):
    with pytest.raises(SystemExit, match="need"):
        make_shards_script.make_shards(str(tmp_path), num_shards=2, rows_per_group=10**6, sources=["pydoc"])


def test_split_paragraphs_respects_the_size_limit_and_keeps_the_text():
    text = "one two\n\nthree four five\n\n" + "x" * 25
    pieces = list(make_shards_script.split_paragraphs(text, 10))
    assert all(len(p) <= 10 for p in pieces)
    assert "".join(p.replace("\n\n", "") for p in pieces).replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )


def test_make_shards_cli_writes_into_the_base_dir_by_default(nanochat_base_dir):
    make_shards_script.main(
        ["--num_shards", "2", "--row_groups_per_shard", "1", "--rows_per_group", "8", "--sources", "pydoc"]
    )
    names = [os.path.basename(p) for p in dataset.list_parquet_files()]
    assert names == ["shard_00000.parquet", "shard_00001.parquet"]
