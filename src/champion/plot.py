"""`champion models history NAME --plot FILE.png`: the champion's metric, decision by decision.

What it shows: the champion's value as a step line (it changes only when a challenger wins or a
rollback restores a version), every challenger as a point (promoted filled and labelled with its
version, rejected a cross, a dry run hollow, a rollback a diamond), the champion's value as a
decision measured it when that differs from the line (a `--rescore-champion` decision scores the
champion on the challenger's data: a tie there is drawn as a tie, not as a loss to the stored
number), and, when the policy has them, the floor as a dashed line and the margin band above
(or, lower-is-better, below) the champion: what a challenger must clear (`min_delta`, or
`min_relative` of the champion's value, whichever is larger). The policy is the one each
decision recorded, so a policy that changed over time is drawn as it changed.

Layout, and why: x is the **decision order**, one slot per decision, labelled with the time it
was decided. A gate's history comes in bursts (a CI job retried, a rollback a minute after a
promotion, thirty builds in a morning and none for a week), and on a time axis a burst collapses
into one spot where points hide each other; in order, every decision has its own place and the
labels still say when. Texts never overlap (`champion._plot_labels`): the time labels are
thinned to every k-th decision as their measured widths need, the legend sits below the axes,
and each version label is put beside its point where it collides with no other text, marker or
line, or left out and counted (the table names every version).

matplotlib is the optional extra `champion[plot]`: imported here only, when a plot is asked for
(`require_matplotlib` first, so a missing extra fails before anything else happens), and drawn
with the Agg canvas on a `Figure` of its own: no pyplot, no global backend switch, nothing
changed in a caller's process. The file is written to a temp name beside it and renamed, so a
failure leaves no half-written PNG.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from champion._plot_labels import Label, place_labels, thin_time_labels
from champion.errors import ChampionError
from champion.history import CHAMPION_MAKING, DRY_RUNS, History, policy_terms

__all__ = [
    "DPI",
    "SIZE_INCHES",
    "PlotSummary",
    "history_figure",
    "plot_history",
    "require_matplotlib",
]

SIZE_INCHES = (8.0, 4.5)
DPI = 100
"""800 x 450 pixels: readable in a README, small as a file (a few tens of KB)."""

_AXES = {"left": 0.085, "right": 0.975, "top": 0.92}
"""Fixed (the bottom from the legend's rows), so every extent measured while placing labels is
the one saved."""
_LEGEND_COLUMNS = 4
_BOTTOM = (0.18, 0.045)
"""The axes' bottom: room for the time labels and the axis label, then for each legend row."""


@dataclass(frozen=True)
class PlotSummary:
    """What was drawn, for the command's one line."""

    path: Path
    width: int
    height: int
    metric: str
    promoted: int
    rolled_back: int
    rejected: int
    dry_runs: int
    not_drawn: int
    """Lines without a time or a numeric value of the metric, and retries' restatements."""
    labels_left_out: int = 0
    """Version labels with no free spot beside their point (the table names every version)."""


def require_matplotlib() -> Any:
    """matplotlib, or a ChampionError (exit 3: this installation lacks a part) that says how to
    install it."""
    try:
        import matplotlib
    except ImportError as exc:
        from champion._extras import missing_message

        raise ChampionError(
            missing_message("plot", detail=str(exc)),
            field="--plot",
            value="matplotlib",
        ) from None
    return matplotlib


def plot_history(history: History, path: Path, metric: str | None = None) -> PlotSummary:
    """Draw `history` into the PNG `path` (replaced atomically). `metric` defaults to the
    primary metric of the newest decision."""
    figure, shown, points, left_out = _figure(history, metric)
    _save(figure, path)
    return PlotSummary(
        path=path,
        width=round(SIZE_INCHES[0] * DPI),
        height=round(SIZE_INCHES[1] * DPI),
        metric=shown,
        promoted=sum(p.kind == "promoted" for p in points),
        rolled_back=sum(p.kind == "rolled_back" for p in points),
        rejected=sum(p.kind == "rejected" for p in points),
        dry_runs=sum(p.kind in DRY_RUNS for p in points),
        not_drawn=len(history.entries) - len(points),
        labels_left_out=left_out,
    )


def history_figure(history: History, metric: str | None = None) -> Any:
    """The matplotlib `Figure` `plot_history` saves, drawn and laid out (for a caller that
    embeds it, and for tests that measure it)."""
    return _figure(history, metric)[0]


def _figure(history: History, metric: str | None) -> tuple[Any, str, list[_Point], int]:
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = metric or (history.entries[-1].metric if history.entries else "accuracy")
    points = _points(history, shown)
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    _draw_policy(axes, points)
    _draw_champion(axes, points)
    _draw_measured_champion(axes, points)
    _draw_challengers(axes, points)

    direction = next((p.terms.direction for p in reversed(points)), "higher")
    axes.set_ylabel(f"{shown} ({direction} is better)")
    axes.set_xlabel("decisions in order, each at the time it was decided (UTC)")
    axes.set_title(f"{history.name}: {shown}, the champion and every challenger")
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_xlim(0.4, max(len(points), 1) + 0.6)
    axes.margins(y=0.15)  # room for the version labels above the top point and below the lowest
    handles, labels = axes.get_legend_handles_labels()
    rows = math.ceil(len(handles) / _LEGEND_COLUMNS)
    figure.subplots_adjust(**_AXES, bottom=_BOTTOM[0] + _BOTTOM[1] * rows)
    if handles:  # below the axis label, across the figure: never over a point or a label
        figure.legend(
            handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=_LEGEND_COLUMNS,
            fontsize="small", frameon=False,
        )  # fmt: skip
    thin_time_labels(figure, axes, [(p.x, p.time) for p in points])
    labels = [
        Label(p.x, p.value, p.label, "tab:purple" if p.kind == "rolled_back" else "tab:green")
        for p in points
        if p.label is not None
    ]
    markers = [(p.x, p.value) for p in points]
    markers += [(p.x, p.measured) for p in points if p.measured is not None]
    left_out = place_labels(figure, axes, labels, markers)
    return figure, shown, points, left_out


# ---------------------------------------------------------------------- what is drawn


@dataclass(frozen=True)
class _Point:
    x: int  # the decision's place in order, from 1
    time: datetime
    value: float
    kind: str  # promoted | rolled_back | rejected | would_promote | would_reject | other
    champion: float | None  # the champion after this line
    measured: float | None  # the champion's value as this decision compared it
    terms: Any  # PolicyTerms of the line's policy for the metric
    label: str | None  # the version the line made champion: "v2", or "v3 = v1" for a rollback


def _points(history: History, metric: str) -> list[_Point]:
    """One point per decision that has a time and a value; a retry's `already_registered`
    restates a registration already drawn, so it takes no place of its own."""
    points: list[_Point] = []
    champion: float | None = None
    for entry in history.entries:
        challenger, compared = history.values(entry, metric)
        value = _float(challenger)
        if entry.time is None or value is None or entry.outcome == "already_registered":
            continue
        before = champion
        if entry.outcome in CHAMPION_MAKING:
            kind = "rolled_back" if entry.outcome == "rolled_back" else "promoted"
            champion = value
        elif entry.outcome in DRY_RUNS or entry.outcome == "rejected":
            kind = entry.outcome
        else:
            kind = "other"
        measured = _float(compared)
        if measured is not None and before is not None and math.isclose(measured, before):
            measured = None  # on the line already
        label = None
        if kind in ("promoted", "rolled_back") and entry.registered_version is not None:
            label = f"v{entry.registered_version}"
            source = entry.record.get("rollback_of") if entry.record else None
            if kind == "rolled_back" and source not in (None, entry.registered_version):
                label += f" = v{source}"
        terms = policy_terms(entry.policy, metric)
        points.append(
            _Point(len(points) + 1, entry.time, value, kind, champion, measured, terms, label)
        )
    return points


def _steps(points: list[_Point], values: list[float]) -> tuple[list[float], list[float]]:
    """x and y of a step line over the decisions, held to the right edge of the last slot."""
    xs = [float(p.x) for p in points] + [points[-1].x + 0.6]
    return xs, [*values, values[-1]]


def _draw_champion(axes: Any, points: list[_Point]) -> None:
    held = [p for p in points if p.champion is not None]
    if not held:
        return
    xs, ys = _steps(held, [p.champion for p in held if p.champion is not None])
    axes.step(xs, ys, where="post", color="tab:blue", linewidth=2, label="champion")


def _draw_measured_champion(axes: Any, points: list[_Point]) -> None:
    """Where a decision measured the champion elsewhere than the line (re-scored on the
    challenger's data): a hollow square there, joined to the line by a dotted stroke."""
    measured = [p for p in points if p.measured is not None]
    if not measured:
        return
    previous = {p.x: q.champion for q, p in itertools.pairwise(points)}
    for p in measured:
        line = previous.get(p.x)
        if line is not None:
            axes.plot([p.x, p.x], [line, p.measured], color="tab:blue", linestyle=":", lw=1)
    axes.scatter(
        [p.x for p in measured],
        [p.measured for p in measured],
        s=90,
        marker="s",
        facecolors="none",
        edgecolors="tab:blue",
        zorder=3,
        label="champion, re-scored on the challenger's data",
    )


def _draw_policy(axes: Any, points: list[_Point]) -> None:
    """The floor (dashed) and the min-delta band each decision's policy set, as step lines."""
    if not points:
        return
    floors = [p.terms.floor if p.terms.floor is not None else float("nan") for p in points]
    if any(p.terms.floor is not None for p in points):
        xs, ys = _steps(points, floors)
        axes.step(xs, ys, where="post", color="tab:gray", linestyle="--", label="floor")
    if any(p.champion is not None and p.terms.margin(p.champion) for p in points):
        low, high = [], []
        for p in points:
            margin = p.terms.margin(p.champion) if p.champion is not None else 0.0
            if p.champion is None or not margin:
                low.append(float("nan"))
                high.append(float("nan"))
                continue
            edge = p.champion + (margin if p.terms.direction == "higher" else -margin)
            low.append(min(p.champion, edge))
            high.append(max(p.champion, edge))
        xs, lows = _steps(points, low)
        _, highs = _steps(points, high)
        axes.fill_between(
            xs, lows, highs, step="post", color="tab:blue", alpha=0.15, label="margin to beat"
        )


_STYLE = {
    "promoted": {"marker": "o", "color": "tab:green", "label": "promoted"},
    "rejected": {"marker": "x", "color": "tab:red", "label": "rejected"},
    "rolled_back": {"marker": "D", "color": "tab:purple", "label": "rolled back to"},
    "would_promote": {
        "marker": "o",
        "facecolors": "none",
        "edgecolors": "tab:green",
        "label": "dry run: would promote",
    },
    "would_reject": {
        "marker": "o",
        "facecolors": "none",
        "edgecolors": "tab:red",
        "label": "dry run: would reject",
    },
    "other": {"marker": "s", "color": "tab:gray", "label": "other outcome"},
}


def _draw_challengers(axes: Any, points: list[_Point]) -> None:
    for kind, style in _STYLE.items():
        chosen = [p for p in points if p.kind == kind]
        if chosen:
            axes.scatter([p.x for p in chosen], [p.value for p in chosen], s=48, zorder=4, **style)


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _save(figure: Any, path: Path) -> None:
    """A temp file in the target's folder, then one rename: no half-written PNG, ever."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        with open(temp, "xb") as out:  # created with the umask's mode, as the PNG will have
            figure.savefig(
                out,
                format="png",
                dpi=DPI,
                metadata={"Software": None},
                pil_kwargs={"optimize": True},
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
