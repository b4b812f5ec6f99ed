"""A scripted stand-in for the judge or the learner host, for the runner's edge-case tests.

Usage: ``python scripted_peer.py '<json list of steps>'``; each step is ``[action, arg]``:
``send`` a frame header, ``raw`` bytes (latin-1 text), ``stderr`` text, ``recv`` one frame, ``reply`` to the next op with a value, ``output`` text,
``sleep`` seconds, ``close_stdin``, ``exit`` with a code, ``drain`` until the end of input.
"""

import json
import os
import sys
import time

from grading.engine.protocol import Channel

chan = Channel(sys.stdin.buffer, sys.stdout.buffer)
for action, arg in json.loads(sys.argv[1]):
    if action == "send":
        chan.send(arg)
    elif action == "recv":
        frame = chan.recv()
        print(json.dumps(frame.header if frame else None), file=sys.stderr, flush=True)
    elif action == "reply":
        frame = chan.recv()
        chan.send({"kind": "reply", "id": frame.header["id"], **arg})
    elif action == "raw":
        sys.stdout.buffer.write(arg.encode("latin-1"))
        sys.stdout.buffer.flush()
    elif action == "stderr":
        print(arg, file=sys.stderr, flush=True)
    elif action == "sleep":
        time.sleep(arg)
    elif action == "close_stdin":
        os.close(0)
    elif action == "exit":
        sys.stdout.flush()
        os._exit(arg)
    elif action == "drain":
        while chan.recv() is not None:
            pass
