#!/usr/bin/env bash
# A local Spark standalone cluster (one master, one worker) from the installed PySpark.
#   scripts/cluster.sh start|stop|status
# Master spark://127.0.0.1:${SPARK_MASTER_PORT:-7077}, UI on ${SPARK_MASTER_WEBUI_PORT:-8080};
# state and logs under var/cluster/. The stages reach it with --master spark://127.0.0.1:7077.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
SPARK_HOME="$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_HOME
STATE="$ROOT/var/cluster"
PORT="${SPARK_MASTER_PORT:-7077}"
UI_PORT="${SPARK_MASTER_WEBUI_PORT:-8080}"
WORKER_UI_PORT="${SPARK_WORKER_WEBUI_PORT:-8081}"
CORES="${SPARK_WORKER_CORES:-$(nproc)}"
MEMORY="${SPARK_WORKER_MEMORY:-4g}"
MASTER_URL="spark://127.0.0.1:$PORT"
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$PY"

running() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

wait_port() {
    for _ in $(seq 1 240); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    return 1
}

start_one() {  # name, class, args...
    local name=$1; shift
    if running "$name"; then echo "cluster: $name already running (pid $(cat "$STATE/$name.pid"))"; return; fi
    nohup "$SPARK_HOME/bin/spark-class" "$@" >"$STATE/$name.log" 2>&1 &
    echo $! >"$STATE/$name.pid"
}

case "${1:-status}" in
start)
    mkdir -p "$STATE/work"
    start_one master org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$PORT" --webui-port "$UI_PORT"
    if ! wait_port "$PORT"; then
        echo "cluster: the master did not open port $PORT; see $STATE/master.log (is the port busy?)" >&2; exit 1
    fi
    start_one worker org.apache.spark.deploy.worker.Worker "$MASTER_URL" --host 127.0.0.1 \
        --cores "$CORES" --memory "$MEMORY" --work-dir "$STATE/work" --webui-port "$WORKER_UI_PORT"
    for _ in $(seq 1 240); do
        # The master's JSON status lists the workers that registered.
        if "$PY" - "$UI_PORT" <<'PYEOF' 2>/dev/null; then
import json, sys, urllib.request
status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=2))
sys.exit(0 if any(w.get("state") == "ALIVE" for w in status.get("workers", [])) else 1)
PYEOF
            echo "cluster: master $MASTER_URL (UI http://127.0.0.1:$UI_PORT), worker with $CORES cores, $MEMORY"
            exit 0
        fi
        sleep 0.5
    done
    echo "cluster: the worker did not register with $MASTER_URL; see $STATE/worker.log" >&2; exit 1
    ;;
stop)
    for name in worker master; do
        if running "$name"; then
            pid=$(cat "$STATE/$name.pid"); kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -9 "$pid" 2>/dev/null || true
            echo "cluster: $name stopped"
        fi
        rm -f "$STATE/$name.pid"
    done
    ;;
status)
    for name in master worker; do
        if running "$name"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: stopped"; fi
    done
    ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
