"""`champion models convert-onnx`: a registered scikit-learn version converted to ONNX, checked
against scikit-learn on a sample, and registered as `NAME-onnx` with its lineage.

Why a check, and why it can refuse: ONNX runtimes compute in float32 and break ties their own
way, so a converted model can answer differently from the one the gate promoted (a k-nearest-
neighbours model whose neighbours tie at the k-th distance is one: its probabilities move by
1/k). Serving that copy would serve a model nobody evaluated. So the conversion is registered
only when onnxruntime, on every row of the sample, gives the same labels as scikit-learn and
class probabilities within `TOLERANCE` (1e-5) of its `predict_proba` (when it has one); the
figures of that check are stored on the new version, with `converted_from` = `NAME:version`.
Otherwise nothing is registered and the error says which rows differ.

The model is loaded only from a verified download (see `champion.scoring` for what that
trusts). `skl2onnx`, `onnx` and `onnxruntime` (the `[onnx]` extra) are imported only here, and
only when a conversion runs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from champion import names
from champion.errors import InfrastructureError, InputError
from champion.registry import NewVersion, Registry

__all__ = ["ONNX_FILE", "TOLERANCE", "Check", "Conversion", "check", "convert", "to_onnx"]

TOLERANCE = 1e-5
ONNX_FILE = "model.onnx"
INPUT_NAME = "input"


@dataclass(frozen=True)
class Check:
    """onnxruntime against scikit-learn on the sample: rows compared, labels that differ (their
    row numbers, at most the first ten), the largest probability difference (None when the
    model has no `predict_proba`)."""

    rows: int
    label_mismatches: tuple[int, ...]
    max_probability_diff: float | None
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        close = self.max_probability_diff is None or self.max_probability_diff <= self.tolerance
        return not self.label_mismatches and close

    def properties(self) -> dict[str, str]:
        """The figures, as the properties stored on the ONNX version."""
        return {
            "onnx_check.rows": str(self.rows),
            "onnx_check.labels_equal": str(not self.label_mismatches),
            "onnx_check.max_probability_diff": (
                "-" if self.max_probability_diff is None else repr(self.max_probability_diff)
            ),
            "onnx_check.tolerance": repr(self.tolerance),
        }


@dataclass(frozen=True)
class Conversion:
    """What `convert` registered."""

    source: str  # NAME:version
    name: str  # NAME-onnx
    version: int
    check: Check
    model_type: str


def require_onnx() -> None:
    from champion._extras import is_installed, missing_message

    if not is_installed("onnx"):
        raise InfrastructureError(
            missing_message("onnx"),
            field="onnx",
            value="skl2onnx",
        )


def to_onnx(model: Any, features: int) -> bytes:
    """The ONNX graph of a fitted scikit-learn model taking `features` float32 columns; class
    probabilities come out as a plain tensor (no ZipMap), so they can be compared."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(model): {"zipmap": False}} if hasattr(model, "classes_") else None
    try:
        graph = convert_sklearn(
            model, initial_types=[(INPUT_NAME, FloatTensorType([None, features]))], options=options
        )
    except Exception as exc:  # skl2onnx raises several kinds for a model it cannot convert
        raise InputError(
            f"skl2onnx cannot convert a {type(model).__name__} ({type(exc).__name__}: {exc}); "
            "nothing was registered",
            field="model",
            value=type(model).__name__,
        ) from exc
    return bytes(graph.SerializeToString())


def run_onnx(onnx: bytes, frame: Any) -> list[Any]:
    """onnxruntime's outputs (labels first, then probabilities for a classifier) on `frame`."""
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    return list(session.run(None, {INPUT_NAME: frame.to_numpy(dtype=np.float32)}))


