"""Reads of "assemble your own nanochat": which stages a learner may assemble, their files, their runs.

A stage opens once every module whose files it trains with is ``completed`` (``DECISIONS.md``); the modules come
from the module specs (``modules.spec.assemble_modules``), never from a list kept here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

from grading.assemble.models import AssembleReply, AssembleRun
from grading.models import Result, Submission
from modules import spec as module_spec
from modules.models import Module, Progress
from modules.selectors import localize

STAGES = tuple(module_spec.ASSEMBLE_STAGES)
ACTIVE = (AssembleRun.Status.QUEUED, AssembleRun.Status.RUNNING)


def stage_modules(*, stage: str) -> list[str]:
    """The slugs of the modules ``stage`` trains with, in course order (from the content's module specs)."""
    specs = module_spec.course(Path(settings.LAB_CONTENT_DIR), strict=False)
    return module_spec.assemble_modules(stage, specs)


def completed_slugs(*, user: User) -> set[str]:
    return set(
        Progress.objects.filter(user=user, status=Progress.Status.COMPLETED).values_list(
            "module__slug", flat=True
        )
    )


def access_assemble(*, user: User | AnonymousUser, stage: str) -> bool:
    """Whether ``user`` may assemble ``stage``: signed in, a stage, every module of it completed."""
    if not user.is_authenticated:
        return False
    if stage not in STAGES:
        return False
    return set(stage_modules(stage=stage)) <= completed_slugs(user=user)


def own_files(*, user: User, slugs: list[str]) -> dict[str, dict[str, str]]:
    """Per module: the files of the learner's best passing submission (highest score, then newest)."""
    rows = (
        Submission.objects.filter(user=user, module__slug__in=slugs, result__status=Result.Status.PASS)
        .order_by("-result__score", "-created_at", "-id")
        .values_list("module__slug", "files")
    )
    best: dict[str, dict[str, str]] = {}
    for slug, files in rows:
        best.setdefault(slug, dict(files or {}))
    return best


def learner_dir(*, user_id: int) -> Path:
    """A learner's folder of assembled models: ``LAB_ASSEMBLE_DIR/<user id>`` (0700, theirs only)."""
    return Path(settings.LAB_ASSEMBLE_DIR) / str(int(user_id))


def store_dir(*, user_id: int, stage: str) -> Path:
    """Where a learner's model of ``stage`` lives: ``LAB_ASSEMBLE_DIR/<user id>/<stage>``."""
    if stage not in STAGES:
        raise ValueError(stage)
    return learner_dir(user_id=user_id) / stage


def run_latest(*, user: User, stage: str, done: bool = False) -> AssembleRun | None:
    runs = AssembleRun.objects.filter(user=user, stage=stage)
    if done:
        runs = runs.filter(status=AssembleRun.Status.DONE)
    return runs.defer("files").order_by("-created_at", "-id").first()


def run_summary(run: AssembleRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "stage": run.stage,
        "status": run.status,
        "lane": run.lane,
        "progress": run.progress,
        "step": run.step,
        "loss": run.loss,
        "message": run.message,
        "wall_seconds": run.wall_seconds,
        "cpu_seconds": run.cpu_seconds,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def reply_of(*, user: User, reply_id: int) -> AssembleReply | None:
    """The learner's own reply ``reply_id`` (another learner's is None, as a missing one)."""
    return AssembleReply.objects.filter(user=user, pk=reply_id).first()


def reply_summary(reply: AssembleReply) -> dict[str, Any]:
    return {
        "id": reply.pk,
        "stage": reply.stage,
        "status": reply.status,
        "lane": reply.lane,
        "prompt": reply.prompt,
        "mine": reply.mine,
        "reference": reply.reference,
        "created_at": reply.created_at.isoformat(),
        "finished_at": reply.finished_at.isoformat() if reply.finished_at else None,
    }


def stages_for(*, user: User, lang: str) -> list[dict[str, Any]]:
    """Each stage with its modules (completed or not), whether it is open, its latest run and whether a model of
    it is ready to chat with (4 queries + 2 per stage)."""
    completed = completed_slugs(user=user)
    titles = dict(Module.objects.values_list("slug", "title"))
    out = []
    for stage in STAGES:
        slugs = stage_modules(stage=stage)
        latest = run_latest(user=user, stage=stage)
        ready = run_latest(user=user, stage=stage, done=True)
        out.append(
            {
                "stage": stage,
                "modules": [
                    {"slug": s, "title": str(localize(titles.get(s) or s, lang)), "completed": s in completed}
                    for s in slugs
                ],
                "open": set(slugs) <= completed,
                "run": run_summary(latest) if latest is not None else None,
                "ready": ready is not None,
            }
        )
    return out


def run_limits(*, seconds: int, cpu: int, memory_gib: int, work_mib: int, output_bytes: int) -> Any:
    """Sandbox limits of an assemble job (``sandbox.limits.resolve``: clamped to the operator's caps)."""
    from sandbox.limits import resolve

    return resolve(
        {
            "wall_seconds": seconds,
            "cpu_seconds": cpu,
            "memory_bytes": memory_gib * 2**30,
            "work_bytes": work_mib * 2**20,
            "tmpfs_bytes": 256 * 2**20,
            "output_bytes": output_bytes,
        }
    )


def run_workspace(*, run: AssembleRun) -> dict[str, bytes]:
    """The sandbox workspace of ``run``: its frozen files per module, with the stage's needs
    (``grading.engine.assemble.stage_workspace``)."""
    from grading.engine import assemble

    return assemble.stage_workspace(Path(settings.LAB_CONTENT_DIR), run.stage, run.files)
