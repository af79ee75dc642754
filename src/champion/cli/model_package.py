"""`champion models package NAME --output DIR`: the verified champion (or a version) as a build
context for Azure ML's inference server, and with `--format azureml-v2` the files `az ml`
deploys it from (`champion.packaging`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from champion.cli import _output
from champion.cli._app import Commands, model_name, registered_model, version_number


def add_package(models: Commands) -> None:
    from champion.packaging import FORMATS

    package = models.command(
        "package",
        cmd_package,
        help="write a build context that serves a version (Dockerfile, pinned requirements)",
        description="Write the champion of NAME (or --version) into --output, a new or empty "
        "folder, as a self-contained build context: the model's files verified against its "
        "artifact_sha256, champion serve's entry script (init()/run()), requirements.txt and "
        "conda.yaml with scikit-learn pinned to the version the model was trained with and "
        "the rest to the versions installed here, a Dockerfile on Azure ML's inference server "
        "(port 5001, a non-root user, a HEALTHCHECK) and MANIFEST.json (model, version, "
        "digest, decision record, build number, every file's sha256). --for azureml-v2 "
        "also writes model.yml, environment.yml, endpoint.yml and deployment.yml for "
        "'az ml online-endpoint/online-deployment create', each loaded back with azure-ai-ml "
        "(the [v2] extra). Refused, with nothing written: no such model or version, a version "
        "without artifact_sha256 or whose files do not match it, an output folder that is not "
        "empty, a model that is not scikit-learn or lacks its version, an environment with "
        "another scikit-learn than the model's. Needs the [serve] extra (the server's version "
        "is pinned).",
        examples=[
            "champion models package iris --output pkg/",
            "champion models package iris --version 2 --output deploy/ --for azureml-v2",
        ],
        formats=_output.REPORTS,
    )
    package.add_argument("name", type=model_name, help="the model's registered name")
    package.add_argument(
        "--version", type=version_number, help="the version (default: the champion)"
    )
    package.add_argument(
        "--output",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder to write; it must not exist or be empty (created with its parents)",
    )
    package.add_argument(
        "--for",
        dest="package_format",
        choices=FORMATS,
        default=FORMATS[0],
        metavar="TARGET",
        help="docker (default): the build context; azureml-v2: also the Azure ML CLI v2 "
        "deployment files (--format stays the output's format, as on every command)",
    )


def cmd_package(args: argparse.Namespace) -> int:
    from champion.context import get_registry
    from champion.packaging import Source, package

    model = registered_model(args)
    source = Source(
        name=str(model.name),
        version=int(model.version),
        framework=model.model_framework,
        framework_version=model.model_framework_version,
        properties={str(k): str(v) for k, v in (model.properties or {}).items()},
        registered=_output.when(model.created_time),
        run_id=model.run_id,
    )
    done = package(get_registry(model.workspace), source, args.output, fmt=args.package_format)
    manifest = done.manifest
    doc = {
        "name": source.name,
        "version": source.version,
        "format": args.package_format,
        "path": str(done.path),
        "artifact_sha256": manifest["model"]["artifact_sha256"],
        "requirements": [f"{r['name']}=={r['version']}" for r in manifest["requirements"]],
        "files": [f["path"] for f in (*manifest["files"], *manifest["deployment_files"])],
    }
    lines = [
        f"{source.id} -> {done.path} ({args.package_format}; sha256 verified)",
        f"  pinned: {', '.join(doc['requirements'])}",
        f"  try it: python -m venv venv && venv/bin/pip install -r {done.path}/requirements.txt",
    ]
    if args.package_format == "azureml-v2":
        lines.append(
            f"  Azure ML: in {done.path}, az ml model create -f model.yml, az ml environment "
            "create -f environment.yml, az ml online-endpoint create -f endpoint.yml, az ml "
            "online-deployment create -f deployment.yml --all-traffic"
        )
    _output.report(doc, lines)
    return 0
