"""Which public members of azureml.core's Workspace, Experiment, Run and Model the local
workspace implements, as a Markdown table for the README (like moto's IMPLEMENTATION_COVERAGE).

    .venv/bin/python tests/local/coverage_table.py
"""

from __future__ import annotations

import azureml.core

import champion.local

CLASSES = ("Workspace", "Experiment", "Run", "Model")
DONE, MISSING = "\N{CHECK MARK}", "\N{EN DASH}"


def public_members(cls: type) -> list[str]:
    """What a user can reach on the class by name: everything not starting with `_`."""
    return sorted(name for name in dir(cls) if not name.startswith("_"))


def coverage() -> dict[str, list[tuple[str, bool]]]:
    """For each class, every public SDK member and whether the local class has it."""
    table: dict[str, list[tuple[str, bool]]] = {}
    for class_name in CLASSES:
        sdk_class = getattr(azureml.core, class_name)
        local_class = getattr(champion.local, class_name)
        table[class_name] = [
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


def main() -> None:
    print(render(coverage()))


if __name__ == "__main__":
    main()
