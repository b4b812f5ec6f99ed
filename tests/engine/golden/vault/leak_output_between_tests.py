"""Prints its arguments from a thread, after the call has returned, so the text arrives between tests.

Output is attributed to the test running when it arrives; text that lands after a hidden test finished and
before the next one started belongs to no test, and a runner that publishes such text as is shows hidden inputs.
"""

import threading
import time


def _chatter(a, b):
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        print(f"saw {a} and {b}", flush=True)
        time.sleep(0.0002)


def add(a, b):
    threading.Thread(target=_chatter, args=(a, b), daemon=True).start()
    return a + b


def total(values):
    return sum(values)
