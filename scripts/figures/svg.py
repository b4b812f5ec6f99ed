"""A tiny SVG writer for the handout figures: elements in order, numbers rounded, nothing that varies by run.

Design choices:
- No dependency: a figure is a list of elements written as text, so regenerating it writes the same bytes
  (numbers are rounded to two decimals and written without trailing zeros; attribute order is the call's).
- The figure is drawn in the page's palette and font (``frontend/src/charts.ts``); an SVG shown as an ``<img>``
  cannot load fonts, so the font list names the system fonts the page falls back on (CJK included).
- :func:`line_chart` draws axes, ticks, series and a legend into a box, on a linear or a log x axis: the shape
  most figures need. Anything else is drawn with the element helpers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#4f46e5", "#0d9488", "#d97706", "#db2777", "#2563eb", "#65a30d")
INK, MUTED, GRID, PAPER = "#1e293b", "#64748b", "#e2e8f0", "#ffffff"
FONT = (
    "Inter, system-ui, -apple-system, 'Segoe UI', 'PingFang SC', 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', "
    "sans-serif"
)


def num(value: float) -> str:
    """A coordinate as text: two decimals at most, no trailing zeros, never ``-0``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _attrs(attrs: dict[str, object]) -> str:
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        text = num(value) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{escape(text)}"')
    return "".join(parts)


@dataclass
class Svg:
    """An SVG document of ``width`` x ``height`` with a white background and an accessible title."""

    width: int
    height: int
    title: str
    parts: list[str] = field(default_factory=list)

    def add(self, tag: str, text: str | None = None, **attrs: object) -> None:
        if text is None:
            self.parts.append(f"<{tag}{_attrs(attrs)}/>")
        else:
            self.parts.append(f"<{tag}{_attrs(attrs)}>{escape(text)}</{tag}>")

    def rect(self, x: float, y: float, w: float, h: float, **attrs: object) -> None:
        self.add("rect", x=float(x), y=float(y), width=float(w), height=float(h), **attrs)

    def line(self, x1: float, y1: float, x2: float, y2: float, **attrs: object) -> None:
        self.add("line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), **attrs)

    def polyline(self, points: Sequence[tuple[float, float]], **attrs: object) -> None:
        self.add("polyline", points=" ".join(f"{num(x)},{num(y)}" for x, y in points), fill="none", **attrs)

    def text(self, x: float, y: float, text: str, **attrs: object) -> None:
        attrs.setdefault("fill", INK)
        self.add("text", text, x=float(x), y=float(y), **attrs)

    def render(self) -> str:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" font-family="{escape(FONT)}" font-size="14" '
            f'role="img">'
        )
        body = [f"<title>{escape(self.title)}</title>", f'<rect width="100%" height="100%" fill="{PAPER}"/>']
        return "\n".join([head, *body, *self.parts, "</svg>"]) + "\n"


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    color: str
    dash: str | None = None
    width: float = 2.0


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


def line_chart(
    svg: Svg,
    box: Box,
    series: Sequence[Series],
    *,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    x_ticks: Sequence[float],
    y_ticks: Sequence[float],
    x_label: str,
    y_label: str,
    x_log: bool = False,
    legend: Sequence[tuple[float, float]] = (),
    tick_format: str = "{:g}",
) -> None:
    """Axes, grid, ticks, the series as polylines clipped to the box, and a legend entry per series at the
    positions ``legend`` gives (none when empty)."""

    def fx(x: float) -> float:
        lo, hi = x_range
        t = (
            (math.log10(x) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
            if x_log
            else (x - lo) / (hi - lo)
        )
        return box.x + t * box.w

    def fy(y: float) -> float:
        lo, hi = y_range
        return box.y + box.h - (y - lo) / (hi - lo) * box.h

    for y in y_ticks:
        svg.line(box.x, fy(y), box.x + box.w, fy(y), stroke=GRID)
        svg.text(box.x - 8, fy(y) + 4, tick_format.format(y), text_anchor="end", fill=MUTED, font_size=12)
    for x in x_ticks:
        svg.line(fx(x), box.y, fx(x), box.y + box.h, stroke=GRID)
        svg.text(
            fx(x), box.y + box.h + 17, tick_format.format(x), text_anchor="middle", fill=MUTED, font_size=11
        )
    svg.line(box.x, box.y + box.h, box.x + box.w, box.y + box.h, stroke=MUTED)
    svg.line(box.x, box.y, box.x, box.y + box.h, stroke=MUTED)
    svg.text(box.x + box.w / 2, box.y + box.h + 42, x_label, text_anchor="middle")
    cx, cy = box.x - 42, box.y + box.h / 2
    svg.text(cx, cy, y_label, text_anchor="middle", transform=f"rotate(-90 {num(cx)} {num(cy)})")
    y_lo, y_hi = min(y_range), max(y_range)
    for s in series:
        points = [(fx(x), fy(min(max(y, y_lo), y_hi))) for x, y in s.points]
        svg.polyline(
            points, stroke=s.color, stroke_width=s.width, stroke_dasharray=s.dash, stroke_linejoin="round"
        )
    for s, (lx, ly) in zip(series, legend):
        svg.line(lx, ly, lx + 26, ly, stroke=s.color, stroke_width=s.width, stroke_dasharray=s.dash)
        svg.text(lx + 34, ly + 4, s.name, font_size=13)
