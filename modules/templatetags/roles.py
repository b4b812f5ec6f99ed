"""``{{ user|is_instructor }}``: the one instructor check (``modules.selectors.user_is_instructor``) for templates."""

from __future__ import annotations

from typing import Any

from django import template

from modules.selectors import user_is_instructor

register = template.Library()


@register.filter
def is_instructor(user: Any) -> bool:
    return user_is_instructor(user)
