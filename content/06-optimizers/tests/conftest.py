"""Fixtures for module 6: learner-side parameters with gradients, a one-rank process group, and real multi-process
gloo groups.

Parameters live in the learner's process (``torch.nn.Linear(..., bias=False)`` modules created there); the
judge sets their values and gradients and reads them back as data. The reference optimizers run in the judge
on identical copies.

Multi-process groups (``run_ranks``): the learner's process forks ``world_size`` processes of its own (inside the
learner sandbox: its private loopback, a ``FileStore`` in its temporary folder, the gloo backend). Each rank uses
the learner's ``nanochat.adamw`` / ``nanochat.muon`` (imported before the fork), builds the same parameters from a
seed, gets its OWN gradients (seeded by step and rank), steps the optimizer and saves every
step's parameters and its optimizer state. The judge reads the files back as data and compares them with the
reference run on the rank-averaged gradients (what the collectives must compute). ``torch.compile`` is disabled
everywhere on the learner side: on a CPU its compile time alone outruns a call's deadline (nanochat compiles
``zeropower_via_newtonschulz5`` and ``DistAdamW.step``, and must still be gradable here).
"""

from __future__ import annotations

import json
import time

import pytest
import torch._dynamo  # noqa: F401  # every Optimizer() imports it (seconds): pay it at collection, not in a test

WORKER = '''"""One rank of a real gloo group, forked from the learner's process (module 6's tests write this file)."""

import datetime
import json
import os
import traceback


inherited = []


def main(folder, rank, hang_after):
    import faulthandler

    hang = open(os.path.join(folder, "hang-%d.txt" % rank), "w")  # where this rank stands if it never finishes
    faulthandler.dump_traceback_later(hang_after, exit=True, file=hang)
    try:
        import torch
        import torch.distributed as dist

        torch.set_num_threads(1)
        if dist.is_initialized():  # the parent's one-rank group, inherited by the fork: set it aside, never
            c10d = dist.distributed_c10d  # destroyed (its gloo threads did not survive the fork)
            inherited.append((c10d._world.default_pg, dict(c10d._world.pg_map)))
            for name in ("pg_map", "pg_names", "pg_group_ranks", "pg_backend_config", "tags_to_pg", "pg_to_tag"):
                getattr(c10d._world, name).clear()
            c10d._world.default_pg = None
            c10d._world.group_count = 0
            torch._C._distributed_c10d._unregister_all_process_groups()
        with open(os.path.join(folder, "spec.json")) as fh:
            spec = json.load(fh)
        world = spec["world_size"]
        store = dist.FileStore(os.path.join(folder, "store"), world)
        dist.init_process_group(
            "gloo", store=store, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=30)
        )
        gen = torch.Generator().manual_seed(spec["seed"])
        params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in spec["shapes"]]
        grads = [
            [[torch.randn(s, generator=gen) for s in spec["shapes"]] for _ in range(world)]
            for _ in range(spec["steps"])
        ]
        if spec["optimizer"] == "DistAdamW":
            from nanochat.adamw import DistAdamW

            groups = [dict(g["options"], params=[params[i] for i in g["params"]]) for g in spec["groups"]]
            opt = DistAdamW(groups, **spec["options"])
        else:
            from nanochat.muon import DistMuon

            opt = DistMuon(params, **spec["options"])
        history = []
        for step in range(spec["steps"]):
            for p, g in zip(params, grads[step][rank]):
                p.grad = g.clone()
            opt.step()
            history.append([p.detach().clone() for p in params])
        state = {}
        for i, p in enumerate(params):
            if opt.state[p]:
                state[str(i)] = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in opt.state[p].items()}
        torch.save({"history": history, "state": state}, os.path.join(folder, "result-%d.pt" % rank))
    except BaseException:
        with open(os.path.join(folder, "error-%d.txt" % rank), "w") as fh:
            fh.write(traceback.format_exc())
        os._exit(1)
    os._exit(0)
'''

DEBUG_HANGS = False  # True: the full traceback of a hung rank in the message
RANKS_DEADLINE = 15.0  # seconds for the whole group (forked: no imports; a few ms of work per step)


@pytest.fixture
def no_compile(learner):
    """Disable torch.compile in the learner process before learner modules are imported (see the module doc).

    ``TORCHDYNAMO_DISABLE`` is read when ``torch._dynamo`` is first imported (by ``torch.compile``); where it is
    imported already (the in-process harness), its config is switched too. Importing it here would cost seconds."""
    learner.module("os").environ.update({"TORCHDYNAMO_DISABLE": "1"})
    dynamo = learner.module("sys").modules.get("torch._dynamo")
    if dynamo is not None:
        dynamo.config.disable = True


@pytest.fixture
def muon(learner, no_compile):
    return learner.module("nanochat.muon")


@pytest.fixture
def adamw(learner, no_compile):
    return learner.module("nanochat.adamw")


