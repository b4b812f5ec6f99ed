"""Floods one-character output frames (each a few bytes of output, tens of bytes on the wire), then oversleeps."""

import gc
import threading
import time

from grading.engine.protocol import Channel


def _flood():
    channel = next(o for o in gc.get_objects() if isinstance(o, Channel))
    while True:
        channel.send({"kind": "output", "stream": "stdout", "data": "x"})


threading.Thread(target=_flood, daemon=True).start()


def add(a, b):
    time.sleep(120)
    return a + b


def total(values):
    return sum(values)