def check(model: Any, onnx: bytes, frame: Any) -> Check:
    """Compare onnxruntime with scikit-learn on every row of `frame` (the model's features)."""
    import numpy as np

    outputs = run_onnx(onnx, frame)
    expected = model.predict(frame)
    got: Any = np.asarray(outputs[0]).reshape(len(frame), -1)[:, 0]
    if getattr(model, "_estimator_type", None) == "regressor" or not hasattr(model, "classes_"):
        differs = ~np.isclose(np.asarray(got, dtype=float), expected, rtol=0, atol=TOLERANCE)
    else:
        differs = np.asarray([str(a) != str(b) for a, b in zip(got, expected, strict=True)])
    mismatches = tuple(int(i) for i in np.flatnonzero(differs)[:10])
    diff = None
    if callable(getattr(model, "predict_proba", None)) and len(outputs) > 1:
        diff = float(np.max(np.abs(np.asarray(outputs[1]) - model.predict_proba(frame))))
    return Check(rows=len(frame), label_mismatches=mismatches, max_probability_diff=diff)


def convert(registry: Registry, name: str, version: int | None, sample: Path) -> Conversion:
    """Download `name` (`version`, else the champion) verified, convert it, check it on the
    `sample` CSV, and register the ONNX file as `NAME-onnx` in one call."""
    import pandas as pd

    from champion._validation import validate_model_name
    from champion.artifact import inspect_artifact
    from champion.scoring import feature_frame, load_model

    require_onnx()
    target = validate_model_name(f"{name}-onnx")
    if not sample.is_file():
        raise InputError(f"sample file not found: {sample}", field="--sample", value=str(sample))
    try:
        frame = pd.read_csv(sample)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{sample}: not a readable CSV file: {exc}", field="--sample", value=str(sample)
        ) from exc
    if frame.empty:
        raise InputError(f"{sample} has no rows to check with", field="--sample", value=str(sample))
    if version is None:
        champion = registry.champion(name)
        if champion is None:
            from champion.registry.absent import no_champion

            raise no_champion(registry, name)
        version = champion.version
    with tempfile.TemporaryDirectory(prefix="champion-onnx-") as tmp:
        model = load_model(registry.download(name, version, Path(tmp) / "model"))
        features = feature_frame(model, frame, None, sample.name)
        onnx = to_onnx(model, features.shape[1])
        result = check(model, onnx, features)
        if not result.passed:
            raise InputError(_refusal(name, version, model, result, features), field="model")
        path = Path(tmp) / ONNX_FILE
        path.write_bytes(onnx)
        source = f"{name}:{version}"
        properties = {
            names.CONVERTED_FROM: source,
            names.ARTIFACT_SHA256: inspect_artifact(path).sha256,
            names.MODEL_TYPE: type(model).__name__,
            **result.properties(),
            "onnx_check.sample": sample.name,
            "skl2onnx_version": metadata.version("skl2onnx"),
            "onnxruntime_version": metadata.version("onnxruntime"),
        }
        registered = registry.register(
            NewVersion(
                name=target,
                path=str(path),
                run=None,
                properties=properties,
                tags={names.CONVERTED_FROM: source},
                description=f"ONNX conversion of {source}, checked on {sample.name}",
                framework="Onnx",
                framework_version=_onnx_opset(onnx),
            )
        )
    return Conversion(source, target, registered, result, type(model).__name__)


def _refusal(name: str, version: int, model: Any, result: Check, frame: Any) -> str:
    what = []
    if result.label_mismatches:
        rows = ", ".join(str(r + 1) for r in result.label_mismatches)
        what.append(f"labels differ on data row(s) {rows}")
    if result.max_probability_diff is not None and result.max_probability_diff > TOLERANCE:
        what.append(
            f"class probabilities differ by up to {result.max_probability_diff:.6g} "
            f"(allowed {TOLERANCE:g})"
        )
    return (
        f"the ONNX conversion of {name}:{version} ({type(model).__name__}) does not predict "
        f"what scikit-learn predicts on the {result.rows} sample rows: {'; '.join(what)}; "
        "nothing was registered"
    )


def _onnx_opset(onnx: bytes) -> str:
    """The default-domain opset of the graph, as the ONNX version's framework version."""
    import onnx as onnx_format

    graph = onnx_format.load_from_string(onnx)
    return next((str(o.version) for o in graph.opset_import if o.domain in ("", "ai.onnx")), "")
