"""The launcher (`champion mock -- COMMAND`, `python -m champion.mock SCRIPT`): the fakes are
armed in every Python process the command starts, activate when their SDK is first imported,
and every mistake is one line with the CLI's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from champion import mock as launcher
from champion.local import Workspace

pytestmark = pytest.mark.process  # every test here starts the launcher as a user would

CHAMPION = str(Path(sys.executable).parent / "champion")
AZURE_CONFIG = {"subscription_id": "0" * 8, "resource_group": "prod", "workspace_name": "prod-ws"}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAMPION_")}
    return {**env, **extra}


def run(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=clean_env(**extra), capture_output=True, text=True, timeout=300
    )


def test_a_fake_activates_once_at_the_first_import_of_its_sdk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = lambda name, text: (tmp_path / name).write_text(textwrap.dedent(text))  # noqa: E731
    (tmp_path / "fakesdk").mkdir()
    write("fakesdk/__init__.py", "LOADED = True\n")
    write(
        "fakesdk_fake.py",
        """
        import fakesdk
        CALLS = []

        def activate(workspace):
            CALLS.append((workspace, fakesdk.LOADED))  # the SDK is loaded when it activates
            return lambda: None
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CHAMPION_WORKSPACE", str(tmp_path / "ws"))
    fake = launcher.Fake("fake", "fakesdk", ("fakesdk",), "fakesdk_fake:activate")
    missing = launcher.Fake("missing", "fakesdk", ("no_such_module_here",), "nowhere:activate")
    launcher.arm([fake, missing])
    try:
        import fakesdk  # noqa: F401
        import fakesdk as again  # noqa: F401  (already loaded: no second activation)
        import fakesdk_fake

        assert fakesdk_fake.CALLS == [(str(tmp_path / "ws"), True)]
    finally:
        launcher.disarm()
        for name in ("fakesdk", "fakesdk_fake"):
            sys.modules.pop(name, None)
    assert not launcher.armed()
    assert sys.excepthook is sys.__excepthook__ or sys.excepthook.__name__ != "hook"


def test_the_sdk_v2_fake_is_one_entry_of_the_table() -> None:
    v2 = next(f for f in launcher.FAKES if f.trigger == "azure.ai.ml")
    assert v2.activate == "champion.local.mock_v2:activate"
    assert "champion.local.mock_v2" in v2.needs  # skipped until that fake is installed


def test_child_environment_puts_the_launcher_first_and_names_the_workspace(tmp_path: Path) -> None:
    env = launcher.child_environment(tmp_path / "ws", {"PYTHONPATH": "/a:/b", "X": "1"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(launcher.SITE_DIR), "/a", "/b"]
    assert (env["CHAMPION_MOCK"], env["CHAMPION_WORKSPACE"], env["X"]) == (
        "1",
        str(tmp_path / "ws"),
        "1",
    )
    assert sorted(p.name for p in launcher.SITE_DIR.iterdir() if p.suffix == ".py") == [
        "sitecustomize.py"
    ]


@pytest.mark.slow
def test_every_python_process_of_the_command_gets_the_local_workspace(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(AZURE_CONFIG))
    shadowed = tmp_path / "site"
    shadowed.mkdir()
    (shadowed / "sitecustomize.py").write_text(
        "import pathlib; pathlib.Path('chained.txt').write_text('yes')\n"
    )
    child = "from azureml.core import Workspace; print('child:', Workspace.from_config().name)"
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import subprocess, sys
            from azureml.core import Workspace
            print("parent:", Workspace.from_config().name)
            subprocess.run([sys.executable, "-c", {child!r}], check=True)
            """
        )
    )
    done = run(
        [CHAMPION, "mock", "--", sys.executable, "script.py"], tmp_path, PYTHONPATH=str(shadowed)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["parent: .champion", "child: .champion"]
    assert (tmp_path / "chained.txt").read_text() == "yes"  # the other sitecustomize ran too
    assert Workspace(tmp_path / ".champion").name == ".champion"  # created for the command


def test_a_command_that_is_not_there_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run([CHAMPION, "mock", "--", "no-such-command-here", "x"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "champion: error [input_invalid]: command 'no-such-command-here' was not found (not a "
        "file, and not on PATH); check the name after --"
    ]
    nothing = run([CHAMPION, "mock"], tmp_path)
    assert nothing.returncode == 2 and nothing.stderr.startswith("champion: error [")
    assert "no command to run" in nothing.stderr
    bad = run([CHAMPION, "mock", "--step-timeout", "-1", "--", "true"], tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("champion: error [usage]:")
    assert not (tmp_path / ".champion").exists()


def test_a_workspace_that_cannot_be_one_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    done = run([CHAMPION, "--workspace", "file", "mock", "--", "true"], tmp_path)
    assert done.returncode in (2, 3)
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("champion: error [")


@pytest.mark.slow
def test_python_m_champion_mock_runs_a_script_with_its_own_exit_status(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(AZURE_CONFIG))
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(5)\n")
    assert run([sys.executable, "-m", "champion.mock", "exits.py"], tmp_path).returncode == 5
    (tmp_path / "azure_only.py").write_text(
        "from azureml.core import Workspace\nws = Workspace.from_config()\nws.webservices\n"
    )
    for command in (
        [sys.executable, "-m", "champion.mock", "azure_only.py"],
        [CHAMPION, "mock", "--", sys.executable, "azure_only.py"],
    ):
        done = run(command, tmp_path)
        assert done.returncode == 3, done.stderr
        [line] = [x for x in done.stderr.splitlines() if x.startswith("champion mock:")]
        assert "azure_only.py:3: Workspace.webservices needs Azure: deployments" in line
        assert "Traceback" not in done.stderr
    missing = run([sys.executable, "-m", "champion.mock", "nope.py"], tmp_path)
    assert missing.returncode == 2 and "script not found" in missing.stderr
