import numpy_but_misspelled  # noqa: F401


def add(a, b):
    return a + b


def total(values):
    return sum(values)
