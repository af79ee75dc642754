"""`champion models history NAME --plot FILE.png` on histories that crowd a time axis: thirty
decisions in a minute (promotions, ties, rejections, rollbacks, dry runs, re-scored champions),
and the README's sample story made through the real gate. Every decision gets a place of its own,
no two texts of the figure overlap (matplotlib's own extents), and a champion re-scored on a
challenger's data is drawn at the value that decision measured, not at its stored one."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from champion.history import History, model_history
from champion.registry import DecisionEntry

pytest.importorskip("matplotlib")

POLICY = {"metric": "accuracy", "direction": "higher", "min_delta": "0.01", "floor": "0.8"}
RESCORED = "champion, re-scored on the challenger's data"


def crowded() -> tuple[History, dict[int, float]]:
    """Thirty decisions two seconds apart across midnight; returns the history and, for each
    re-scored decision (by its place, from 1), the champion's value it measured."""
    start = datetime(2026, 11, 29, 23, 59, 31, tzinfo=UTC)
    entries: list[DecisionEntry] = []
    measured: dict[int, float] = {}
    champion: float | None = None
    version = holder = 0

    def line(outcome: str, value: float, compared: float | None, **record: Any) -> None:
        nonlocal champion, version, holder
        registered = None
        if outcome in ("first", "promoted", "rolled_back"):
            version += 1
            registered, champion = version, value
        entries.append(
            DecisionEntry(
                time=start + timedelta(seconds=2 * len(entries)),
                run_id=f"run-{len(entries)}",
                outcome=outcome,
                metric="accuracy",
                challenger=repr(value),
                champion=None if compared is None else repr(compared),
                champion_version=holder or None,
                registered_version=registered,
                build_number="ci",
                reason="reason",
                policy=POLICY,
                record=record,
                record_name="outputs/champion_decision.json",
            )
        )
        holder = registered or holder

    line("first", 0.9, None)
    for round_ in range(5):
        assert champion is not None
        line("promoted", round(champion + 0.011, 3), champion)
        line("promoted", round(champion + 0.012, 3), champion)  # two wins back to back
        line("rejected", champion, champion)  # a tie keeps the champion
        low = round(0.55 + 0.02 * round_, 3)
        measured[len(entries) + 1] = low  # re-scored on the challenger's data: a tie there
        line("rejected", low, low, rescored={"metrics": {"accuracy": {}}})
        line("would_reject", round(champion - 0.004, 3), champion)
        line("rolled_back", round(champion - 0.023, 3), champion, rollback_of=version - 1)
    assert len(entries) == 31
    entries.pop()  # thirty: the last rollback is not needed
    assert entries[-1].time - entries[0].time <= timedelta(minutes=1)
    return History("crowded", entries, []), measured


def drawn(history: History) -> tuple[Any, Any, list[Any]]:
    """The figure `--plot` saves, rendered, its renderer and every text it shows."""
    from matplotlib.text import Text

    from champion.plot import history_figure

    figure = history_figure(history)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    shown = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return figure, renderer, shown


def text_box(text: Any, renderer: Any) -> Any:
    """The box of a text's own glyphs (an annotation's stroke to its point is not a text)."""
    from matplotlib.text import Text

    return Text.get_window_extent(text, renderer)


def test_a_crowded_history_has_no_overlapping_text_and_a_place_for_every_decision() -> None:
    history, measured = crowded()
    figure, renderer, shown = drawn(history)
    axes = figure.axes[0]

    boxes = [(t.get_text(), text_box(t, renderer)) for t in shown]
    clashes = [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
               if box_a.overlaps(box_b)]  # fmt: skip
    assert clashes == []
    whole = figure.bbox
    assert all(box.x0 >= whole.x0 and box.x1 <= whole.x1 and box.y0 >= whole.y0
               and box.y1 <= whole.y1 for _, box in boxes)  # fmt: skip

    # every version the gate made champion is named, a rollback with what it restored
    versions = sorted(t.get_text() for t in shown if t.get_text().startswith("v"))
    made = [e for e in history.entries if e.registered_version is not None]
    assert len(versions) == len(made) == 15
    assert {"v1", "v2", "v3", "v4 = v2", "v7 = v5"} <= set(versions)

    # one place per decision, in order, far enough apart to tell them apart
    from matplotlib.collections import PathCollection

    points = [c for c in axes.collections if isinstance(c, PathCollection)]
    centres = sorted(
        {float(axes.transData.transform((x, y))[0]) for c in points
         if c.get_label() != RESCORED for x, y in c.get_offsets()}
    )  # fmt: skip
    assert len(centres) == 30
    assert min(b - a for a, b in itertools.pairwise(centres)) > 15  # pixels

    # each re-scored champion value is drawn where that decision measured it
    (squares,) = [c for c in axes.collections if c.get_label() == RESCORED]
    assert sorted((int(x), round(float(y), 3)) for x, y in squares.get_offsets()) == sorted(
        measured.items()
    )
    # the time labels say when, with the date where the day changes
    ticks = [t.get_text() for t in axes.get_xticklabels() if t.get_text()]
    assert ticks[0] == "23:59:31\n2026-11-29"
    assert any(t.endswith("\n2026-11-30") for t in ticks[1:])


