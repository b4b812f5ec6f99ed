"""Fixtures of the grading-engine tests.

The fixture modules under ``fixtures/`` hold their own ``tests/`` folders: those are content tests that only
make sense inside the judge, so this suite never collects them directly.
"""

collect_ignore_glob = ["fixtures/*", "golden/*"]
