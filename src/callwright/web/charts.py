"""Horizontal bar charts drawn by the server as SVG (no script, no library): the geometry here,
the markup in the template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROW = 22
LABEL_W = 130
BAR_W = 180


@dataclass(frozen=True)
class Bar:
    label: str
    text: str  # the value as shown ("75%", "12.3 s"); "" when there is none
    y: int
    width: float


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    bars: tuple[Bar, ...]
    height: int
    label_w: int = LABEL_W
    bar_w: int = BAR_W

    @property
    def width(self) -> int:
        return self.label_w + self.bar_w + 60


def bar_chart(
    id: str, title: str, rows: Sequence[tuple[str, float | None, str]], *, top: float | None = None
) -> Chart:
    """One bar per (label, value, shown text); bars scale to ``top`` (the largest value when not
    given); a row without a value has no bar."""
    values = [v for _, v, _ in rows if v is not None]
    scale = top if top is not None else max(values, default=0.0)
    bars = tuple(
        Bar(label, text, i * ROW, 0.0 if value is None or not scale else round(BAR_W * value / scale, 1))
        for i, (label, value, text) in enumerate(rows)
    )
    return Chart(id, title, bars, max(len(rows), 1) * ROW + 4)