def test_the_plot_of_a_crowded_history_is_written_and_counted(tmp_path: Path) -> None:
    from champion.plot import plot_history

    history, _ = crowded()
    summary = plot_history(history, tmp_path / "crowded.png")
    assert (summary.promoted, summary.rolled_back, summary.rejected, summary.dry_runs) == (
        11, 4, 10, 5,
    )  # fmt: skip
    assert (summary.not_drawn, summary.labels_left_out) == (0, 0)
    assert (tmp_path / "crowded.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------- through the real gate


def champion_cli(*args: str | Path) -> tuple[int, str, str]:
    from champion.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_a_rescored_tie_made_by_the_gate_is_drawn_as_a_tie(tmp_path: Path, champion: Any) -> None:
    """The README's story in small, through the real gate: a first model, a challenger that
    ties it, one re-scored on noisy rows where both score alike, a win, a rollback. The noisy
    decision's champion is drawn at its re-scored value, beside the challenger's, though its
    stored value is far above; `champion models history --plot` (a process) draws it all."""
    import joblib
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    from champion.context import get_registry
    from champion.local import Workspace
    from champion.testing import create_workspace

    root = Path(__file__).resolve().parents[2]
    ws_path = tmp_path / "ws"
    create_workspace(ws_path)
    frame = pd.read_csv(root / "sample_data" / "iris.csv")
    features = [c for c in frame.columns if c != "species"]
    model = DecisionTreeClassifier(max_depth=1, random_state=0).fit(
        frame[features], frame["species"]
    )
    folder = tmp_path / "model"
    folder.mkdir()
    joblib.dump(model, folder / "model.pkl")
    noisy = tmp_path / "noisy.csv"
    frame.sample(frac=1.0, random_state=1).assign(species="setosa").to_csv(noisy, index=False)

    def register(value: str, *extra: str | Path) -> dict[str, Any]:
        code, out, err = champion_cli(
            "--workspace", ws_path, "--json", "register", "--model-name", "iris",
            "--model-path", folder, "--metric-value", value, *extra,
        )  # fmt: skip
        assert code == 0, err
        return dict(json.loads(out))

    register("0.95")
    register("0.95")  # a tie keeps the champion
    rescored = register("0.95", "--rescore-champion", "--test-data", noisy, "--label-column",
                        "species")  # fmt: skip
    assert rescored["outcome"] == "rejected"  # the same model: a tie on the noisy rows
    assert register("0.97")["outcome"] == "promoted"
    code, _, err = champion_cli("--workspace", ws_path, "models", "rollback", "iris", "--reason",
                                "back to v1")  # fmt: skip
    assert code == 0, err

    history = model_history(get_registry(Workspace(ws_path)), "iris")
    _, value = history.values(history.entries[2])
    assert value is not None and float(value) < 0.95  # the champion, re-scored on noisy rows
    figure, renderer, shown = drawn(history)
    (squares,) = [c for c in figure.axes[0].collections if c.get_label() == RESCORED]
    assert [(int(x), float(y)) for x, y in squares.get_offsets()] == [(3, float(value))]
    boxes = [text_box(t, renderer) for t in shown]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))

    target = tmp_path / "history.png"
    done = champion("models", "history", "iris", "--workspace", ws_path, "--plot", target)
    assert done.returncode == 0, done.stderr
    assert f"plot written to {target} (800x450 PNG" in done.stdout + done.stderr
