"""`validate_model_name` accepts exactly the names Azure ML accepts, and names the bad value.

The oracle is azureml-core's own `model_name_validation` (the check `Model.register` runs before
any request), so a name champion lets through is one Azure ML takes, and a name champion refuses
up front (before anything is uploaded) is one Azure ML would have refused later.
"""

from __future__ import annotations

import string

import azureml.core  # noqa: F401  (azureml._model_management imports circularly without it)
import pytest
from azureml._model_management._util import model_name_validation
from azureml.exceptions import WebserviceException
from hypothesis import example, given, settings
from hypothesis import strategies as st

from champion._validation import validate_model_name
from champion.errors import InputError
from champion.local import _sdk

VALID_FIRST = string.ascii_letters + string.digits
VALID_REST = VALID_FIRST + "-._"
# Characters that look harmless or are easy to get wrong: path parts, separators, controls,
# whitespace, and non-ASCII look-alikes of letters and digits that `\w`/`\d` or a case-folding
# match would let through (Kelvin sign, long s, dotless i, Arabic-Indic and fullwidth digits).
TRICKY = "\x00/\\:..~ \t\n\r\x0b\x0c@#%+=,;*?\"'<>|éßK\u212a\u017f\u0131\u0661\uff11\uff21\u200b"

names = st.text(
    alphabet=st.one_of(
        st.sampled_from(VALID_REST), st.sampled_from(TRICKY), st.characters(codec="utf-8")
    ),
    max_size=300,
)
near_limit = st.builds(
    lambda first, rest, tail: first + rest + tail,
    st.sampled_from(VALID_FIRST),
    st.text(alphabet=VALID_REST, min_size=250, max_size=258),
    st.sampled_from(["", "-", "_", ".", "é", "\n", "/", "\x00"]),
)


def azure_accepts(name: str) -> bool:
    try:
        model_name_validation(name)
    except WebserviceException:
        return False
    return True


def champion_accepts(name: str) -> bool:
    try:
        returned = validate_model_name(name)
    except InputError as exc:
        assert exc.field == "model_name"
        assert exc.value == name
        assert repr(name) in exc.message  # the bad value is named, escaped, in the message
        assert exc.exit_code == 2
        return False
    assert returned == name
    return True


def local_sdk_accepts(name: str) -> bool:
    """The local workspace's copy of the SDK check (Model.register, Run.register_model)."""
    try:
        _sdk.validate_model_name(name)
    except WebserviceException as exc:
        assert "provided model name is invalid" in exc.message
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(name=st.one_of(names, near_limit))
@example(name="")
@example(name="a")
@example(name="a" * 255)
@example(name="a" * 256)
@example(name="a" * 300)
@example(name="..")
@example(name=".hidden")
@example(name="-a")
@example(name="_a")
@example(name="a/b")
@example(name="../etc/passwd")
@example(name="iris:2")
@example(name="iris\x00")
@example(name="iris\n")
@example(name="\niris")
@example(name="iris ")
@example(name="\u212aelvin")
@example(name="\uff11")
@example(name="model.v1-final_2")
def test_accepts_exactly_what_azure_ml_accepts(name: str) -> None:
    azure = azure_accepts(name)
    assert champion_accepts(name) == azure, name
    assert local_sdk_accepts(name) == azure, name


@settings(max_examples=300, deadline=None)
@given(name=st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9\-._]{0,254}", fullmatch=True))
def test_every_name_of_azure_ml_s_form_is_accepted_unchanged(name: str) -> None:
    assert azure_accepts(name)
    assert validate_model_name(name) == name


@settings(max_examples=300, deadline=None)
@given(
    good=st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9\-._]{0,200}", fullmatch=True),
    bad=(st.sampled_from(TRICKY) | st.characters(codec="utf-8")).filter(
        lambda c: c not in VALID_REST
    ),
    at=st.integers(min_value=0),
)
def test_one_foreign_character_anywhere_is_refused(good: str, bad: str, at: int) -> None:
    position = at % (len(good) + 1)
    name = good[:position] + bad + good[position:]
    assert not azure_accepts(name)
    with pytest.raises(InputError) as caught:
        validate_model_name(name)
    assert (caught.value.field, caught.value.value) == ("model_name", name)


@pytest.mark.parametrize("length, ok", [(0, False), (1, True), (255, True), (256, False)])
def test_length_limits(length: int, ok: bool) -> None:
    name = "m" * length
    assert azure_accepts(name) is ok
    assert champion_accepts(name) is ok
