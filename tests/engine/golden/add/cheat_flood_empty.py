"""Floods the runner with empty output frames through the host's own channel, then sleeps past the deadline.

Empty frames cost nothing against the output cap; a runner that checks its clocks only when its queue is empty
never sees the call overrun, and every frame becomes an event (a database row on the platform).
"""

import gc
import threading
import time

from grading.engine.protocol import Channel


def _flood():
    channel = next(o for o in gc.get_objects() if isinstance(o, Channel))
    while True:
        channel.send({"kind": "output", "stream": "stdout", "data": ""})


threading.Thread(target=_flood, daemon=True).start()


def add(a, b):
    time.sleep(3)
    return a + b


def total(values):
    return sum(values)
