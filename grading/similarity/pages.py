"""What similarity adds to the module page (registered with ``modules.pages`` by ``SimilarityConfig.ready``)."""

from __future__ import annotations

from typing import Any

from grading.similarity import selectors
from modules.pages import ModulePageContext


def module_page_data(page: ModulePageContext) -> dict[str, Any]:
    """``self_check``: ``{score, submission}`` when the learner's pass matches the reference closely (they are asked
    to explain their approach in the reflection), else null (1 query)."""
    return {"self_check": selectors.self_check_for(user=page.user, module=page.module)}
