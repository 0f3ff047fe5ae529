#!/usr/bin/env bash
# Start, stop or check the project's local MariaDB server for the gold marts.
#
#   scripts/mariadb.sh start|stop|status [--config conf/pipeline.yaml]
#
# Data in var/mariadb, listening on 127.0.0.1:$MARIADB_PORT (default 3306); start creates
# the database flights_gold and the user GOLD_DB_USER / GOLD_DB_PASSWORD (from .env).
# status exits 0 when the server runs, 3 when it does not.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
if [ ! -x "$python" ]; then
    echo "mariadb: error: $python not found; run 'make setup' first." >&2
    exit 1
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m flightpipe.gold.server "$@"
