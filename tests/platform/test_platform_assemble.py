""" "Assemble your own nanochat": the gate, one run per learner, the learner's own files, the lane, and a hostile
learner file that reaches for another learner's model.

The course is the repository's own ``content/`` (its module specs say which modules a stage trains with); its rows
are made from each module.yaml without a full content sync, and modules are completed through the real services
(``verdict_record``, ``reflection_submit``) with their reference files as the learner's submission.
"""

from __future__ import annotations

import asyncio
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from platform_helpers import complete_module

from grading import events
from grading.assemble import jobs, selectors
from grading.assemble.models import AssembleReply, AssembleRun
from modules import spec as module_spec
from modules.models import Module

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "content"
REFLECTION = [{"id": "q1", "kind": "text", "prompt": {"en": "What did you learn?", "zh": "你学到了什么？"}}]
BASE = [
    "01-onboarding",
    "02-tokenizer",
    "03-dataset",
    "04-dataloader",
    "05-gpt",
    "06-optimizers",
    "07-base-training",
]


@pytest.fixture
def real_course(db, settings, tmp_path) -> dict[str, Module]:
    settings.LAB_CONTENT_DIR = CONTENT
    settings.LAB_ASSEMBLE_DIR = tmp_path / "assemble"
    settings.LAB_ASSEMBLE_PROFILE = "smoke"
    rows = {}
    for folder in module_spec.discover(CONTENT):
        metadata = yaml.safe_load((folder / "module.yaml").read_text(encoding="utf-8"))
        rows[metadata["slug"]] = Module.objects.create(
            slug=metadata["slug"],
            order=metadata["order"],
            title=metadata["title"],
            content_hash=folder.name,
            metadata=metadata,
            payload={"starters": {}, "reflection": REFLECTION},
            synced_at=timezone.now(),
        )
    return rows


def test_the_stages_modules_are_the_writers_of_their_files_and_what_those_build_on():
    specs = module_spec.course(CONTENT)
    assert module_spec.assemble_modules("base", specs) == BASE
    chat = module_spec.assemble_modules("chat", specs)
    assert chat == [*BASE, "08-midtraining", "09-sft", "11-engine", "12-tool-use"]
    # RL (10) and eval (13) are neither written nor needed by the chat stage's training and chat
    assert "10-rl" not in chat and "13-eval" not in chat


def test_a_stage_stays_closed_until_every_module_it_trains_with_is_completed(real_course, learner):
    for slug in BASE[:-1]:
        complete_module(learner.user, real_course[slug])
    refused = learner.post_json("/api/assemble/base/runs/", {})
    assert refused.status_code == 403
    assert refused.json()["code"] == "assemble_locked"
    stages = {s["stage"]: s for s in learner.get("/api/assemble/").json()["stages"]}
    assert stages["base"]["open"] is False
    assert [m["slug"] for m in stages["base"]["modules"] if not m["completed"]] == ["07-base-training"]
    assert AssembleRun.objects.count() == 0

    complete_module(learner.user, real_course["07-base-training"])
    created = learner.post_json("/api/assemble/base/runs/", {})
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "queued"
    assert created.json()["lane"] == "long"
    # the chat stage still needs 08, 09, 11 and 12
    assert learner.post_json("/api/assemble/chat/runs/", {}).json()["code"] == "assemble_locked"


