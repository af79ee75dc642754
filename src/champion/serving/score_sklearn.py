"""The entry script `champion serve` uses when none is given: Azure ML's scoring contract for a
joblib/scikit-learn model.

An entry script defines `init()`, called once per server worker, and `run(raw_data)`, called per
request with the request body as text; what `run` returns is sent back as JSON. This one loads
the model from `AZUREML_MODEL_DIR` (the deployed version's folder, as Azure ML sets it) through
`champion.scoring.load_model`, so it finds the model file as the score step does, and answers a
request `{"data": [[5.1, 3.5, 1.4, 0.2], ...]}` (or rows as objects keyed by feature name) with
the list of predictions. A request it cannot read is answered 400 with `{"message": ...}`
saying what was expected; the server stays up. Copy it as the start of your own `score.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

model: Any = None


def init() -> None:
    global model
    from champion import _env
    from champion.scoring import load_model

    folder = _env.azureml_model_dir()
    if not folder:
        raise RuntimeError("AZUREML_MODEL_DIR is not set: this script runs inside a deployment")
    model = load_model(Path(folder))


def run(raw_data: str) -> Any:
    from azureml_inference_server_http.api.aml_response import AMLResponse

    from champion.errors import InputError
    from champion.scoring import frame_from_request

    try:
        frame = frame_from_request(model, raw_data)
    except InputError as exc:
        return AMLResponse({"message": exc.message}, 400, json_str=True)
    return model.predict(frame).tolist()
