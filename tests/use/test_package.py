"""`champion models package`: the folder a user builds an image from, read as Docker and Azure
ML's CLI read it, and every refusal leaving nothing behind. The proof that the folder serves
(a fresh virtualenv from its requirements.txt, the server started as its Dockerfile says) is
`test_package_serve.py`."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import sklearn

from champion._digest import model_files_digest, sha256_file
from champion.local import Model
from champion.local.workspace import Workspace
from champion.serving import DEFAULT_ENTRY_SCRIPT
from champion.testing import workspace_state as snapshot

from .conftest import IrisWorkspace, champion_cli
from .dockerfile import Image

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(autouse=True)
def _cwd_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Some tests change folder (`Model.register` takes paths from it): back after each."""
    monkeypatch.chdir(Path.cwd())


def package(iris: IrisWorkspace, output: Path, *args: str) -> tuple[int, str, str]:
    return champion_cli(
        "--workspace", str(iris.path), "models", "package", "iris", "--output", str(output), *args
    )


def packaged(iris: IrisWorkspace, tmp_path: Path, *args: str) -> tuple[Path, dict]:
    out = tmp_path / "pkg"
    code, _, err = package(iris, out, *args)
    assert code == 0, err
    return out, json.loads((out / "MANIFEST.json").read_text())


