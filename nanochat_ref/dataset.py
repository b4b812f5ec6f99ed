"""The pretraining dataset: parquet shards of plain text, downloaded on demand (nanochat ``dataset.py``, commit C).

Design choices:
- A shard is ``shard_{index:05d}.parquet`` with one ``text`` column, written in row groups of 1024 documents. The
  row group is the unit of reading and of sharding across ranks (see ``dataloader.py``).
- Split rule: "train" is every shard on disk except the last; "val" is the last one on disk (so with ``-n 240``
  the val shard is ``shard_00239``: a known quirk of nanochat C, fixed at H by pinning the val shard).
- Downloads stream in 1 MiB chunks into ``<name>.tmp`` and are renamed into place only when complete, so a crash or
  a partial transfer never leaves a truncated shard behind; existing shards are skipped; up to 5 attempts with
  exponential backoff; several shards download in parallel worker processes.
- ``BASE_URL`` defaults to nanochat's FineWeb-EDU repackaging on Hugging Face, but can be redirected with
  ``$NANOCHAT_DATASET_URL`` or the ``base_url`` argument: nanochat Lab serves its own offline shards (made by
  ``scripts.make_shards``) from a local HTTP server in tests, since nothing may download from the internet.
- The data directory is resolved at call time (``<base_dir>/base_data``), never at import time, so tests can point
  ``NANOCHAT_BASE_DIR`` at a tmp dir after importing. nanochat fixes it at import in the module constant
  ``DATA_DIR``; here ``DATA_DIR`` is ``None`` (resolve at call time) unless a caller sets it, and then it wins, so
  code that sets ``dataset.DATA_DIR`` works with both.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from functools import partial
from multiprocessing import Pool

import pyarrow.parquet as pq

from .common import get_base_dir

# The URL on the internet where the data is hosted and downloaded from on demand
BASE_URL = "https://huggingface.co/datasets/karpathy/fineweb-edu-100b-shuffle/resolve/main"
MAX_SHARD = 1822  # the last shard is shard_01822.parquet
index_to_filename = lambda index: f"shard_{index:05d}.parquet"  # noqa: E731 - nanochat's own spelling
DATA_DIR: str | None = (
    None  # nanochat: <base_dir>/base_data, fixed at import; here None = resolve at call time
)


def get_base_url(base_url: str | None = None) -> str:
    """The shard server: the argument, else ``$NANOCHAT_DATASET_URL``, else nanochat's ``BASE_URL``."""
    return (base_url or os.environ.get("NANOCHAT_DATASET_URL") or BASE_URL).rstrip("/")


def get_data_dir() -> str:
    """``DATA_DIR`` when a caller set it, else ``<base_dir>/base_data``; created if missing."""
    data_dir = DATA_DIR or os.path.join(get_base_dir(), "base_data")
    os.makedirs(data_dir, exist_ok=True)
    return data_dir


# -----------------------------------------------------------------------------
# Reading


def list_parquet_files(data_dir: str | None = None) -> list[str]:
    """Full paths of the ``.parquet`` files in ``data_dir`` (default ``<base_dir>/base_data``), sorted by name."""
    data_dir = get_data_dir() if data_dir is None else data_dir
    names = sorted(f for f in os.listdir(data_dir) if f.endswith(".parquet") and not f.endswith(".tmp"))
    return [os.path.join(data_dir, f) for f in names]


def split_parquet_files(split: str, data_dir: str | None = None) -> list[str]:
    """The shards of one split: "train" = all but the last file, "val" = the last file."""
    assert split in ("train", "val"), "split must be 'train' or 'val'"
    paths = list_parquet_files(data_dir)
    assert len(paths) >= 2, (
        f"need at least 2 shards (train + val) in {data_dir or get_data_dir()}, found {len(paths)}"
    )
    return paths[:-1] if split == "train" else paths[-1:]


def parquets_iter_batched(split: str, start: int = 0, step: int = 1) -> Iterator[list[str]]:
    """Yield the ``text`` column of one row group at a time, for row groups ``start, start+step, ...`` of each file.

    ``start=rank, step=world_size`` gives each rank disjoint row groups.
    """
    for filepath in split_parquet_files(split):
        pf = pq.ParquetFile(filepath)
        for rg_idx in range(start, pf.num_row_groups, step):
            rg = pf.read_row_group(rg_idx, columns=["text"])
            yield rg.column("text").to_pylist()


# -----------------------------------------------------------------------------
# Downloading


