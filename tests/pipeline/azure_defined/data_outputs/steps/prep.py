"""Prep: a split file, a parquet folder and a CSV dataset, from the raw dataset."""

import argparse
import os

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--raw", required=True)  # the dataset's id (direct mode)
parser.add_argument("--split", required=True)
parser.add_argument("--features", required=True)
parser.add_argument("--prepared", required=True)
args = parser.parse_args()

run = Run.get_context()
raw = run.input_datasets["raw"]
assert raw.id == args.raw, (raw.id, args.raw)
df = raw.to_pandas_dataframe()

df.sample(frac=0.2, random_state=0).to_csv(args.split, index=False)  # a file, at the path given
os.makedirs(args.features, exist_ok=True)
df.drop(columns=["species"]).to_parquet(os.path.join(args.features, "part-0.parquet"))
os.makedirs(args.prepared, exist_ok=True)
df[df.species != "setosa"].to_csv(os.path.join(args.prepared, "prepared.csv"), index=False)
assert run.output_datasets["prepared"] == args.prepared

with open("outputs/summary.txt", "w") as summary:  # the job runtime made ./outputs
    summary.write(f"{len(df)} rows\n")
with open("logs/prep.log", "w") as log:
    log.write("prep done\n")
print("prepared", len(df), "rows")
