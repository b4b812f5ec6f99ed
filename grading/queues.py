"""The grading queue: where a committed submission goes, and in which order the waiting ones are taken.

Design choices:
- The submissions table is the queue (``DECISIONS.md``, "Queues"): a waiting run is a ``queued`` row in its
  module's lane (``short``, ``long``, ``gpu``: ``modules.spec.lane_of``). Whatever grades — the embedded worker's
  threads or Celery workers — takes the next row of a lane with ``grading.services.submission_claim``, in the
  order ``fair_order`` gives. Queue messages (Celery, one per submission, on the lane's queue) only wake a worker;
  they do not say which submission it grades. So fairness is one rule in one place, the same in both modes, and
  a restart loses nothing: the rows are still there.
- ``fair_order`` is round-robin between learners: each learner's runs in submission order; the learners in the
  order they were last served in the lane (never served first, then least recently), and a learner's second
  waiting run comes after every other learner's first. A learner who floods the lane therefore delays anyone
  else by at most the run that is already going, and the per-learner cap (``LAB_QUEUE_MAX_PER_LEARNER``,
  ``grading.services.submission_create``) keeps their share of the waiting rows small.
- ``grading.services.submission_create`` hands the new id to ``enqueue`` after commit. What wakes a worker is
  ``grading.tasks.enqueue`` (a Celery message in production, the embedded worker threads otherwise), installed
  here by ``GradingConfig.ready``: the tasks call the services, so the services must not import the tasks.
- Enqueueing with no sender installed is a programming error, raised, never a silently dropped submission.
- Other queued work of a lane (``grading.assemble``'s runs) registers a job source (``source_register``): a
  worker of the lane takes it when no submission waits there, and ``wake`` rouses a worker of a lane for it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

Sender = Callable[[int], None]
Waker = Callable[[str], None]
#: ``source(lane=..., token=...)``: take and run one waiting job of the lane; its outcome, or "idle" if none waits.
Source = Callable[..., str]

_sender: Sender | None = None
_waker: Waker | None = None
_sources: dict[str, Source] = {}

Learner = TypeVar("Learner", bound=Hashable)


def sender_install(sender: Sender) -> None:
    """Make ``sender`` the grading queue (``GradingConfig.ready`` installs ``grading.tasks.enqueue``)."""
    global _sender
    _sender = sender


def enqueue(submission_id: int) -> None:
    """Hand a committed submission to the installed grading queue."""
    if _sender is None:
        raise RuntimeError("no grading queue installed: GradingConfig.ready installs grading.tasks.enqueue")
    _sender(submission_id)


def waker_install(waker: Waker) -> None:
    """Make ``waker`` the way to rouse a worker of a lane (``GradingConfig.ready`` installs ``grading.tasks.wake``)."""
    global _waker
    _waker = waker


def wake(lane: str) -> None:
    """Rouse a worker of ``lane`` for work a job source holds (after commit)."""
    if _waker is None:
        raise RuntimeError("no grading queue installed: GradingConfig.ready installs grading.tasks.wake")
    _waker(lane)


def source_register(name: str, source: Source) -> None:
    """Register (or replace) a job source that the lanes' workers take from when no submission waits."""
    _sources[name] = source


def sources() -> list[Source]:
    return list(_sources.values())


@dataclass(frozen=True)
class Waiting(Generic[Learner]):
    """One queued run of a lane: its submission id, whose it is, and when it was submitted."""

    id: int
    learner: Learner
    created_at: datetime


def fair_order(
    waiting: Iterable[Waiting[Learner]], last_served: Mapping[Learner, datetime | None]
) -> list[Waiting[Learner]]:
    """The order in which a lane's waiting runs are taken: round-robin between learners.

    ``last_served``: when each learner's latest run in the lane started (missing or ``None``: never). Round ``k``
    takes every learner's ``k``-th oldest waiting run; within a round, learners never served come first (oldest
    waiting run first), then the least recently served. Taking the head and serving it moves its learner behind
    everyone else, which is the next call's order too; so the whole list is the order of the next runs, as long as
    nobody submits in between.
    """
    runs: dict[Learner, list[Waiting[Learner]]] = {}
    for run in sorted(waiting, key=lambda w: (w.created_at, w.id)):
        runs.setdefault(run.learner, []).append(run)

    def turn(learner: Learner) -> tuple[bool, datetime, datetime, int]:
        first = runs[learner][0]
        served = last_served.get(learner)
        return (served is not None, served or first.created_at, first.created_at, first.id)

    learners = sorted(runs, key=turn)
    rounds = max((len(own) for own in runs.values()), default=0)
    return [runs[learner][k] for k in range(rounds) for learner in learners if k < len(runs[learner])]
