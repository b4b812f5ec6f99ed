"""A scripted stand-in for the judge or the learner host, for the runner's edge-case tests.

Usage: ``python scripted_peer.py '<json list of steps>'``; each step is ``[action, arg]``:
``send`` a frame header, ``flood`` one header ``[header, count]`` times, ``raw`` bytes (latin-1 text),
``stderr`` text, ``recv`` one frame, ``report`` (judge) a test id as finished with the reply just received (its
error message, as the real judge reports it), ``reply`` to the next op with a value, ``sleep`` seconds, ``close_stdin``,
``exit`` with a code, ``drain`` until the end of input.  A header's ``"$pad": n`` becomes a ``pad`` field of n
characters (large frames without a large argv).
"""

import json
import os
import sys
import time

from grading.engine.protocol import Channel

chan = Channel(sys.stdin.buffer, sys.stdout.buffer)
for action, arg in json.loads(sys.argv[1]):
    if action == "send":
        header = dict(arg)
        if "$pad" in header:
            header["pad"] = "x" * header.pop("$pad")
        chan.send(header)
    elif action == "flood":
        header, count = arg
        for _ in range(count):
            chan.send(header)
    elif action == "recv":
        frame = chan.recv()
        print(json.dumps(frame.header if frame else None), file=sys.stderr, flush=True)
    elif action == "report":
        frame = chan.recv()
        ok = frame.header.get("ok") is True
        message = "" if ok else frame.header["error"]["message"]
        test = {"id": arg, "status": "pass" if ok else "error", "message": message, "duration_seconds": 0.1}
        chan.send({"kind": "event", "event": {"type": "test_finished", "test": test}})
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