def test_the_page_shows_the_stages_and_the_left_nav_entry(real_course, learner, anonymous):
    page = learner.get("/assemble/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="nav-assemble"' in html and 'aria-current="page"' in html
    assert 'data-testid="assemble-base-locked"' in html
    assert anonymous.get("/assemble/").status_code == 302  # to the login page


def test_a_learner_runs_one_assemble_job_at_a_time(real_course, learner):
    for slug in BASE:
        complete_module(learner.user, real_course[slug])
    assert learner.post_json("/api/assemble/base/runs/", {}).status_code == 201
    busy = learner.post_json("/api/assemble/base/runs/", {})
    assert busy.status_code == 409
    assert busy.json()["code"] == "assemble_busy"
    assert AssembleRun.objects.filter(user=learner.user).count() == 1


def test_a_run_freezes_the_learners_best_passing_files(real_course, learner):
    for slug in BASE:
        complete_module(learner.user, real_course[slug])
    gpt = real_course["05-gpt"]
    complete_module(learner.user, gpt, {"nanochat/gpt.py": "# my better gpt\n"}, score=2)
    complete_module(learner.user, gpt, {"nanochat/gpt.py": "# a later, weaker pass\n"}, score=1)
    run_id = learner.post_json("/api/assemble/base/runs/", {}).json()["id"]
    run = AssembleRun.objects.get(pk=run_id)
    assert run.files["05-gpt"] == {"nanochat/gpt.py": "# my better gpt\n"}
    assert set(run.files) == set(BASE)
    workspace = selectors.run_workspace(run=run)
    assert workspace["nanochat/gpt.py"] == b"# my better gpt\n"
    # engine.py belongs to module 11, outside the base stage: its parts are cut out, never the reference's
    assert b"not yet: module 11-engine writes this" in workspace["nanochat/engine.py"]


def test_on_the_production_stack_a_run_goes_to_the_gpu_lane_only_when_a_gpu_worker_exists(
    real_course, learner, settings
):
    for slug in BASE:
        complete_module(learner.user, real_course[slug])
    settings.LAB_GRADING_QUEUE = "celery"
    settings.LAB_GPU_WORKER = False
    first = learner.post_json("/api/assemble/base/runs/", {}).json()
    assert first["lane"] == "long"
    AssembleRun.objects.filter(pk=first["id"]).update(status=AssembleRun.Status.FAILED)
    settings.LAB_GPU_WORKER = True
    assert learner.post_json("/api/assemble/base/runs/", {}).json()["lane"] == "gpu"


def test_the_chat_stage_starts_from_the_learners_own_base_model(real_course, learner):
    chat = module_spec.assemble_modules("chat", module_spec.course(CONTENT))
    for slug in chat:
        complete_module(learner.user, real_course[slug])
    stages = {s["stage"]: s for s in learner.get("/api/assemble/").json()["stages"]}
    assert stages["chat"]["open"] is True
    refused = learner.post_json("/api/assemble/chat/runs/", {})
    assert refused.status_code == 403 and "base model first" in refused.json()["detail"]
    base = AssembleRun.objects.create(
        user=learner.user, stage="base", status=AssembleRun.Status.DONE, created_at=timezone.now()
    )
    created = learner.post_json("/api/assemble/chat/runs/", {}).json()
    assert created["stage"] == "chat" and created["id"] != base.pk
    assert set(AssembleRun.objects.get(pk=created["id"]).files) == set(chat)


def test_chatting_needs_an_assembled_model_and_a_bounded_prompt(real_course, learner):
    for slug in BASE:
        complete_module(learner.user, real_course[slug])
    assert learner.post_json("/api/assemble/base/reply/", {"prompt": "x" * 501}).status_code == 400
    assert learner.post_json("/api/assemble/base/reply/", {"prompt": "  "}).status_code == 400
    no_model = learner.post_json("/api/assemble/base/reply/", {"prompt": "Hello"})
    assert no_model.status_code == 403
    assert no_model.json()["code"] == "assemble_locked"
    assert AssembleReply.objects.count() == 0


async def received(layer, channel) -> list[dict]:
    """What the learner's group heard, up to a quiet second."""
    frames = []
    while True:
        try:
            frames.append(await asyncio.wait_for(layer.receive(channel), timeout=1))
        except TimeoutError:
            return frames


def assembled(persona, real_course) -> AssembleRun:
    """``persona`` completed the base stage with the reference files, and their model is the shipped one."""
    for slug in BASE:
        complete_module(persona.user, real_course[slug])
    run = AssembleRun.objects.create(
        user=persona.user,
        stage="base",
        status=AssembleRun.Status.DONE,
        files=selectors.own_files(user=persona.user, slugs=BASE),
        created_at=timezone.now(),
    )
    store = selectors.store_dir(user_id=persona.user.pk, stage="base")
    shipped = REPO / "nanochat_ref" / "checkpoints"
    shutil.copytree(shipped / "tokenizer", store / "tokenizer")
    shutil.copytree(shipped / "base_checkpoints", store / "base_checkpoints")
    return run


def test_a_question_returns_at_once_queued_on_the_short_lane(real_course, learner):
    run = assembled(learner, real_course)
    asked = learner.post_json("/api/assemble/base/reply/", {"prompt": " The capital of France is "})
    assert asked.status_code == 202, asked.content
    body = asked.json()
    assert body["status"] == "queued" and body["lane"] == "short"
    assert body["prompt"] == "The capital of France is"
    assert body["mine"] is None and body["reference"] is None  # nothing ran in the request
    assert AssembleReply.objects.get(pk=body["id"]).run == run
    assert learner.get(f"/api/assemble/replies/{body['id']}/").json() == body


def test_a_learner_asks_one_question_at_a_time(real_course, learner):
    assembled(learner, real_course)
    assert learner.post_json("/api/assemble/base/reply/", {"prompt": "One"}).status_code == 202
    busy = learner.post_json("/api/assemble/base/reply/", {"prompt": "Two"})
    assert busy.status_code == 409 and busy.json()["code"] == "assemble_busy"
    assert AssembleReply.objects.filter(user=learner.user).count() == 1


def test_a_question_whose_worker_died_no_longer_blocks_the_next(real_course, learner, settings):
    assembled(learner, real_course)
    first = learner.post_json("/api/assemble/base/reply/", {"prompt": "One"}).json()["id"]
    long_ago = timezone.now() - timezone.timedelta(seconds=2 * settings.LAB_ASSEMBLE_REPLY_SECONDS + 200)
    AssembleReply.objects.filter(pk=first).update(status=AssembleReply.Status.RUNNING, created_at=long_ago)
    assert learner.post_json("/api/assemble/base/reply/", {"prompt": "Two"}).status_code == 202
    assert AssembleReply.objects.get(pk=first).status == AssembleReply.Status.FAILED


def test_a_learner_reads_only_their_own_replies(real_course, learner, other_learner, anonymous):
    assembled(learner, real_course)
    reply_id = learner.post_json("/api/assemble/base/reply/", {"prompt": "Mine"}).json()["id"]
    assert other_learner.get(f"/api/assemble/replies/{reply_id}/").status_code == 404
    assert learner.get(f"/api/assemble/replies/{reply_id + 1000}/").status_code == 404
    assert anonymous.get(f"/api/assemble/replies/{reply_id}/").status_code in (401, 403)
    assert learner.post_json(f"/api/assemble/replies/{reply_id}/", {}).status_code == 405


@pytest.mark.slow
def test_a_short_lane_worker_answers_with_both_models_and_streams_their_text(
    real_course, learner, django_capture_on_commit_callbacks
):
    assembled(learner, real_course)
    reply_id = learner.post_json("/api/assemble/base/reply/", {"prompt": "The capital of France is"}).json()[
        "id"
    ]
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.group_name(learner.user.pk), channel)

    assert jobs.assemble_reply_next(lane="long") == "idle"  # replies wait on the short lane only
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.assemble_reply_next(lane="short") == "answered"

    reply = learner.get(f"/api/assemble/replies/{reply_id}/").json()
    assert reply["status"] == "done" and reply["finished_at"]
    assert reply["mine"]["ok"] is True and reply["reference"]["ok"] is True, reply
    # their files are the reference's and their model the shipped one: greedy decoding gives the same text
    assert reply["mine"]["text"] == reply["reference"]["text"] != ""
    frames = async_to_sync(received)(layer, channel)
    texts = {
        side: [f["event"]["text"] for f in frames if f["event"].get("side") == side]
        for side in ("mine", "reference")
    }
    for side, seen in texts.items():
        assert len(seen) > 1, side  # it grew token by token...
        assert seen[-1] == reply[side]["text"]  # ...into the saved answer
    assert frames[-1]["event"] == {"type": "reply_end", "reply_id": reply_id, "status": "done"}


