"""The grader as a plain library (never imports Django): runner, judge, learner host, protocol, pool, schema.

Kept import-light on purpose: the learner sandbox mounts only this package, so importing it must not pull in
the sandbox library, Django or torch.  Import the submodules you need (``grading.engine.runner``).
"""

from .errors import LearnerCrashed, LearnerError, LearnerTimeout

__all__ = ["LearnerCrashed", "LearnerError", "LearnerTimeout"]
