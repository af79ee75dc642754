"""Read every input, write the export."""

import argparse
import json
import os

from azureml.core import Run

parser = argparse.ArgumentParser()
for name in ("folder", "table", "files", "direct", "export"):
    parser.add_argument(f"--{name}", required=True)
args = parser.parse_args()

run = Run.get_context()
seen = {
    "folder": sorted(os.listdir(args.folder)),
    "table": open(args.table).read().strip()
    if os.path.isfile(args.table)
    else sorted(os.listdir(args.table)),
    "files": sorted(os.listdir(run.input_datasets["files"])),
    "files_in_argv": run.input_datasets["files"] == args.files,
    "direct_rows": len(run.input_datasets["direct"].to_pandas_dataframe()),
    "direct_in_argv": run.input_datasets["direct"].id == args.direct,
}
os.makedirs(args.export, exist_ok=True)
with open(os.path.join(args.export, "seen.json"), "w") as out:
    json.dump(seen, out)
