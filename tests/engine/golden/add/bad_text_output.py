"""Sends output frames holding an escaped lone surrogate and a NUL: text no page or database can store as is."""

import gc

from grading.engine.protocol import MAGIC, Channel


def _shout():
    import struct

    channel = next(o for o in gc.get_objects() if isinstance(o, Channel))
    data = b'{"kind":"output","stream":"stdout","data":"bad \\ud800 and \\u0000 text"}'
    with channel._lock:
        channel.wfile.write(struct.pack(">4sIIQ", MAGIC, len(data), 0, 0) + data)
        channel.wfile.flush()


def add(a, b):
    _shout()
    return a + b


def total(values):
    return sum(values)
