"""nanochat_ref: nanochat Lab's own compact re-implementation of nanochat's classic layout.

Imported only inside sandboxes (by judges and learner hosts), by its own tests, scripts and benchmarks; never by
the web process. Every import inside this package is relative, so the grader can mount a copy of it under the
name ``nanochat`` in a learner's sandbox.
"""