HOSTILE_BASE_TRAIN = textwrap.dedent(
    """
    import glob, json, os

    SECRET = {secret!r}

    def main(argv=None):
        leaked = 0
        for path in [SECRET, *glob.glob({pattern!r}), *glob.glob("/proc/1/root" + SECRET)]:
            try:
                with open(path, "rb") as f:
                    leaked += len(f.read())
            except OSError:
                pass
        # the loss line reports how many bytes of the other learner's model this code could read
        print(f"step 00001/00001 (100.00%) | loss: {{float(leaked):.6f}}", flush=True)
        base = os.environ["NANOCHAT_BASE_DIR"]
        ckpt = os.path.join(base, "base_checkpoints", "d1")
        os.makedirs(ckpt, exist_ok=True)
        os.symlink(SECRET, os.path.join(ckpt, "model_000001.pt"))
        with open(os.path.join(ckpt, "meta_000001.json"), "w") as f:
            json.dump({{"step": 1}}, f)
    """
)


@pytest.mark.slow
def test_a_hostile_base_train_cannot_read_or_take_another_learners_model(real_course, learner, other_learner):
    secret_store = selectors.store_dir(user_id=other_learner.user.pk, stage="base")
    secret = secret_store / "base_checkpoints" / "d1" / "model_000001.pt"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(b"OTHER LEARNER'S WEIGHTS " * 100)
    for slug in BASE[:-1]:
        complete_module(learner.user, real_course[slug])
    spec = module_spec.load(CONTENT / "07-base-training")
    files = {e.path: e.reference_path(spec.root).read_text(encoding="utf-8") for e in spec.files}
    pattern = str(secret_store.parent.parent / "*" / "base" / "*" / "*" / "*.pt")
    files["nanochat/scripts/base_train.py"] = HOSTILE_BASE_TRAIN.format(secret=str(secret), pattern=pattern)
    complete_module(learner.user, real_course["07-base-training"], files)
    run_id = learner.post_json("/api/assemble/base/runs/", {}).json()["id"]

    assert jobs.assemble_next(lane="long") == "failed"

    run = AssembleRun.objects.get(pk=run_id)
    assert run.status == AssembleRun.Status.FAILED
    assert run.loss["loss/base_train"]["y"] == [0.0], (
        "the sandbox let learner code read another learner's model"
    )
    assert "without a checkpoint" in run.message  # the planted symlink was not followed
    assert not selectors.store_dir(user_id=learner.user.pk, stage="base").exists()
    assert secret.read_bytes().startswith(b"OTHER LEARNER'S WEIGHTS")
    # the learner's own page shows the end; nothing was left running
    stages = {s["stage"]: s for s in learner.get("/api/assemble/").json()["stages"]}
    assert stages["base"]["run"]["status"] == "failed" and stages["base"]["ready"] is False


def test_deleting_an_account_deletes_its_assembled_models_and_runs(
    real_course, learner, other_learner, django_capture_on_commit_callbacks
):
    stores = {}
    for persona in (learner, other_learner):
        stores[persona] = selectors.store_dir(user_id=persona.user.pk, stage="base")
        (stores[persona] / "tokenizer").mkdir(parents=True)
        (stores[persona] / "tokenizer" / "tokenizer.pkl").write_bytes(b"tok")
        AssembleRun.objects.create(
            user=persona.user, stage="base", status=AssembleRun.Status.DONE, created_at=timezone.now()
        )
    admin = Client()
    admin.force_login(User.objects.create_superuser("site-admin", password="pw"))
    gone = learner.user.pk
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/admin/auth/user/{gone}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=gone).exists()
    assert not AssembleRun.objects.filter(user_id=gone).exists()
    assert not selectors.learner_dir(user_id=gone).exists()
    # nobody else's model or run goes with it
    assert (stores[other_learner] / "tokenizer" / "tokenizer.pkl").read_bytes() == b"tok"
    assert AssembleRun.objects.filter(user=other_learner.user).count() == 1
