"""Find the champion's metric, whichever backend the run belongs to."""

from champion.context import model_class


def champion_metric(run, model_name, metric):
    """The latest registered version's metric, or None when there is no champion."""
    workspace = run.experiment.workspace
    try:
        model = model_class(workspace)(workspace, model_name)
    except Exception as exc:
        if "ModelNotFound" in getattr(exc, "message", str(exc)):
            return None
        raise
    return float(model.properties[metric])
