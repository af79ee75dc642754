"""Find the champion's metric, whichever backend the run belongs to."""

from champion.context import get_registry


def champion_metric(run, model_name, metric):
    """The latest registered version's metric, or None when there is no champion."""
    champion = get_registry(run.experiment.workspace).champion(model_name)
    return None if champion is None else float(champion.properties[metric])
