"""Contract checks 1-31 (azureml-semantics.md, end): registering, looking up, listing, mutating,
downloading, deleting and serialising models, identically on both faces."""

from __future__ import annotations

from pathlib import Path

import pytest
from azureml.exceptions import (
    ModelNotFoundException,
    ModelPathNotFoundException,
    UserErrorException,
    WebserviceException,
)

from champion.local import AzureMLTrapWarning

from .conftest import Target

INVALID_NAME = "Error, provided model name is invalid."


def _register_versions(target: Target, name: str = "m", count: int = 2) -> list[object]:
    return [target.Model.register(target.ws, "model.pkl", name) for _ in range(count)]


def _empty_dir(target: Target) -> Path:
    out = target.workdir / "out"
    out.mkdir()
    return out


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- versions and lookup


def test_c01_register_twice_gives_versions_1_then_2(target: Target) -> None:
    first, second = _register_versions(target)
    assert (first.version, first.id) == (1, "m:1")
    assert (second.version, second.id) == (2, "m:2")


def test_c02_other_name_starts_at_version_1(target: Target) -> None:
    _register_versions(target)
    other = target.Model.register(target.ws, "model.pkl", "other")
    assert (other.version, other.id) == (1, "other:1")


def test_c03_lookup_latest_and_by_version(target: Target) -> None:
    _register_versions(target, count=3)
    Model, ws = target.Model, target.ws
    assert Model(ws, "m").version == 3
    assert Model(ws, "m", version=1).version == 1
    assert Model(ws, "m", version="1").version == 1
    assert Model(ws, "m", version=2).id == "m:2"


def test_c04_id_wins_then_version_wins(target: Target) -> None:
    Model, ws = target.Model, target.ws
    Model.register(ws, "model.pkl", "m", tags={"t": "1"}, properties={"p": "1"})
    Model.register(ws, "model.pkl", "m", tags={"t": "2"}, properties={"p": "2"})
    Model.register(ws, "model.pkl", "other")
    assert Model(ws, id="m:2").version == 2
    # Azure ignores the other arguments silently; both faces keep that and warn (test_traps.py)
    with pytest.warns(AzureMLTrapWarning, match="ignores name, tags, properties"):
        by_id = Model(ws, "other", id="m:1", version=1, tags=[["t", "2"]], properties=["zzz"])
    assert (by_id.name, by_id.version) == ("m", 1)
    with pytest.warns(AzureMLTrapWarning, match="ignores tags, properties"):
        by_version = Model(ws, "m", version=1, tags=[["t", "2"]], properties=[["p", "2"]])
    assert by_version.id == "m:1"


def test_c05_unknown_name_is_model_not_found(target: Target) -> None:
    with pytest.raises(WebserviceException) as err:
        target.Model(target.ws, "nope")
    assert err.value.message.startswith("ModelNotFound: Model with name nope")
    assert err.value.status_code is None


def test_c06_unknown_version_names_the_id(target: Target) -> None:
    _register_versions(target, count=1)
    with pytest.raises(WebserviceException) as err:
        target.Model(target.ws, "m", version=99)
    assert "Model with id m:99 not found in provided workspace" in err.value.message


def test_c07_not_found_is_not_model_not_found_exception(target: Target) -> None:
    with pytest.raises(WebserviceException) as err:
        target.Model(target.ws, "nope")
    assert not isinstance(err.value, ModelNotFoundException)
    assert "ModelNotFound" in err.value.message


def test_c08_other_model_service_error_is_a_bad_response(target: Target) -> None:
    # A stale Model object passes the client-side property check; the service then refuses
    # the key another writer added (svc: a 409). Both faces produce that non-404 error
    # without any fault injection.
    Model, ws = target.Model, target.ws
    Model.register(ws, "model.pkl", "m")
    fresh, stale = Model(ws, "m"), Model(ws, "m")
    fresh.add_properties({"p": "1"})
    with pytest.raises(WebserviceException) as err:
        stale.add_properties({"p": "2"})
    assert err.value.message.startswith("Received bad response from Model Management Service")
    assert "ModelNotFound" not in err.value.message
    assert err.value.status_code is None
    assert Model(ws, "m").properties == {"p": "1"}


def test_c09_neither_name_nor_id(target: Target) -> None:
    with pytest.raises(WebserviceException) as err:
        target.Model(target.ws)
    assert err.value.message == "Error, one of id or name must be provided."


def test_c10_tag_filters_on_lookup(target: Target) -> None:
    Model, ws = target.Model, target.ws
    Model.register(ws, "model.pkl", "m", tags={"a": "1"})
    Model.register(ws, "model.pkl", "m", tags={"a": "2"})
    Model.register(ws, "model.pkl", "m", tags={"b": "1"})
    assert Model(ws, "m", tags=["a"]).version == 2
    assert Model(ws, "m", tags=[["a", "1"]]).version == 1
    with pytest.raises(TypeError, match="can only concatenate str"):
        Model(ws, "m", tags=[("a", "1")])


