"""A deploy-or-score command that must run only after a win."""

import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
args = parser.parse_args()
Path(args.out).mkdir(parents=True, exist_ok=True)
(Path(args.out) / "scored.txt").write_text("scored with the new champion")
print("scored")
