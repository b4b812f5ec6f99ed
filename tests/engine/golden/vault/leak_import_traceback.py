"""Remembers every argument, and makes a later import fail with them in the message.

``add`` drops this module from ``sys.modules``, so the next test's ``learner.module("vault")`` runs it again;
once it has seen an argument of a hidden test, that import raises with every argument it saw.  A verdict message
that quotes the first failing import's traceback would print the hidden inputs.
"""

import builtins
import sys

_SEEN = builtins.__dict__.setdefault("_vault_seen", [])
if any(pair != (2, 3) for pair in _SEEN):
    raise ImportError(f"arguments seen so far: {_SEEN}")


def add(a, b):
    _SEEN.append((a, b))
    sys.modules.pop(__name__, None)
    return a + b


def total(values):
    return sum(values)