def test_c11_list_argument_checks(target: Target) -> None:
    with pytest.raises(UserErrorException) as tags_err:
        target.Model.list(target.ws, tags="a")
    assert "Expected tags must be list type" in tags_err.value.message
    with pytest.raises(UserErrorException) as page_err:
        target.Model.list(target.ws, page_count=5)
    assert "Expected page_count value is between 20 and 255. Provided: 5" in page_err.value.message


def test_c12_list_latest_and_ws_models(target: Target) -> None:
    _register_versions(target, "m", 3)
    _register_versions(target, "other", 2)
    latest = target.Model.list(target.ws, latest=True)
    assert all(isinstance(m, target.Model) for m in latest)
    assert sorted((m.name, m.version) for m in latest) == [("m", 3), ("other", 2)]
    models = target.ws.models
    assert {name: m.id for name, m in models.items()} == {"m": "m:3", "other": "other:2"}


def test_c13_list_by_name_is_newest_first(target: Target) -> None:
    _register_versions(target, "m", 3)
    _register_versions(target, "other", 1)
    assert [m.version for m in target.Model.list(target.ws, name="m")] == [3, 2, 1]


# --------------------------------------------------------------------------- register arguments


def test_c14_model_name_rule(target: Target) -> None:
    for name in ("", "-a", "a b", "a/b", "a:b", "a" * 256):
        with pytest.raises(WebserviceException) as err:
            target.Model.register(target.ws, "model.pkl", name)
        assert err.value.message.startswith(INVALID_NAME), name
    assert target.Model.list(target.ws) == []
    for name in ("ok.name-1_2", "1abc", "a" * 255):
        assert target.Model.register(target.ws, "model.pkl", name).id == f"{name}:1"


def test_c15_framework_version_needs_framework(target: Target) -> None:
    with pytest.raises(WebserviceException) as err:
        target.Model.register(target.ws, "model.pkl", "m", model_framework_version="1")
    assert "Model framework version cannot be provided without a valid framework" in (
        err.value.message
    )


def test_c16_missing_path_and_path_outside_cwd(target: Target) -> None:
    with pytest.raises(FileNotFoundError, match="Path does not exist"):
        target.Model.register(target.ws, "missing.pkl", "m")
    outside = target.workdir.parent / "outside.pkl"
    outside.write_bytes(b"x")
    for path in ("../outside.pkl", str(outside)):
        with pytest.raises(PermissionError, match="Path outside current working directory"):
            target.Model.register(target.ws, path, "m")
    assert target.Model.list(target.ws) == []


def test_c17_tags_and_properties_must_be_dicts(target: Target) -> None:
    with pytest.raises(WebserviceException) as tags_err:
        target.Model.register(target.ws, "model.pkl", "m", tags=["a"])
    assert tags_err.value.message == "Tags must be a dict"
    with pytest.raises(WebserviceException) as props_err:
        target.Model.register(target.ws, "model.pkl", "m", properties=["a"])
    assert props_err.value.message == "Properties must be a dict"


def test_c18_register_stringifies_tag_values(target: Target) -> None:
    model = target.Model.register(target.ws, "model.pkl", "m", tags={"n": 1, "b": True})
    assert model.tags == {"n": "1", "b": "True"}
    assert target.Model(target.ws, "m").tags == {"n": "1", "b": "True"}


# --------------------------------------------------------------------------- download


def test_c19_folder_model_downloads_as_its_tree(target: Target) -> None:
    model = target.Model.register(target.ws, "mdir", "folder_model")
    out = _empty_dir(target)
    assert Path(model.download(str(out))) == out / "mdir"
    assert _tree(out) == {"mdir/a.txt": "a", "mdir/sub/b.txt": "b"}


def test_c20_file_model_download_and_exist_ok(target: Target) -> None:
    model = target.Model.register(target.ws, "model.pkl", "m")
    out = _empty_dir(target)
    assert Path(model.download(str(out))) == out / "model.pkl"
    assert (out / "model.pkl").read_bytes() == b"pickled"
    with pytest.raises(WebserviceException) as err:
        model.download(str(out))
    assert err.value.message.startswith("File already exists. To overwrite, set exist_ok to True.")
    (out / "model.pkl").write_bytes(b"changed")
    assert Path(model.download(str(out), exist_ok=True)) == out / "model.pkl"
    assert (out / "model.pkl").read_bytes() == b"pickled"


def test_c21_exists_ok_always_raises(target: Target) -> None:
    model = target.Model.register(target.ws, "model.pkl", "m")
    out = _empty_dir(target)
    for exists_ok in (True, False):
        with pytest.raises(WebserviceException) as err:
            model.download(str(out), exists_ok=exists_ok)
        assert err.value.message == "Both exists_ok and exist_ok are set. Please use exist_ok only."
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- tags and properties


def test_c22_existing_property_is_refused_client_side(target: Target) -> None:
    model = target.Model.register(target.ws, "model.pkl", "m", properties={"p": "x"})
    target.calls.clear()
    for value in ("x", "y"):  # the same value is refused too
        with pytest.raises(WebserviceException) as err:
            model.add_properties({"p": value, "q": "1"})
        assert err.value.message.endswith("cannot be added/modified: p")
    assert target.calls == []
    assert target.Model(target.ws, "m").properties == {"p": "x"}