def download_single_file(
    index: int,
    base_url: str | None = None,
    data_dir: str | None = None,
    max_attempts: int = 5,
    retry_wait_s: float = 1.0,
) -> bool:
    """Download shard ``index`` into ``data_dir`` unless it is already there; True on success.

    Streams into ``<file>.tmp`` and renames when complete; on failure deletes partial files and retries up to
    ``max_attempts`` times, waiting ``retry_wait_s * 2**attempt`` seconds (2, 4, 8, 16 s by default).
    """
    import requests

    data_dir = get_data_dir() if data_dir is None else data_dir
    filename = index_to_filename(index)
    filepath = os.path.join(data_dir, filename)
    if os.path.exists(filepath):
        print(f"Skipping {filepath} (already exists)")
        return True

    url = f"{get_base_url(base_url)}/{filename}"
    print(f"Downloading {filename}...")
    temp_path = filepath + ".tmp"
    for attempt in range(1, max_attempts + 1):
        try:
            response = requests.get(url, stream=True, timeout=30)
            response.raise_for_status()
            with open(temp_path, "wb") as f:
                for chunk in response.iter_content(chunk_size=1024 * 1024):  # 1 MiB chunks
                    if chunk:
                        f.write(chunk)
            os.replace(temp_path, filepath)  # atomic: the final name only ever holds a complete file
            print(f"Successfully downloaded {filename}")
            return True
        except (requests.RequestException, OSError) as e:
            print(f"Attempt {attempt}/{max_attempts} failed for {filename}: {e}")
            if os.path.exists(temp_path):  # never keep a partial file
                os.remove(temp_path)
            if attempt < max_attempts:
                wait_time = retry_wait_s * 2**attempt
                print(f"Waiting {wait_time:g} seconds before retry...")
                time.sleep(wait_time)
            else:
                print(f"Failed to download {filename} after {max_attempts} attempts")
    return False


def download_shards(
    num_files: int = -1,
    num_workers: int = 4,
    base_url: str | None = None,
    data_dir: str | None = None,
    max_shard: int = MAX_SHARD,
    retry_wait_s: float = 1.0,
) -> int:
    """Download shards ``0..num_files-1`` (all ``max_shard+1`` when ``num_files == -1``) with a process pool.

    Returns the number of shards present afterwards.
    """
    num = max_shard + 1 if num_files == -1 else min(num_files, max_shard + 1)
    ids_to_download = list(range(num))
    data_dir = get_data_dir() if data_dir is None else data_dir
    print(f"Downloading {len(ids_to_download)} shards using {num_workers} workers...")
    print(f"Target directory: {data_dir}")
    fetch = partial(
        download_single_file, base_url=get_base_url(base_url), data_dir=data_dir, retry_wait_s=retry_wait_s
    )
    if num_workers <= 1:
        results = [fetch(i) for i in ids_to_download]
    else:
        with Pool(processes=num_workers) as pool:
            results = pool.map(fetch, ids_to_download)
    successful = sum(1 for ok in results if ok)
    print(f"Done! Downloaded: {successful}/{len(ids_to_download)} shards to {data_dir}")
    return successful


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Download pretraining shards (FineWeb-EDU, or a local mirror)"
    )
    parser.add_argument(
        "-n",
        "--num-files",
        type=int,
        default=-1,
        help="Number of shards to download (default: -1 = all shards)",
    )
    parser.add_argument(
        "-w", "--num-workers", type=int, default=4, help="Number of parallel download workers"
    )
    parser.add_argument(
        "--base-url",
        type=str,
        default=None,
        help="Shard server URL (default: $NANOCHAT_DATASET_URL or BASE_URL)",
    )
    parser.add_argument(
        "--max-shard",
        type=int,
        default=MAX_SHARD,
        help="Index of the last shard the server has (default: 1822)",
    )
    parser.add_argument(
        "--retry-wait-s",
        type=float,
        default=1.0,
        help="Backoff unit: attempt k waits retry_wait_s * 2**k seconds",
    )
    args = parser.parse_args(argv)
    ok = download_shards(
        args.num_files,
        args.num_workers,
        base_url=args.base_url,
        max_shard=args.max_shard,
        retry_wait_s=args.retry_wait_s,
    )
    wanted = args.max_shard + 1 if args.num_files == -1 else min(args.num_files, args.max_shard + 1)
    return 0 if ok == wanted else 1


if __name__ == "__main__":
    raise SystemExit(main())
