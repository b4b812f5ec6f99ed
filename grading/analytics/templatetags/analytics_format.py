"""Number formats of the analytics pages: rates as percentages, means, durations; "—" where there is no value."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()

NONE = "—"


@register.filter
def pct(value: float | None) -> str:
    """0.8333 -> "83.3%"."""
    return NONE if value is None else f"{100 * value:.1f}%"


@register.filter
def mean(value: float | None) -> str:
    """2.5 -> "2.50"."""
    return NONE if value is None else f"{value:.2f}"


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as minutes under an hour, hours under two days, else days (one decimal)."""
    if seconds is None:
        return NONE
    if seconds < 3600:
        return _("%(n).0f min") % {"n": seconds / 60}
    if seconds < 48 * 3600:
        return _("%(n).1f h") % {"n": seconds / 3600}
    return _("%(n).1f d") % {"n": seconds / 86400}
