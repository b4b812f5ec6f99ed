"""Stops reading the runner's frames after a reply, so that a large call argument fills the pipe.

A runner whose write to the learner blocks cannot check any clock: the job hangs until the learner's own
sandbox runs out of time (for a warm one from the pool, its long pooled wall clock).
"""

import gc
import time

from grading.engine.protocol import Channel

_STATE = {"armed": False, "blocked": False}


def _patch():
    channel = next(o for o in gc.get_objects() if isinstance(o, Channel))
    recv = channel.recv

    def stubborn():
        if _STATE["blocked"]:
            time.sleep(10**6)
        frame = recv()
        if _STATE["armed"] and frame is not None and frame.header.get("op") == "import":
            _STATE["blocked"] = True  # answer this import, then never read again
        return frame

    channel.recv = stubborn


_patch()


def add(a, b):
    _STATE["armed"] = True
    return a + b


def total(values):
    return sum(values)
