"""Add two numbers; sum a list."""


def add(a, b):
    return a + b


def total(values):
    return sum(values)
