"""Which public members of azureml-core's classes the local workspace implements, as Markdown
(like moto's IMPLEMENTATION_COVERAGE): the member list, and the docs' table
(docs/reference/fidelity.md).

    .venv/bin/python tests/local/coverage_table.py            # every member, one row each
    .venv/bin/python tests/local/coverage_table.py --docs     # the docs' table

A member marked "local face only" works on the `champion.local` class but not on the real SDK
under `mock_azureml()`, where it needs Azure (`LOCAL_FACE_ONLY` says why).
"""

from __future__ import annotations

import importlib
import sys

#: class label -> (the SDK's class, the local class), as "module:attribute".
CLASSES: dict[str, tuple[str, str]] = {
    "Workspace": ("azureml.core:Workspace", "champion.local:Workspace"),
    "Experiment": ("azureml.core:Experiment", "champion.local:Experiment"),
    "Run": ("azureml.core:Run", "champion.local:Run"),
    "Model": ("azureml.core:Model", "champion.local:Model"),
    "Datastore": ("azureml.core:Datastore", "champion.local:Datastore"),
    "AzureBlobDatastore": (
        "azureml.data.azure_storage_datastore:AzureBlobDatastore",
        "champion.local.azure_storage_datastore:AzureBlobDatastore",
    ),
    "Dataset": ("azureml.core:Dataset", "champion.local:Dataset"),
    "TabularDataset": ("azureml.data:TabularDataset", "champion.local:TabularDataset"),
    "FileDataset": ("azureml.data:FileDataset", "champion.local:FileDataset"),
}

#: Members the local class has that the real SDK cannot do under `mock_azureml()`, and why.
LOCAL_FACE_ONLY: dict[tuple[str, str], str] = {
    ("FileDataset", "mount"): "a FUSE mount of Azure storage; locally a copy of the files",
}

DONE, MISSING = "\N{CHECK MARK}", "\N{EN DASH}"


def load(path: str) -> type:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)  # type: ignore[no-any-return]


def public_members(cls: type) -> list[str]:
    """What a user can reach on the class by name: everything not starting with `_`."""
    return sorted(name for name in dir(cls) if not name.startswith("_"))


def coverage() -> dict[str, list[tuple[str, bool]]]:
    """For each class, every public SDK member and whether the local class has it."""
    table: dict[str, list[tuple[str, bool]]] = {}
    for label, (sdk_path, local_path) in CLASSES.items():
        sdk_class, local_class = load(sdk_path), load(local_path)
        table[label] = [
            (member, hasattr(local_class, member)) for member in public_members(sdk_class)
        ]
    return table


def render(table: dict[str, list[tuple[str, bool]]]) -> str:
    lines = ["| class | member | local |", "|---|---|---|"]
    for class_name, rows in table.items():
        lines += [f"| {class_name} | `{m}` | {DONE if ok else MISSING} |" for m, ok in rows]
    lines.append("")
    for class_name, rows in table.items():
        done = sum(ok for _, ok in rows)
        lines.append(f"- {class_name}: {done} of {len(rows)} members implemented")
    return "\n".join(lines)


def render_docs(table: dict[str, list[tuple[str, bool]]]) -> str:
    """The docs' table: per class, what is implemented and what is not."""
    lines = [
        "| class | implemented | not implemented | local face only |",
        "|---|---|---|---|",
    ]
    for class_name, rows in table.items():
        done = [m for m, ok in rows if ok]
        missing = [m for m, ok in rows if not ok]
        only = [f"`{m}` ({why})" for (c, m), why in LOCAL_FACE_ONLY.items() if c == class_name]
        lines.append(
            f"| `{class_name}` ({len(done)} of {len(rows)}) | "
            f"{', '.join(f'`{m}`' for m in done) or '-'} | "
            f"{', '.join(f'`{m}`' for m in missing) or '-'} | {'; '.join(only) or '-'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    table = coverage()
    print(render_docs(table) if "--docs" in args else render(table))


if __name__ == "__main__":
    main()
