"""A submitted pipeline run, read back: the decision its register step recorded, checked against
the run's tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from champion.record import CHAMPION_TAGS, newest_record, tags_for

#: Pipeline run statuses that mean success (pipelines service, run history).
SUCCESS_STATUSES = frozenset({"Finished", "Completed"})


@dataclass(frozen=True)
class RunOutcome:
    """How a submitted pipeline run ended and the decision record its register step left."""

    run_id: str
    status: str
    record: dict[str, Any] | None
    problems: tuple[str, ...]

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS_STATUSES and self.record is not None and not self.problems


def wait_for_decision(run: Any, *, show_output: bool = True) -> RunOutcome:
    """Wait for `run` to end, then read the decision from the run itself: the newest JSON
    record the register step uploaded (`outputs/champion_decision.json`, or
    `outputs/champion_decision.<n>.json` when a retry decided differently) and the run's
    `champion.*` tags, which must describe exactly that record (`record.tags_for`): a step
    stopped between uploading a new record and tagging the run leaves tags that name an older
    record, and that is reported rather than trusted. A run that failed may still carry a
    decision (a rejection with --fail-on-reject), so the record is read whatever the status."""
    status = str(run.wait_for_completion(show_output=show_output, raise_on_error=False))
    newest = newest_record(run)
    problems: list[str] = []
    if newest is None:
        problems.append(f"run {run.id} ({status}) has no decision record; see its register step")
        return RunOutcome(str(run.id), status, None, tuple(problems))
    name, record = newest
    expected = tags_for(name, record)
    tags = {k: str(v) for k, v in (run.get_tags() or {}).items() if k in CHAMPION_TAGS}
    for tag in sorted(expected.keys() | tags.keys()):
        if tags.get(tag) != expected.get(tag):
            problems.append(
                f"run {run.id}: tag {tag}={tags.get(tag)!r} disagrees with the decision record "
                f"{name} ({expected.get(tag)!r})"
            )
    return RunOutcome(str(run.id), status, record, tuple(problems))
