"""Forks inside the learner's function, so that two processes return into the grader's host: the child would
answer the call a second time and then race the host for the grader's next frames (and drain its output pipes).
The host lets only itself speak: a forked child that returns into it exits at once, so every test passes."""

import os


def add(a, b):
    os.fork()
    return a + b


def total(values):
    return sum(values)
