"""The judge's test kit: helpers that content modules' tests (their ``conftest.py``) share.

Design choices:

- Only judges get it. ``grading.engine.procs.start_judge`` binds this folder read-only at
  ``/opt/lab/grading/testkit`` in every judge sandbox, warm or cold, next to ``grading/engine`` (``grading`` is a
  namespace package there); a learner host never sees it, so nothing here is learner-reachable code.
- Plain Python and pytest, no Django: the judge has no settings and no database. Importing the kit imports
  neither torch nor ``nanochat_ref``; the helpers that need them import them when called, so a pure-Python
  judge can use the rest.
- Helpers first: a conftest keeps the fixtures that carry module-specific behaviour and calls these for the
  logic that really is the same across modules. A helper that works on both sides takes the ``learner`` proxy
  or the callables to run (the reference's or the learner's), so one function builds the same data in the
  judge and in the learner's process. Fixtures that several modules define identically come from the
  factories in :mod:`.fixtures`, bound to their names in each conftest.
- Learner numbers are compared only through :mod:`.numbers` (``assert_number``, ``assert_numbers``,
  ``assert_tensor``, ``finite_max``...): type, shape and dtype, finiteness, then closeness, so a value that is
  not a number never passes as one (``tests/content/test_content_numbers.py`` holds every content test to it).
- The same code runs under ``tests/content/inprocess_learner.py`` (the repository root on ``PYTHONPATH``),
  where the "learner" is the judge's own process: helpers restore whatever environment they change.
"""

from .data import (
    TINY_SHARDS,
    TINY_VOCAB_SIZE,
    build_base_data,
    judge_base_data,
    learner_base_data,
    point_reference_at,
    reference_at,
)
from .environ import env_vars
from .files import LearnerFiles
from .fixtures import base_data_fixtures, tokenizer_fixtures
from .models import nontrivial_gpt, randomize_projections, trained_tiny_gpt
from .numbers import (
    assert_number,
    assert_numbers,
    assert_tensor,
    check_tensor,
    finite_max,
    finite_min,
    finite_number,
    finite_numbers,
)
from .tokenizers import judge_tokenizer, learner_tokenizer

__all__ = [
    "TINY_SHARDS",
    "TINY_VOCAB_SIZE",
    "LearnerFiles",
    "assert_number",
    "assert_numbers",
    "assert_tensor",
    "base_data_fixtures",
    "build_base_data",
    "check_tensor",
    "env_vars",
    "finite_max",
    "finite_min",
    "finite_number",
    "finite_numbers",
    "judge_base_data",
    "judge_tokenizer",
    "learner_base_data",
    "learner_tokenizer",
    "nontrivial_gpt",
    "randomize_projections",
    "point_reference_at",
    "reference_at",
    "tokenizer_fixtures",
    "trained_tiny_gpt",
]
