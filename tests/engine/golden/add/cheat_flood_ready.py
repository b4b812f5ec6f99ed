"""Floods the runner with repeated ``ready`` frames (which cost nothing against any cap), then oversleeps."""

import gc
import threading
import time

from grading.engine.protocol import Channel


def _flood():
    channel = next(o for o in gc.get_objects() if isinstance(o, Channel))
    while True:
        channel.send({"kind": "ready", "runtime": "python", "pid": 1})


threading.Thread(target=_flood, daemon=True).start()


def add(a, b):
    time.sleep(3)
    return a + b


def total(values):
    return sum(values)
