"""Tests for nanochat_ref.common: base dir, dist info, device fallbacks, locked download, compute_init."""

import http.server
import os
import threading
from functools import partial

import pytest

from nanochat_ref import common


def test_get_base_dir_honours_env_var_and_creates_it(tmp_path, monkeypatch):
    target = tmp_path / "nested" / "base"
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(target))
    assert common.get_base_dir() == str(target)
    assert target.is_dir()


def test_get_base_dir_defaults_to_cache_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("NANOCHAT_BASE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert common.get_base_dir() == str(tmp_path / ".cache" / "nanochat")


def test_get_dist_info_without_torchrun_env_is_single_process(monkeypatch):
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert common.is_ddp_requested() is False
    assert common.get_dist_info() == (False, 0, 0, 1)


def test_get_dist_info_reads_torchrun_env(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert common.is_ddp_requested() is True
    assert common.get_dist_info() == (True, 3, 1, 4)


def test_print0_prints_only_on_rank_zero(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    common.print0("hidden")
    monkeypatch.setenv("RANK", "0")
    common.print0("shown")
    assert capsys.readouterr().out == "shown\n"


def test_autocast_ctx_is_a_noop_on_cpu():
    import torch

    with common.autocast_ctx("cpu"):
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == torch.float32


def test_autodetect_device_type_falls_back_to_cpu_without_accelerators(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert common.autodetect_device_type() == "cpu"


def test_compute_init_on_cpu_seeds_and_returns_cpu_device(monkeypatch):
    import torch

    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    ddp, rank, local_rank, world_size, device = common.compute_init("cpu")
    first = torch.rand(3)
    common.compute_init("cpu")
    assert (ddp, rank, local_rank, world_size, device.type) == (False, 0, 0, 1, "cpu")
    assert torch.equal(first, torch.rand(3))  # seeded with 42 both times
    common.compute_cleanup()


def test_dummy_wandb_accepts_log_and_finish():
    run = common.DummyWandb()
    assert run.log({"loss": 1.0}, step=3) is None
    assert run.finish() is None


def test_download_file_with_lock_downloads_once_and_postprocesses(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "words.txt").write_text("alpha\nbeta\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(tmp_path / "base"))
    calls = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/words.txt"
        path = common.download_file_with_lock(url, "words.txt", postprocess_fn=calls.append)
        (served / "words.txt").unlink()  # a second call must not hit the network
        again = common.download_file_with_lock(url, "words.txt", postprocess_fn=calls.append)
    finally:
        server.shutdown()
        server.server_close()
    assert path == again == os.path.join(str(tmp_path / "base"), "words.txt")
    assert open(path).read() == "alpha\nbeta\n"
    assert calls == [path]
    assert not os.path.exists(path + ".tmp")


@pytest.mark.gpu
def test_autocast_ctx_uses_bf16_on_cuda():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    a = torch.ones(4, 4, device="cuda")
    with common.autocast_ctx("cuda"):
        assert (a @ a).dtype == torch.bfloat16


def _gloo_worker(rank, world_size, port, out_dir):
    import torch
    import torch.distributed as dist

    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    ddp, r, _local, w, device = common.compute_init("cpu")
    t = torch.tensor([float(r + 1)])
    dist.all_reduce(t)
    with open(os.path.join(out_dir, f"rank{r}.txt"), "w") as f:
        f.write(f"{ddp} {r} {w} {device.type} {dist.get_backend()} {t.item()}")
    common.compute_cleanup()


def test_compute_init_under_torchrun_env_on_cpu_joins_a_gloo_group(tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # fork: the children inherit the imported torch (no CUDA here), so no 2 s re-import per rank
    mp.start_processes(_gloo_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True, start_method="fork")
    lines = sorted((tmp_path / f"rank{r}.txt").read_text() for r in range(2))
    assert lines == ["True 0 2 cpu gloo 3.0", "True 1 2 cpu gloo 3.0"]


def test_setup_default_logging_installs_one_coloured_handler():
    import logging

    root = logging.getLogger()
    saved = list(root.handlers)
    # another test in this process (a script run in-process) may have installed it already
    before = [h for h in saved if not getattr(h, "_nanochat_default", False)]
    root.handlers[:] = before
    try:
        common.setup_default_logging()
        common.setup_default_logging()
        added = [h for h in root.handlers if h not in before]
        assert len(added) == 1
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "careful", None, None)
        out = added[0].formatter.format(record)
        assert "\033[33m" in out and "careful" in out
        assert record.levelname == "WARNING"  # the caller's record is not mutated
    finally:
        root.handlers[:] = saved
