"""Texts on a history plot that never collide, measured rather than hoped for.

Why measured: where a label lands depends on the data (thirty decisions in a minute, two
promotions at the same value, a rollback just under the champion's line), on the font and on
the length of a version number, so no fixed offset is safe. matplotlib gives every text's extent
once the figure is drawn (`Text.get_window_extent`); each label here is tried at a few spots
and kept at the first whose box touches no other text, marker or line and stays inside the
axes. The figure's layout must be fixed (`Figure.subplots_adjust`) before this runs, so the
extents measured are the ones saved. Imported only by `champion.plot` (the plot extra).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["GAP_PX", "Label", "place_labels", "texts", "thin_time_labels"]

GAP_PX = 4.0
"""The least room left between two texts, in pixels."""
_NEAR = ((0, 7), (0, -9), (9, 7), (-9, 7), (9, -9), (-9, -9))
_FAR = ((0, 22), (0, -24), (18, 18), (-18, 18), (18, -20), (-18, -20), (0, 36), (0, -38))
"""Where a label may go, in points from its point: beside it, else farther out with a stroke."""


@dataclass(frozen=True)
class Label:
    """A text to put beside the data point (`x`, `y`)."""

    x: float
    y: float
    text: str
    color: str


def thin_time_labels(figure: Any, axes: Any, ticks: Sequence[tuple[float, datetime]]) -> None:
    """Label every k-th decision with its time (the date too, under the first and where the day
    changes), k as small as lets no two labels touch, and a time only once; every decision
    keeps a minor tick."""
    from matplotlib.ticker import FixedLocator

    renderer = figure.canvas.get_renderer()
    axes.xaxis.set_minor_locator(FixedLocator([x for x, _ in ticks]))
    axes.tick_params(axis="x", which="minor", length=4)
    every = 0
    while ticks:
        chosen = _new_seconds(ticks[:: max(every, 1)])
        axes.set_xticks([x for x, _ in chosen], _time_texts([t for _, t in chosen]))
        figure.draw_without_rendering()  # the ticks and limits as they will be saved
        boxes = [t.get_window_extent(renderer) for t in axes.get_xticklabels()]
        if not any(touch(a, b) for a, b in itertools.pairwise(boxes)):
            return
        if every == 0:  # first, how many slots the widest label needs; then one more at a time
            left, right = axes.transData.transform([(1, 0), (2, 0)])[:, 0]
            every = max(2, math.ceil((max(b.width for b in boxes) + GAP_PX) / abs(right - left)))
        else:
            every += 1
    axes.set_xticks([])
    figure.draw_without_rendering()


def _new_seconds(ticks: Sequence[tuple[float, datetime]]) -> list[tuple[float, datetime]]:
    """The ticks whose time, to the second, differs from the one labelled before: a burst of
    decisions in one second gets one label, not a row of the same one."""
    kept: list[tuple[float, datetime]] = []
    for x, moment in ticks:
        if not kept or moment.replace(microsecond=0) != kept[-1][1].replace(microsecond=0):
            kept.append((x, moment))
    return kept


def _time_texts(times: Sequence[datetime]) -> list[str]:
    texts, day = [], None
    for moment in times:
        text = moment.strftime("%H:%M:%S")
        if moment.date() != day:
            day = moment.date()
            text += "\n" + moment.strftime("%Y-%m-%d")
        texts.append(text)
    return texts


def place_labels(
    figure: Any, axes: Any, labels: Sequence[Label], markers: Sequence[tuple[float, float]]
) -> int:
    """Annotate each label at the first free spot beside its point (see the module docstring);
    `markers` are the points drawn, which no label may cover. Returns how many labels found no
    free spot and were left out."""
    renderer = figure.canvas.get_renderer()
    words = [t.get_window_extent(renderer) for t in texts(figure)]
    shapes = [_marker_box(axes, x, y) for x, y in markers] + _line_boxes(axes)
    inside = axes.get_window_extent(renderer)
    left_out = 0
    for label in labels:
        placed = _place(axes, renderer, label, words, shapes, inside)
        if placed is None:
            left_out += 1
        else:
            text_box, whole = placed
            words.append(text_box)
            shapes.append(whole)  # its stroke, too, is kept clear of the next labels' texts
    return left_out


def _place(
    axes: Any, renderer: Any, label: Label, words: list[Any], shapes: list[Any], inside: Any
) -> tuple[Any, Any] | None:
    """The label at its first free spot: (the text's box, the box with its stroke), or None."""
    from matplotlib.text import Text

    for dx, dy in (*_NEAR, *_FAR):
        far = (dx, dy) in _FAR
        note = axes.annotate(
            label.text,
            (label.x, label.y),
            textcoords="offset points",
            xytext=(dx, dy),
            ha="center" if dx == 0 else ("left" if dx > 0 else "right"),
            va="bottom" if dy > 0 else "top",
            fontsize="small",
            color=label.color,
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
            arrowprops={"arrowstyle": "-", "color": label.color, "lw": 0.6, "shrinkB": 5}
            if far
            else None,
        )
        whole = note.get_window_extent(renderer)  # also moves the text to its spot
        text_box = Text.get_window_extent(note, renderer)  # the words alone, not the stroke
        free = not any(touch(text_box, other) for other in (*words, *shapes))
        if free and _within(text_box, inside) and not any(touch(whole, w) for w in words):
            return text_box, whole
        note.remove()
    return None


def texts(figure: Any) -> list[Any]:
    """Every text the figure shows: the title, axis and tick labels, the legend's, the labels."""
    from matplotlib.text import Text

    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _marker_box(axes: Any, x: float, y: float) -> Any:
    from matplotlib.transforms import Bbox

    cx, cy = axes.transData.transform((x, y))
    return Bbox.from_extents(cx - 5, cy - 5, cx + 5, cy + 5)


def _line_boxes(axes: Any) -> list[Any]:
    """A thin box around every straight piece of every line drawn (the champion's steps, the
    floor, the re-scored strokes), so no label is put across one."""
    from matplotlib.cbook import STEP_LOOKUP_MAP
    from matplotlib.transforms import Bbox

    boxes = []
    for line in axes.get_lines():
        xs, ys = STEP_LOOKUP_MAP[line.get_drawstyle()](line.get_xdata(), line.get_ydata())
        shown = axes.transData.transform(list(zip(xs, ys, strict=True)))
        for (x0, y0), (x1, y1) in itertools.pairwise(shown):
            if all(map(math.isfinite, (x0, y0, x1, y1))):
                box = Bbox.from_extents(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
                boxes.append(box.padded(1.0))
    return boxes


def touch(a: Any, b: Any) -> bool:
    """Whether two boxes overlap or come closer than `GAP_PX`."""
    return bool(a.padded(GAP_PX / 2).overlaps(b.padded(GAP_PX / 2)))


def _within(box: Any, outer: Any) -> bool:
    return bool(
        box.x0 >= outer.x0 and box.x1 <= outer.x1 and box.y0 >= outer.y0 and box.y1 <= outer.y1
    )
