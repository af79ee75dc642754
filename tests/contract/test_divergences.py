"""Where the two faces disagree outside the 40 checks: each test states the SDK's behaviour (read in
azureml-core 1.61 or shared by the mock and the store), passes on the face that has it, and is a
strict xfail on the face that does not, so a fix turns it into an XPASS that must be unmarked."""

from __future__ import annotations

import io

import pytest
from azureml._restclient.exceptions import ServiceException
from azureml.exceptions import UserErrorException

from .conftest import Target


def test_run_property_conflict_has_the_same_status_on_both_faces(target: Target) -> None:
    run = target.new_run()
    run.add_properties({"p": "1"})
    with pytest.raises(ServiceException) as err:
        run.add_properties({"p": "2"})
    assert err.value.status_code == 409


def test_service_exception_can_be_printed(target: Target) -> None:
    run = target.new_run()
    run.add_properties({"p": "1"})
    with pytest.raises(ServiceException) as err:
        run.add_properties({"p": "2"})
    text = str(err.value)
    assert text.startswith("ServiceException:\n\tCode: ")
    assert "immutable" in text


def test_missing_artifact_names_the_data_container(target: Target) -> None:
    run = target.new_run()
    record = target.store.get_run(run.id)
    assert record is not None
    with pytest.raises(UserErrorException) as err:
        run.download_file("outputs/missing")
    assert err.value.message == (
        f"Cannot find the artifact 'outputs/missing' in container '{record.data_container_id}'"
    )


def test_upload_files_length_mismatch_text(target: Target) -> None:
    run = target.new_run()
    with pytest.raises(TypeError) as err:
        run.upload_files(["outputs/a", "outputs/b"], ["model.pkl"])
    assert str(err.value) == (
        "names and paths must be lists of equal lengths. Names was of length 2 and paths of "
        "length 1."
    )
    assert run.get_file_names() == []


def test_child_run_name_is_chained_to_the_parent_name(target: Target) -> None:
    parent = target.new_run()
    child = parent.child_run(name="kid")
    assert child.name == f"{parent.name or ''}>kid"
    assert [c.name for c in parent.get_children()] == [child.name]


def test_unknown_run_id_is_a_404_service_exception(target: Target) -> None:
    with pytest.raises(ServiceException) as err:
        target.open_run("missing")
    assert err.value.status_code == 404
    with pytest.raises(ServiceException):
        target.Run.get(target.ws, "missing")
    target.new_run().upload_file("outputs/a.bin", io.BytesIO(b"x"))  # the workspace still works
