"""sandbox.files: reading job outputs without following symlinks or blocking on special files."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from sandbox import files
from sandbox.files import read_output, read_outputs


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_bytes(b"alpha")
    (tmp_path / "sub" / "b.bin").write_bytes(b"\x00\x01")
    return tmp_path


def test_it_reads_every_regular_file_with_relative_paths(work: Path) -> None:
    assert read_outputs(work).files == {"a.txt": b"alpha", "sub/b.bin": b"\x00\x01"}


def test_it_skips_a_symlinked_directory_without_descending(work: Path, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret").write_text("host")
    os.symlink(outside, work / "link")
    found = read_outputs(work)
    assert ("link/secret" not in found.files, found.skipped["link"]) == (True, "symlink")


def test_it_skips_files_over_the_per_file_cap(work: Path) -> None:
    (work / "big").write_bytes(b"x" * 100)
    assert read_outputs(work, max_file_bytes=50).skipped == {"big": "too large"}


def test_it_stops_reading_at_the_total_cap(work: Path) -> None:
    found = read_outputs(work, max_total_bytes=5)
    assert (found.files, found.skipped) == ({"a.txt": b"alpha"}, {"sub/b.bin": "too large"})


def test_it_stops_at_the_file_count_cap(work: Path) -> None:
    assert read_outputs(work, max_files=1).skipped == {"sub/b.bin": "too many files"}


def test_a_file_that_turns_unreadable_after_listing_is_skipped(work: Path, monkeypatch) -> None:
    def vanish(name: str, dir_fd: int) -> int:
        raise OSError(errno.ELOOP, "swapped for a symlink")

    monkeypatch.setattr(files, "_open_regular", vanish)
    assert read_outputs(work).skipped == {"a.txt": "unreadable: OSError", "sub/b.bin": "unreadable: OSError"}


def test_read_output_reads_one_nested_file(work: Path) -> None:
    assert read_output(work, "sub/b.bin") == b"\x00\x01"


def test_read_output_refuses_a_symlinked_file(work: Path) -> None:
    os.symlink("/etc/hostname", work / "result.json")
    with pytest.raises(OSError) as info:
        read_output(work, "result.json")
    assert info.value.errno == errno.ELOOP


def test_read_output_refuses_a_symlinked_parent_dir(work: Path) -> None:
    os.symlink(work / "sub", work / "alias")
    with pytest.raises(OSError):
        read_output(work, "alias/b.bin")


def test_read_output_refuses_a_fifo_without_blocking(work: Path) -> None:
    os.mkfifo(work / "pipe")
    with pytest.raises(IsADirectoryError):
        read_output(work, "pipe")


@pytest.mark.parametrize("bad", ["/etc/passwd", "../a.txt", "sub/../../x", ""])
def test_read_output_refuses_paths_leaving_the_work_dir(work: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="relative path inside the work dir"):
        read_output(work, bad)


def test_read_output_refuses_a_file_over_the_cap(work: Path) -> None:
    with pytest.raises(ValueError, match="larger than 3 bytes"):
        read_output(work, "a.txt", max_bytes=3)