def test_c23_add_properties_persists_and_merges(target: Target) -> None:
    model = target.Model.register(target.ws, "model.pkl", "m", properties={"p": "x"})
    model.add_properties({"new": "1"})
    assert model.properties == {"p": "x", "new": "1"}
    assert target.Model(target.ws, "m").properties == {"p": "x", "new": "1"}


def test_c24_add_and_remove_tags(target: Target) -> None:
    Model, ws = target.Model, target.ws
    model = Model.register(ws, "model.pkl", "m", tags={"keep": "1"})
    model.add_tags({"k": "v"})
    assert Model(ws, "m").tags == {"keep": "1", "k": "v"}
    model.remove_tags(["k", "missing"])
    assert Model(ws, "m").tags == {"keep": "1"}
    model.add_tags({"k": "v2"})
    model.remove_tags("k")
    assert model.tags == {"keep": "1"}
    assert Model(ws, "m").tags == {"keep": "1"}


def test_c25_update_replaces_tags_and_skips_falsy(target: Target) -> None:
    Model, ws = target.Model, target.ws
    model = Model.register(ws, "model.pkl", "m", tags={"a": "1", "b": "2"}, description="d")
    model.update(tags={"only": "x"})
    assert model.tags == {"only": "x"}
    assert Model(ws, "m").tags == {"only": "x"}
    model.update(tags={})  # the SDK still sends an empty PATCH; nothing changes
    model.update(description="")
    assert (model.tags, model.description) == ({"only": "x"}, "d")
    fresh = Model(ws, "m")
    assert (fresh.tags, fresh.description) == ({"only": "x"}, "d")


# --------------------------------------------------------------------------- models from runs


def test_c26_run_linkage(target: Target) -> None:
    plain = target.Model.register(target.ws, "model.pkl", "plain")
    assert (plain.run_id, plain.experiment_name) == (None, None)
    run = target.new_run()
    run.upload_file("outputs/model.pkl", "model.pkl")
    linked = run.register_model("linked", model_path="outputs/model.pkl")
    assert linked.run_id == run.id
    assert linked.experiment_name == run.experiment.name == "exp"
    assert [m.id for m in target.Model.list(target.ws, run_id=run.id)] == ["linked:1"]


def test_c27_missing_model_path_lists_the_run_files(target: Target) -> None:
    run = target.new_run()
    run.upload_file("outputs/model.pkl", "model.pkl")
    run.upload_file("outputs/conf.json", "mdir/a.txt")
    with pytest.raises(ModelPathNotFoundException) as err:
        run.register_model("m", model_path="outputs/nope.pkl")
    assert not isinstance(err.value, WebserviceException)
    message = err.value.message
    assert message.startswith("Could not locate the provided model_path outputs/nope.pkl")
    assert str(run.get_file_names()) in message
    assert "outputs/model.pkl" in message and "outputs/conf.json" in message
    assert target.Model.list(target.ws) == []


def test_c28_model_path_defaults_to_model_name(target: Target) -> None:
    run = target.new_run()
    run.upload_file("outputs/m", "model.pkl")
    with pytest.raises(ModelPathNotFoundException) as err:
        run.register_model("m")
    assert err.value.message.startswith("Could not locate the provided model_path m ")
    run.upload_file("m", "model.pkl")
    assert run.register_model("m").id == "m:1"


def test_c29_folder_model_path_from_a_run(target: Target) -> None:
    run = target.new_run()
    run.upload_file("outputs/model/a.txt", "mdir/a.txt")
    run.upload_file("outputs/model/sub/b.txt", "mdir/sub/b.txt")
    run.upload_file("outputs/other.txt", "mdir/a.txt")
    model = run.register_model("m2", model_path="./outputs/model/")
    out = _empty_dir(target)
    assert Path(model.download(str(out))) == out / "model"
    assert _tree(out) == {"model/a.txt": "a", "model/sub/b.txt": "b"}


def test_c30_deleted_version_is_not_found(target: Target) -> None:
    Model, ws = target.Model, target.ws
    first, _second = _register_versions(target)
    first.delete()
    with pytest.raises(WebserviceException) as err:
        Model(ws, "m", version=1)
    assert "ModelNotFound" in err.value.message
    assert Model(ws, "m", version=2).version == 2
    assert [m.version for m in Model.list(ws, name="m")] == [2]


def test_c31_serialize_round_trip_without_rest(target: Target) -> None:
    model = target.Model.register(target.ws, "model.pkl", "m", tags={"t": "1"})
    target.Model.register(target.ws, "model.pkl", "m")
    payload = model.serialize()
    target.calls.clear()
    copy = target.Model.deserialize(target.ws, payload)
    assert target.calls == []
    assert isinstance(copy, target.Model)
    assert (copy.id, copy.name, copy.version, copy.tags) == ("m:1", "m", 1, {"t": "1"})
