"""Prints NUL characters and raises an error whose message holds one (PostgreSQL JSONB rejects \u0000)."""


def add(a, b):
    print("before\0after")
    return a + b


def total(values):
    raise ValueError("bad\0value")
