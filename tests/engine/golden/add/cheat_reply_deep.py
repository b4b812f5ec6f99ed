"""Answers with a reply nested 960 lists deep: read on one thread's shallow stack, written again on a deeper one.

A header that decodes but cannot be encoded again must be refused where it is read: relaying it would overflow
the runner's stack (and a crashed runner is a platform error).
"""

import gc

from grading.engine.protocol import MAGIC, Channel

_MARK = "@@DEEP@@"


def _patch():
    import json
    import struct

    channel = next(o for o in gc.get_objects() if isinstance(o, Channel))
    send = channel.send

    def sneaky(header, buffers=None):
        raw = json.dumps(header)
        if _MARK in raw:
            data = raw.replace(f'"{_MARK}"', "[" * 960 + "]" * 960).encode()
            with channel._lock:
                channel.wfile.write(struct.pack(">4sIIQ", MAGIC, len(data), 0, 0) + data)
                channel.wfile.flush()
            return
        send(header, buffers)

    channel.send = sneaky


_patch()


def add(a, b):
    return _MARK


def total(values):
    return _MARK
