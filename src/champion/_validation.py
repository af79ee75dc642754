"""Check a user-supplied model name before anything touches the run or the registry.

Why up front: a step that uploads first and validates later leaves half its work behind when it
refuses. The gate checks the name and the model path (`champion.artifact.inspect_artifact`)
before its first upload, so bad input changes nothing.
"""

from __future__ import annotations

from champion.errors import InputError
from champion.names import MODEL_NAME as _MODEL_NAME

# azureml-core's model_name_validation, so a name we accept is one Azure ML accepts.
MODEL_NAME = _MODEL_NAME


def validate_model_name(name: str) -> str:
    if not MODEL_NAME.fullmatch(name):
        raise InputError(
            f"model name {name!r} is invalid: use 1-255 letters, digits, '-', '.' or '_', "
            "starting with a letter or digit (Azure ML's rule)",
            field="model_name",
            value=name,
        )
    return name