@pytest.fixture
def remote_params(learner):
    """``remote_params(tensors) -> (param_proxies, set_grads, read)`` for parameters in the learner process."""
    nn = learner.module("torch.nn")

    def make(tensors):
        mods = []
        for t in tensors:
            lin = nn.Linear(t.shape[1], t.shape[0], bias=False)
            lin.load_state_dict({"weight": t.clone()})
            mods.append(lin)
        params = [m.weight for m in mods]

        def set_grads(grads):
            for m, g in zip(mods, grads, strict=True):
                m.weight.grad = g.clone()

        def read():
            return [m.state_dict()["weight"] for m in mods]

        return params, set_grads, read

    return make


@pytest.fixture
def one_rank_group(learner):
    """Start a gloo process group of one rank in the learner process (once; the process serves one submission)."""
    dist = learner.module("torch.distributed")
    if not dist.is_initialized():
        path = learner.module("tempfile").mkdtemp(prefix="pg-")
        dist.init_process_group("gloo", init_method=f"file://{path}/store", rank=0, world_size=1)
    return dist


@pytest.fixture
def run_ranks(learner, no_compile):
    """``run_ranks(spec) -> [result of rank 0, result of rank 1, ...]``, each ``{"history": [[param per step]],
    "state": {str(param index): optimizer state}}``, from a real gloo group of ``spec["world_size"]`` processes.

    A rank that raises fails the test with its traceback's last lines; a group still running at the deadline (a
    collective that one rank never joins waits forever) fails it with the step to look at."""

    def run(spec: dict) -> list[dict]:
        los = learner.module("os")
        folder = learner.value(learner.module("tempfile").mkdtemp(prefix="ranks-"))
        path = learner.module("pathlib").Path
        path(f"{folder}/spec.json").write_text(json.dumps(spec))
        path(f"{folder}/lab_ranks.py").write_text(WORKER)
        learner.module("sys").path.append(folder)
        worker = learner.module("lab_ranks")
        # torch.optim.Optimizer.__init__ imports torch._dynamo (seconds): pay it once here, not in every rank
        learner.module("torch._dynamo")
        learner.module("nanochat.adamw" if spec["optimizer"] == "DistAdamW" else "nanochat.muon")
        # fork: the ranks start from the learner's process, torch and the learner's modules already imported
        ctx = learner.module("multiprocessing").get_context("fork")
        procs = []
        for rank in range(spec["world_size"]):
            proc = ctx.Process(target=worker.main, args=(folder, rank, RANKS_DEADLINE - 3), daemon=True)
            proc.start()
            procs.append(proc)
        deadline = time.monotonic() + RANKS_DEADLINE
        codes = [None] * len(procs)
        while time.monotonic() < deadline and any(c is None for c in codes):
            codes = [learner.value(p.exitcode) for p in procs]
            if any(c not in (None, 0) for c in codes):
                time.sleep(0.5)  # let the other ranks write their errors too
                break
            time.sleep(0.2)
        for p, c in zip(procs, codes):
            if c is None:
                p.kill()
                p.join(5)
        errors = []
        for rank in range(spec["world_size"]):
            err = f"{folder}/error-{rank}.txt"
            if learner.value(los.path.exists(err)):
                tail = learner.value(path(err).read_text()).strip().splitlines()
                errors.append(f"rank {rank}:\n" + "\n".join(tail[-6:]))
        who = f"{spec['optimizer']}.step on {spec['world_size']} gloo ranks"
        if errors:
            pytest.fail(f"{who} raised:\n" + "\n".join(errors), pytrace=False)
        if any(c is None for c in codes) or any(c == 1 for c in codes):
            where = []
            for rank in range(spec["world_size"]):
                text = learner.value(path(f"{folder}/hang-{rank}.txt").read_text())
                frames = [line.strip() for line in text.splitlines() if "/nanochat/" in line]
                if frames:
                    where.append(f"rank {rank} was waiting at: " + " <- ".join(frames[:3]))
                if DEBUG_HANGS:
                    where.append(text[:2500])
            pytest.fail(
                f"{who}: still running after {RANKS_DEADLINE:.0f} s (ranks that finished: "
                f"{[r for r, c in enumerate(codes) if c not in (None, 1)]}).\n"
                + "".join(w + "\n" for w in where)
                + "Likely cause: a collective that not every rank launches (one call per parameter on every rank, "
                "in the same order), or a wait on a collective that was never started. Step 3 (DistAdamW.step).",
                pytrace=False,
            )
        if any(c != 0 for c in codes):
            pytest.fail(
                f"{who}: the ranks exited with codes {codes} (a negative code is the signal that ended the rank: "
                "-11 a segmentation fault, -6 an abort, -9 killed for memory).",
                pytrace=False,
            )
        load = learner.module("torch").load
        return [learner.value(load(f"{folder}/result-{rank}.pt")) for rank in range(spec["world_size"])]

    return run