def test_the_package_holds_the_verified_champion_its_entry_script_and_its_pins(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    out, manifest = packaged(iris, tmp_path)
    champion = Model(iris.ws, "iris")  # iris:2, registered through the gate
    model = manifest["model"]
    assert (model["name"], model["version"]) == ("iris", 2)
    assert model["artifact_sha256"] == champion.properties["artifact_sha256"]
    assert model["framework"] == "ScikitLearn" and model["framework_version"] == sklearn.__version__
    assert model["champion_when_packaged"] is True
    # the decision that made iris:2 the champion, as the gate recorded it
    assert manifest["decision"]["registered_version"] == 2
    assert manifest["decision"]["outcome"] == "promoted"
    # every file is listed with its sha256, and the model's files are exactly what was registered
    listed = {f["path"]: f for f in (*manifest["files"], *manifest["deployment_files"])}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {
        "MANIFEST.json"
    }
    assert set(listed) == on_disk
    assert all(sha256_file(out / path) == f["sha256"] for path, f in listed.items())
    model_files = {
        path.removeprefix("model/"): f["sha256"]
        for path, f in listed.items()
        if path.startswith("model/")
    }
    assert model_files_digest(model_files) == champion.properties["artifact_sha256"]
    # champion serve's entry script and the modules it imports, byte for byte
    assert (out / "code/score.py").read_bytes() == DEFAULT_ENTRY_SCRIPT.read_bytes()
    copied = sorted(
        p.relative_to(out / "code").as_posix() for p in (out / "code/champion").rglob("*.py")
    )
    assert copied == [
        "champion/__init__.py",
        "champion/_digest.py",
        "champion/_env.py",
        "champion/_extras.py",
        "champion/errors.py",
        "champion/scoring.py",
        "champion/scoring_request.py",
    ]
    for name in copied[1:]:
        assert (out / "code" / name).read_bytes() == (SRC / name).read_bytes()
    # scikit-learn as trained (stored on the model), the rest as installed here
    pins = [
        line
        for line in (out / "requirements.txt").read_text().splitlines()
        if not line.startswith("#")
    ]
    assert pins[0] == f"scikit-learn=={sklearn.__version__}"
    assert pins == [f"{r['name']}=={r['version']}" for r in manifest["requirements"]]
    for name in ("azureml-inference-server-http", "joblib", "numpy", "pandas", "scipy"):
        assert f"{name}=={metadata.version(name)}" in pins
    conda = (out / "conda.yaml").read_text()
    assert f"  - python={PYTHON}\n" in conda
    assert all(f'      - "{pin}"\n' in conda for pin in pins)


def test_the_dockerfile_copies_every_listed_file_and_runs_the_server_as_a_user(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    out, manifest = packaged(iris, tmp_path)
    image = Image.build(out, tmp_path / "root")
    assert image.base == f"python:{PYTHON}-slim" == manifest["image"]["base"]
    assert image.user not in ("root", "0") and image.user in image.users
    assert image.exposed == [5001] == [manifest["image"]["port"]]
    assert image.installs == [
        "pip install --no-cache-dir --requirement /var/azureml-app/requirements.txt"
    ]
    # every file the manifest lists as the image's is copied to where it says, nothing else
    for listed in manifest["files"]:
        assert image.in_image(listed["image_path"]), listed
        assert sha256_file(image.host(listed["image_path"])) == listed["sha256"]
    in_image = {p for p in image.root.rglob("*") if p.is_file()}
    assert in_image == {image.host(f["image_path"]) for f in manifest["files"]} | {
        image.host("/var/azureml-app/MANIFEST.json")
    }
    assert not any(f["path"].startswith(("model/", "code/")) for f in manifest["deployment_files"])
    # the command: the inference server, champion's entry script, the model where the env says
    model_dir = manifest["image"]["model_dir"]
    assert model_dir == "/var/azureml-app/azureml-models/iris/2" == image.env["AZUREML_MODEL_DIR"]
    assert image.cmd == [
        "azmlinfsrv", "--entry_script", "/var/azureml-app/score.py",
        "--model_dir", model_dir, "--port", "5001",
    ]  # fmt: skip
    assert image.host("/var/azureml-app/score.py").read_bytes() == DEFAULT_ENTRY_SCRIPT.read_bytes()
    assert image.env["AML_APP_ROOT"] == "/var/azureml-app" == image.workdir
    assert image.healthcheck[:2] == ["python", "-c"] and "127.0.0.1:5001/" in image.healthcheck[2]


def test_the_packaged_code_imports_nothing_that_is_not_pinned_or_copied(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    """The entry script runs where champion is not installed: every module it and the copied
    modules import, at any depth, is the standard library, a copied file or a pinned package."""
    out, manifest = packaged(iris, tmp_path)
    provided = metadata.packages_distributions()
    pinned = {r["name"] for r in manifest["requirements"]}
    for source in (out / "code").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "__future__":
                    continue
                if top == "champion":
                    parts = module.split(".")
                    base = out / "code" / Path(*parts)
                    assert base.with_suffix(".py").is_file() or (base / "__init__.py").is_file(), (
                        source,
                        module,
                    )
                    continue
                assert set(provided[top]) & pinned, (source, module)


def test_the_azureml_v2_files_load_with_the_real_sdk_and_name_this_package(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    pytest.importorskip("azure.ai.ml")
    from azure.ai.ml import (
        load_environment,
        load_model,
        load_online_deployment,
        load_online_endpoint,
    )

    out, manifest = packaged(iris, tmp_path, "--for", "azureml-v2")
    assert manifest["format"] == "azureml-v2"
    model = load_model(out / "model.yml")
    assert (model.name, model.version, Path(model.path)) == ("iris", "2", out / "model")
    assert model.properties["artifact_sha256"] == manifest["model"]["artifact_sha256"]
    environment = load_environment(out / "environment.yml")
    pip = environment.conda_file["dependencies"][-1]["pip"]
    assert pip == [f"{r['name']}=={r['version']}" for r in manifest["requirements"]]
    assert f"python={PYTHON}" in environment.conda_file["dependencies"]
    endpoint = load_online_endpoint(out / "endpoint.yml")
    deployment = load_online_deployment(out / "deployment.yml")
    assert deployment.endpoint_name == endpoint.name == "iris-endpoint"
    assert str(deployment.model) == "iris:2"
    assert str(deployment.environment) == f"{environment.name}:{environment.version}"
    code = out / deployment.code_configuration.code
    assert (code / deployment.code_configuration.scoring_script).read_bytes() == (
        DEFAULT_ENTRY_SCRIPT.read_bytes()
    )
    deployment_files = {f["path"] for f in manifest["deployment_files"]}
    assert {"model.yml", "environment.yml", "endpoint.yml", "deployment.yml"} <= deployment_files


def test_only_the_azureml_v2_files_import_the_v2_sdk() -> None:
    """A fresh process: the register step's start, the CLI and a docker package never import
    azure.ai.ml; the azureml-v2 writer does, when it runs."""
    code = (
        "import sys, champion.steps.register, champion.gate, champion.cli, champion.packaging, "
        "champion.packaging._azureml_v2, champion.cli.model_package\n"
        "assert not [m for m in sys.modules if m.startswith('azure.ai')], 'imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------- refusals


def refused(
    iris: IrisWorkspace, tmp_path: Path, output: Path, *args: str, name: str = "iris"
) -> tuple[int, str]:
    """Run a package that must be refused: one line, no file written, the workspace as it was."""
    before = snapshot(iris.path)
    around = sorted(p.name for p in output.parent.iterdir()) if output.parent.is_dir() else None
    code, out, err = champion_cli(
        "--workspace", str(iris.path), "models", "package", name, "--output", str(output), *args
    )
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("champion: error ["), err
    assert "Traceback" not in err and out == ""
    assert snapshot(iris.path) == before
    if around is not None:  # no staging folder or anything else left beside the output
        assert sorted(p.name for p in output.parent.iterdir()) == around
    return code, lines[0]


def register_by_hand(iris: IrisWorkspace, tmp_path: Path, **kwargs: object) -> int:
    (tmp_path / "hand.pkl").write_bytes(b"never loaded")
    os.chdir(tmp_path)
    model = Model.register(iris.ws, "hand.pkl", "iris", **kwargs)
    return int(model.version)


def test_no_such_model_or_version(iris: IrisWorkspace, tmp_path: Path) -> None:
    code, line = refused(iris, tmp_path, tmp_path / "pkg", name="irsi")
    assert code == 2 and "no model 'irsi'" in line
    code, line = refused(iris, tmp_path, tmp_path / "pkg", "--version", "9")
    assert code == 2 and "no model version 9 of 'iris'" in line
    assert not (tmp_path / "pkg").exists()


def test_a_version_without_artifact_sha256_is_not_packaged(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    version = register_by_hand(
        iris, tmp_path, model_framework="ScikitLearn", model_framework_version=sklearn.__version__
    )
    code, line = refused(iris, tmp_path, tmp_path / "pkg", "--version", str(version))
    assert code == 2 and f"iris:{version} has no artifact_sha256" in line


def test_a_corrupt_blob_exits_3_and_leaves_no_folder(iris: IrisWorkspace, tmp_path: Path) -> None:
    model = Model(iris.ws, "iris", version=2)
    [(_, artifact)] = iris.ws._store.model_files(model._asset_id)
    blob = iris.ws._store.blob_path(artifact.digest)
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    out = tmp_path / "deep" / "pkg"  # its parents too are removed again
    code, _ = refused(iris, tmp_path, out)
    assert code == 3
    assert not (tmp_path / "deep").exists()


def test_an_output_that_is_not_a_new_or_empty_folder(iris: IrisWorkspace, tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    code, line = refused(iris, tmp_path, full)
    assert code == 2 and "is not empty" in line
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("mine")
    code, line = refused(iris, tmp_path, a_file)
    assert code == 2 and "is not a folder" in line
    code, line = refused(iris, tmp_path, a_file / "pkg")
    assert code == 2 and "which is not a folder" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    link = tmp_path / "link"
    link.symlink_to(empty)
    code, line = refused(iris, tmp_path, link)
    assert code == 2 and "is a symlink" in line
    assert link.is_symlink() and list(empty.iterdir()) == []
    os.chdir(empty)  # renamed over, the shell would be left in a removed folder
    code, line = refused(iris, tmp_path, Path("."))
    assert code == 2 and "is the current folder" in line
    os.chdir(tmp_path)
    # an empty folder is used
    code, _, err = package(iris, empty)
    assert code == 0, err and (empty / "MANIFEST.json").is_file()


def test_a_version_the_entry_script_could_not_load_is_refused(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    """Two model files: the entry script would fail at the deployment's start."""
    two = tmp_path / "two"
    two.mkdir()
    for name in ("a.pkl", "b.pkl"):
        (two / name).write_bytes(b"never loaded")
    code, _, err = champion_cli(
        "--workspace", str(iris.path), "register", "--model-name", "iris", "--model-path",
        str(two), "--metric-value", "0.99", "--model-framework", "ScikitLearn",
    )  # fmt: skip
    assert code == 0, err
    code, line = refused(iris, tmp_path, tmp_path / "pkg")
    assert code == 2 and "iris:3 holds 2 model files (two/a.pkl, two/b.pkl)" in line


def test_the_files_are_readable_by_the_images_user_whatever_the_umask(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    """Docker's COPY keeps modes, and the server runs as a user who owns none of the files."""
    before = os.umask(0o077)
    try:
        out, _ = packaged(iris, tmp_path)
    finally:
        os.umask(before)
    modes = {p.relative_to(out).as_posix(): p.stat().st_mode & 0o777 for p in out.rglob("*")}
    assert out.stat().st_mode & 0o777 == 0o755
    assert {mode for name, mode in modes.items() if (out / name).is_dir()} == {0o755}
    assert {mode for name, mode in modes.items() if (out / name).is_file()} == {0o644}


@pytest.mark.parametrize(
    ("registration", "says"),
    [
        ({"model_framework": "Custom"}, "registered with framework Custom"),
        ({"model_framework": "Onnx", "model_framework_version": "17"}, "framework Onnx"),
        ({"model_framework": "ScikitLearn"}, "registered without its scikit-learn version"),
        (
            {"model_framework": "ScikitLearn", "model_framework_version": "0.24.2"},
            f"trained with scikit-learn 0.24.2, and this environment has {sklearn.__version__}",
        ),
    ],
)
def test_a_framework_that_cannot_be_pinned(
    iris: IrisWorkspace, tmp_path: Path, registration: dict, says: str
) -> None:
    digest = {"artifact_sha256": "0" * 64}  # never read: the framework is refused first
    version = register_by_hand(iris, tmp_path, properties=digest, **registration)
    code, line = refused(iris, tmp_path, tmp_path / "pkg", "--version", str(version))
    assert code == 2 and says in line, line


def test_azureml_v2_without_the_sdk_says_how_to_install_it(
    iris: IrisWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from champion.packaging import _azureml_v2

    real = _azureml_v2.util.find_spec
    monkeypatch.setattr(
        _azureml_v2.util,
        "find_spec",
        lambda name, *a: None if name.startswith("azure") else real(name, *a),
    )
    code, line = refused(iris, tmp_path, tmp_path / "pkg", "--for", "azureml-v2")
    assert code == 3 and "pip install 'champion[v2]'" in line


def test_champion_register_stores_the_scikit_learn_version(
    iris: IrisWorkspace, tmp_path: Path
) -> None:
    """The fixture's versions come from `champion register --model-framework ScikitLearn`, which
    stored no framework version before: the package could not pin them."""
    assert Model(iris.ws, "iris", version=1).model_framework_version == sklearn.__version__
    given = tmp_path / "given"
    given.mkdir()
    (given / "model.pkl").write_bytes(
        Path(iris.path / "..").resolve().joinpath("trained-0.95", "model.pkl").read_bytes()
    )
    code, _, err = champion_cli(
        "--workspace", str(iris.path), "--json", "register", "--model-name", "other",
        "--model-path", str(given), "--metric-value", "0.9", "--model-framework", "ScikitLearn",
        "--model-framework-version", "1.0.2",
    )  # fmt: skip
    assert code == 0, err
    assert Model(Workspace(iris.path), "other").model_framework_version == "1.0.2"


def test_the_deploy_pages_champion_commands_run(
    iris: IrisWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/how-to/deploy.md: every `champion` line of its runnable (sh) blocks, as written."""
    import re
    import shlex

    pytest.importorskip("azure.ai.ml")
    page = (ROOT / "docs" / "how-to" / "deploy.md").read_text()
    lines = [
        line
        for block in re.findall(r"```sh\n(.*?)```", page, re.S)
        for line in block.splitlines()
        if line.startswith("champion ")
    ]
    assert len(lines) == 2
    monkeypatch.chdir(tmp_path)
    for line in lines:
        code, _, err = champion_cli("--workspace", str(iris.path), *shlex.split(line)[1:])
        assert code == 0, (line, err)
    assert (tmp_path / "deploy" / "deployment.yml").is_file()
