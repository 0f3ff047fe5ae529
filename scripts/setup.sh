#!/usr/bin/env bash
# Install what this machine lacks, and nothing more: Java 17+, MariaDB server, the
# MariaDB JDBC driver (Debian packages), a .venv with the pinned requirements, the JDBC
# jar in jars/, and .env with a generated password. Safe to run again: it takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        say "need root to run: $*  (run it yourself, then make setup again)"; exit 1; fi
}

java_ok() {
    command -v java >/dev/null 2>&1 || return 1
    local v
    v=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
    [ "${v%%.*}" -ge 17 ] 2>/dev/null
}

missing=()
java_ok || missing+=(default-jdk-headless)
{ command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } || missing+=(mariadb-server)
[ -f /usr/share/java/mariadb-java-client.jar ] || missing+=(libmariadb-java)
# Headless Chromium renders reports/index.html in tests/gold/test_report_browser.py.
{ command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; } || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$PY" -m venv .venv
fi
want=$(cat requirements.txt requirements-bench.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$want" ]; then
    say "installing Python requirements into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-bench.txt
    echo "$want" > .venv/.requirements.sha256
fi
# The package itself, editable: scripts and tools import flightpipe from any directory.
if ! (cd / && "$OLDPWD/.venv/bin/python" -c 'import flightpipe' 2>/dev/null); then
    say "installing the flightpipe package into .venv (editable)"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
fi

# install_conf NAME [MESSAGE]: standard input becomes the venv Spark's conf/NAME, rewritten
# only when it changed (spark-submit reads these files before any of our code runs).
install_conf() {
    cat > "$spark_conf/$1.new"
    if ! cmp -s "$spark_conf/$1.new" "$spark_conf/$1"; then
        mv "$spark_conf/$1.new" "$spark_conf/$1"
        if [ -n "${2:-}" ]; then say "$2"; fi
    else
        rm -f "$spark_conf/$1.new"
    fi
}

spark_conf=$(.venv/bin/python -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "conf"))')
mkdir -p "$spark_conf" var/log

# Quiet log4j settings, with this project's log folder as the default.
sed "s#\${sys:pipeline.log.dir:-var/log}#\${sys:pipeline.log.dir:-$PWD/var/log}#" conf/log4j2.properties |
    install_conf log4j2.properties "installed quiet Spark logging into the venv's Spark"

# spark-submit starts the driver JVM before the session reads spark.jars; put the JDBC
# driver on its class path through the venv Spark's defaults, and let HotSpot compile the
# large methods Spark generates with C2 only for code that runs hot (JIT_OPTIONS in
# flightpipe/core/session.py).
jit_options=$(.venv/bin/python -c 'from flightpipe.core.session import JIT_OPTIONS; print(" ".join(JIT_OPTIONS))')
{
    printf 'spark.driver.extraClassPath %s\n' "$PWD/jars/mariadb-java-client.jar"
    printf 'spark.driver.extraJavaOptions %s\n' "$jit_options"
} | install_conf spark-defaults.conf

# glibc gives every thread that allocates native memory an arena of its own (up to 8 per core)
# and keeps what is freed in it, so the driver JVM's resident memory grows with the length of
# a run (parquet, compression and Spark's off-heap pages). Two arenas keep it flat.
printf 'export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}\n' | install_conf spark-env.sh

mkdir -p jars
if ! cmp -s /usr/share/java/mariadb-java-client.jar jars/mariadb-java-client.jar; then
    cp /usr/share/java/mariadb-java-client.jar jars/mariadb-java-client.jar
    say "copied the MariaDB JDBC driver into jars/"
fi

if [ ! -f .env ]; then
    password=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(18))')
    sed "s/^GOLD_DB_PASSWORD=.*/GOLD_DB_PASSWORD=${password}/" .env.example > .env
    chmod 600 .env
    say "wrote .env with a generated database password"
fi
say "ready"
