#!/usr/bin/env bash
# Nightly pipeline run, for cron (minimal environment, any working directory).
#
#   scripts/nightly.sh [--config conf/pipeline.yaml] [extra scripts/pipeline.py options]
#
# - one run at a time: a second run while one holds <paths.var>/nightly.lock exits at once (75);
# - the whole output goes to var/log/nightly/<UTC time>.log, kept NIGHTLY_LOG_DAYS days (14);
# - the stage graph's steps in order (pipeline.py --nightly, no replay feed): new BTS/Open-Meteo
#   files are landed, new landing files streamed, silver refreshed, the latest model scores the
#   last NIGHTLY_SCORE_DAYS days (7), gold reloaded; the model is retrained only with NIGHTLY_TRAIN=1;
# - a step whose inputs did not change since its last OK run is skipped (pipeline.py
#   --skip-unchanged), so a night with nothing new ends in seconds; NIGHTLY_ALWAYS=1 runs every step;
# - the exit code is non-zero when a stage fails (1), or 2 when a source is older than its
#   quality.freshness.<source>.error_after (judged even when every stage was skipped).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# cron's PATH is minimal; Java and the MariaDB binaries live in the usual system folders.
export PATH="$ROOT/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export PYSPARK_PYTHON="$ROOT/.venv/bin/python" PYSPARK_DRIVER_PYTHON="$ROOT/.venv/bin/python"
if [ -f .env ]; then set -a; . ./.env; set +a; fi

CONFIG="$ROOT/conf/pipeline.yaml"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[$i]}" = "--config" ] && CONFIG="${args[$((i + 1))]:-$CONFIG}"
done
# The lock and the logs live in the config's var folder (paths.var).
# From $ROOT, the project's package is importable even before its editable install.
if ! VAR=$("$ROOT/.venv/bin/python" -c 'import sys
from flightpipe.core.settings import load_config
print(load_config(sys.argv[1]).paths.var)' "$CONFIG" 2>&1); then
    echo "nightly: ${VAR##*PipelineError: }" >&2
    exit 1
fi
KEEP_DAYS="${NIGHTLY_LOG_DAYS:-14}"
SCORE_DAYS="${NIGHTLY_SCORE_DAYS:-7}"
LOG_DIR="$VAR/log/nightly"
mkdir -p "$LOG_DIR"

exec 9>"$VAR/nightly.lock"
if ! flock -n 9; then
    echo "nightly: another nightly run is still going (lock $VAR/nightly.lock); this one exits." >&2
    exit 75
fi

LOG="$LOG_DIR/$(date -u +%Y%m%dT%H%M%SZ).log"
find "$LOG_DIR" -name '*.log' -type f -mtime +"$KEEP_DAYS" -delete 2>/dev/null || true

train=()
[ "${NIGHTLY_TRAIN:-0}" = "1" ] || train=(--no-train)
unchanged=(--skip-unchanged)
[ "${NIGHTLY_ALWAYS:-0}" = "1" ] && unchanged=()
end=$(date -u +%Y-%m-%d)
start=$(date -u -d "$end - $SCORE_DAYS days" +%Y-%m-%d)

"$ROOT/.venv/bin/python" -m flightpipe.tools.pipeline --config "$CONFIG" --nightly "${train[@]}" "${unchanged[@]}" \
    --score-start "${NIGHTLY_SCORE_START:-$start}" --score-end "${NIGHTLY_SCORE_END:-$end}" "$@" >"$LOG" 2>&1
code=$?
if [ $code -eq 2 ]; then
    echo "nightly: the stages ran, but a source is stale; see $LOG" >&2
    grep -E '^(pipeline: error|freshness )' "$LOG" >&2
elif [ $code -ne 0 ]; then
    echo "nightly: the pipeline failed (exit $code); see $LOG" >&2
    tail -n 20 "$LOG" >&2
fi
exit $code
