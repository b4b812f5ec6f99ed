"""Answers with a reply that decodes (an escaped lone surrogate) but cannot be encoded again for the judge."""

import gc

from grading.engine.protocol import MAGIC, Channel

_MARK = "@@SURROGATE@@"


def _patch():
    import json
    import struct

    channel = next(o for o in gc.get_objects() if isinstance(o, Channel))
    send = channel.send

    def sneaky(header, buffers=None):
        raw = json.dumps(header)
        if _MARK in raw:
            data = raw.replace(f'"{_MARK}"', '"\\ud800"').encode()  # a JSON escape: a lone surrogate
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
