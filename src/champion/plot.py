"""`champion models history NAME --plot FILE.png`: the champion's metric over time, as a picture.

What it shows: the champion's value as a step line (it changes only when a challenger wins),
every challenger as a point (promoted filled, rejected a cross, a dry run hollow, a rollback a
diamond), and, when the policy has them, the floor as a dashed line and the margin band above
(or, lower-is-better, below) the champion: what a challenger must clear (`min_delta`, or
`min_relative` of the champion's value, whichever is larger). The policy is the one each decision
recorded, so a policy that changed over time is drawn as it changed.

matplotlib is the optional extra `champion[plot]`: imported here only, when a plot is asked for
(`require_matplotlib` first, so a missing extra fails before anything else happens), and drawn
with the Agg canvas on a `Figure` of its own: no pyplot, no global backend switch, nothing
changed in a caller's process. The file is written to a temp name beside it and renamed, so a
failure leaves no half-written PNG.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from champion.errors import ChampionError
from champion.history import CHAMPION_MAKING, DRY_RUNS, History, policy_terms

__all__ = ["DPI", "SIZE_INCHES", "PlotSummary", "plot_history", "require_matplotlib"]

SIZE_INCHES = (8.0, 4.5)
DPI = 100
"""800 x 450 pixels: readable in a README, small as a file (a few tens of KB)."""


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
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    shown = metric or (history.entries[-1].metric if history.entries else "accuracy")
    points = _points(history, shown)
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    _draw_policy(axes, points)
    _draw_champion(axes, points)
    _draw_challengers(axes, points)

    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    direction = next((p.terms.direction for p in reversed(points)), "higher")
    axes.set_ylabel(f"{shown} ({direction} is better)")
    axes.set_xlabel("decided (UTC)")
    axes.set_title(f"{history.name}: {shown}, the champion and every challenger")
    axes.grid(True, alpha=0.3)
    axes.margins(x=0.04, y=0.12)  # room for the version labels above the top point
    if points:
        axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    _save(figure, path)

    counted = [p for p in points if p.kind != "restated"]
    return PlotSummary(
        path=path,
        width=round(SIZE_INCHES[0] * DPI),
        height=round(SIZE_INCHES[1] * DPI),
        metric=shown,
        promoted=sum(p.kind == "promoted" for p in counted),
        rolled_back=sum(p.kind == "rolled_back" for p in counted),
        rejected=sum(p.kind == "rejected" for p in counted),
        dry_runs=sum(p.kind in DRY_RUNS for p in counted),
        not_drawn=len(history.entries) - len(counted),
    )


# ---------------------------------------------------------------------- what is drawn


@dataclass(frozen=True)
class _Point:
    time: datetime
    value: float
    kind: str  # promoted | rolled_back | rejected | would_promote | would_reject | restated | other
    outcome: str
    champion: float | None  # the champion after this line
    terms: Any  # PolicyTerms of the line's policy for the metric
    version: int | None  # the version the line registered


def _points(history: History, metric: str) -> list[_Point]:
    points: list[_Point] = []
    champion: float | None = None
    for entry in history.entries:
        challenger, _ = history.values(entry, metric)
        value = _float(challenger)
        if entry.time is None or value is None:
            continue
        if entry.outcome == "rolled_back":
            kind, champion = "rolled_back", value
        elif entry.outcome in CHAMPION_MAKING:
            kind, champion = "promoted", value
        elif entry.outcome == "already_registered":
            kind = "restated"  # the retry of a registration: its line is already drawn
        elif entry.outcome in DRY_RUNS:
            kind = entry.outcome
        elif entry.outcome == "rejected":
            kind = "rejected"
        else:
            kind = "other"
        terms = policy_terms(entry.policy, metric)
        point = _Point(
            entry.time, value, kind, entry.outcome, champion, terms, entry.registered_version
        )
        points.append(point)
    return points


def _draw_champion(axes: Any, points: list[_Point]) -> None:
    times = [p.time for p in points if p.champion is not None]
    values = [p.champion for p in points if p.champion is not None]
    if not times:
        return
    axes.step(times, values, where="post", color="tab:blue", linewidth=2, label="champion")


def _draw_policy(axes: Any, points: list[_Point]) -> None:
    """The floor (dashed) and the min-delta band each decision's policy set, as step lines."""
    times = [p.time for p in points]
    floors = [p.terms.floor if p.terms.floor is not None else float("nan") for p in points]
    if any(p.terms.floor is not None for p in points):
        axes.step(times, floors, where="post", color="tab:gray", linestyle="--", label="floor")
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
        axes.fill_between(
            times, low, high, step="post", color="tab:blue", alpha=0.15, label="margin to beat"
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
            axes.scatter(
                [p.time for p in chosen], [p.value for p in chosen], s=48, zorder=3, **style
            )
    for p in points:  # each version the gate registered, named where it became champion
        if p.kind in ("promoted", "rolled_back") and p.version is not None:
            axes.annotate(
                f"v{p.version}",
                (p.time, p.value),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize="small",
                color="tab:purple" if p.kind == "rolled_back" else "tab:green",
            )


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
