"""A step that works for a long time."""

import argparse
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--marks", required=True)
parser.add_argument("--name", required=True)
args = parser.parse_args()

with open(os.path.join(args.marks, f"{args.name}.pid"), "w") as mark:
    mark.write(str(os.getpid()))
time.sleep(600)
