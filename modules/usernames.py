"""Usernames as people read them: the TR39 confusable skeleton that tells look-alike names apart from new ones.

Design choices:
- NFKC: Django normalises every username to NFKC where one enters (``UsernameField`` in the sign-up and login
  forms, ``normalize_username`` in ``create_user``), so ``ｇｒａｃｅ`` signs up and logs in as ``grace``; the lab
  relies on that (and its tests pin it) rather than repeating it.
- ``username_skeleton`` follows Unicode TR39 section 4 (NFD, each character mapped to its prototype from
  ``confusables.txt``, NFD again), then case-folds and maps once more, so ``аdа`` (Cyrillic а), ``wi11``, ``modem``
  and ``Ada`` meet ``ada``, ``will``, ``modern`` and ``ada``. Two names with one skeleton are look-alikes.
- The prototype table comes from the maintained ``confusable_homoglyphs`` package, which ships ``confusables.txt``
  as an undirected graph of homoglyph pairs. TR39's mapping is idempotent (a prototype never maps further), so each
  connected component of that graph is a star around its prototype: the member with several neighbours, or the
  multi-character sequence (``rn`` for ``m``); an isolated pair of single characters maps onto its lower code
  point. That gives exactly TR39's equivalence classes, which is all a comparison needs.
- The table (about 10,000 entries) is built on first use, not at import: the web process pays for it when someone
  first signs up, not at start-up. Django-free.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from functools import lru_cache

_LRM = "\u200e"  # confusable_homoglyphs wraps right-to-left characters in left-to-right marks


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Character -> its TR39 prototype (one or more characters), for every character that has another one."""
    from confusable_homoglyphs.confusables import confusables_data

    neighbours: dict[str, set[str]] = defaultdict(set)
    for source, entries in confusables_data.items():
        one = source.replace(_LRM, "")
        for entry in entries:
            other = entry["c"].replace(_LRM, "")
            if one and other and one != other:
                neighbours[one].add(other)
                neighbours[other].add(one)
    prototypes: dict[str, str] = {}
    for node, linked in neighbours.items():
        if len(node) != 1 or len(linked) != 1:
            continue  # a sequence, or the hub of a star: a prototype itself
        (other,) = linked
        if len(other) > 1 or len(neighbours[other]) > 1 or other < node:
            prototypes[node] = other
    return prototypes


def _map(text: str) -> str:
    """NFD, prototypes, NFD, repeated until nothing changes: a prototype sequence may hold a character whose
    pair was oriented the other way (see the module docstring), and NFD may expose one (Hangul jamo)."""
    prototypes = _prototypes()
    for _ in range(8):
        decomposed = unicodedata.normalize("NFD", text)
        mapped = unicodedata.normalize("NFD", "".join(prototypes.get(char, char) for char in decomposed))
        if mapped == text:
            break
        text = mapped
    return text


def username_skeleton(username: str) -> str:
    """The case-folded TR39 skeleton of ``username``: equal skeletons mean the names look alike."""
    return _map(_map(unicodedata.normalize("NFKC", username)).casefold())
