#!/usr/bin/env sh
# PostgreSQL's server binaries (initdb, postgres, pg_ctl) for the tests that run the gate on a
# team's MLflow server backed by PostgreSQL (tests/conftest.py: `postgres`, `mlflow_pg_server`).
# The tests start their own throw-away cluster; nothing here creates or starts one.
#
# Already there (on PATH, or Debian's /usr/lib/postgresql/<major>/bin): nothing to do.
# Else, as root with apt-get (CI): install Debian's `postgresql` package. Else: say how, exit 1.
set -eu

if command -v initdb >/dev/null 2>&1; then
    exit 0
fi
for found in /usr/lib/postgresql/*/bin/initdb; do
    if [ -x "$found" ]; then
        exit 0
    fi
done

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL's server for the tests (apt-get install postgresql)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    exit 0
fi

echo "PostgreSQL's server (initdb, pg_ctl) is not installed and this user cannot install it:" \
    "run 'sudo apt-get install -y postgresql' (or your system's package), then 'make test'" >&2
exit 1
