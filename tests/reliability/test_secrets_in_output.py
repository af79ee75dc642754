"""A password in a server's address never reaches the console: every command, successful or
not, in every format, as a process against a real `mlflow server` whose address carries
userinfo (`http://alice:S3cret@127.0.0.1:PORT`, as a team puts basic auth in
`MLFLOW_TRACKING_URI`)."""

from __future__ import annotations

import pytest

from champion._redact import redact

pytestmark = pytest.mark.slow

PASSWORD = "S3cretPw"


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("http://alice:S3cret@host:5000/api", "S3cret", "http://***@host:5000/api"),
        ("postgresql://u:pw%40x@db/mlflow", "pw%40x", "postgresql://***@db/mlflow"),
        ("git+https://ghp_T0KEN@github.com/o/r", "ghp_T0KEN", "git+https://***@github.com/o/r"),
        ("see https://host/path?mail=a@b.c", "", "see https://host/path?mail=a@b.c"),
    ],
)
def test_a_url_s_userinfo_is_removed_whole(text, secret, kept):
    assert redact(text) == kept
    if secret:
        assert secret not in redact(text)


def test_no_command_prints_the_password_in_the_tracking_uri(mlflow_server, cli, tmp_path):
    host = mlflow_server.url.removeprefix("http://")
    env = {"MLFLOW_TRACKING_URI": f"http://alice:{PASSWORD}@{host}"}
    model = tmp_path / "trained" / "model.pkl"
    model.parent.mkdir()
    model.write_bytes(b"weights")
    name = "secret-" + tmp_path.name[-8:].replace("_", "-")
    register = ("register", "--backend", "mlflow", "--model-name", name, "--model-path", str(model))
    said = []
    for args, code in [
        ((*register, "--metric-value", "0.9"), 0),
        ((*register, "--metric-value", "0.8", "--json"), 0),
        ((*register, "--metric-value", "95%"), 2),
        (("models", "list", "--backend", "mlflow"), 0),
        (("models", "show", name, "--backend", "mlflow", "--format", "csv"), 0),
        (("models", "history", name, "--backend", "mlflow", "--json"), 0),
        (("models", "show", "no-such-model", "--backend", "mlflow"), 2),
        (("models", "list", "--backend", "mlflow", "--debug"), 0),
    ]:
        done = cli(*args, env=env)
        assert done.returncode == code, (args, done.stderr)
        said.append(done.stdout + done.stderr)
    assert all(PASSWORD not in text for text in said), [t for t in said if PASSWORD in t]
    assert any("***@" in text for text in said)  # the address is still named, minus the secret
