"""The project's own local MariaDB server for the gold marts: start, stop, status.

Usage:
    scripts/mariadb.sh start|stop|status [--config conf/pipeline.yaml]
    python -m flightpipe.gold.server start|stop|status [--config conf/pipeline.yaml]

The server is Debian's ``mariadbd`` run by the invoking OS user: data in
``mariadb.data_dir``, listening on 127.0.0.1:``gold.port`` only, socket and pid file
under ``var/``. Admin logins go through the unix socket as that OS user (socket
authentication, no password). Every start, even of a running server, makes sure the gold
database exists and that the gold user may log in with the configured password and
touch that database only. Start, stop and status are idempotent.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mysql.connector

from flightpipe.core import cli
from flightpipe.core.errors import PipelineError
from flightpipe.core.net import port_in_use
from flightpipe.core.sections import Gold, MariaDB
from flightpipe.core.settings import Settings

log = logging.getLogger("flightpipe.mariadb")

# Where Debian puts the server programs when /usr/sbin is not on a user's PATH.
_SYSTEM_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")
_INSTALL_HINT = "install Debian's mariadb-server (apt-get install mariadb-server)"
# A unix socket path longer than this does not fit in sockaddr_un.
_MAX_SOCKET_PATH = 107
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
# Both host forms: TCP logins from 127.0.0.1 never match 'localhost' under
# --skip-name-resolve, and anonymous ''@'localhost' accounts would shadow a '%' account.
GOLD_USER_HOSTS = ("localhost", "127.0.0.1")


def find_binary(name: str) -> str:
    """Absolute path of a MariaDB program, from PATH or Debian's usual folders."""
    if os.sep in name:
        if Path(name).is_file():
            return name
        raise PipelineError(f"MariaDB program {name} does not exist; {_INSTALL_HINT} or fix the config.")
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SYSTEM_DIRS))
    if not found:
        raise PipelineError(
            f"MariaDB's '{name}' program was not found on PATH nor in /usr/sbin; {_INSTALL_HINT}."
        )
    return found


def os_user() -> str:
    """The OS account running this process: the server runs as it and admins log in as it."""
    return pwd.getpwuid(os.geteuid()).pw_name


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def is_server_process(pid: int) -> bool:
    """True when ``pid`` is a live (not zombie) mariadbd/mysqld process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    state = _proc_state(pid)
    if state is None:
        # Without /proc (not Linux) the signal check above is all there is.
        return not Path("/proc").is_dir()
    if state == "Z":
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return True
    return Path(cmdline.decode(errors="replace")).name in ("mariadbd", "mysqld")


def running_pid(mariadb: MariaDB) -> int | None:
    """Pid of the local server when its pid file names a live server process."""
    pid_file = Path(mariadb.pid_file)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if is_server_process(pid) else None


def admin_connect(mariadb: MariaDB, timeout: int = 5):
    """An admin connection through the server's unix socket (socket authentication)."""
    return mysql.connector.connect(
        unix_socket=mariadb.socket, user=os_user(), connection_timeout=timeout, autocommit=True
    )


def ping(mariadb: MariaDB) -> bool:
    """True when the server answers an admin login on its socket."""
    try:
        conn = admin_connect(mariadb, timeout=2)
    except mysql.connector.Error:
        return False
    conn.close()
    return True


def _last_line(path: Path, needle: str = "[ERROR]") -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errors = [ln for ln in lines if needle in ln]
    picked = (errors or lines or [""])[-1].strip()
    return picked.split("[ERROR]", 1)[-1].strip()[:200]


def init_data_dir(mariadb: MariaDB) -> bool:
    """Create the system tables in ``mariadb.data_dir`` unless they exist; True when created.

    The initialiser writes into a sibling folder that is renamed into place only when it
    succeeds, so an interrupted first start never leaves a data dir that looks ready.
    """
    data = Path(mariadb.data_dir)
    if (data / "mysql").is_dir():
        return False
    if data.exists() and any(data.iterdir()):
        raise PipelineError(
            f"{data} exists but is not a MariaDB data directory; move it away or set mariadb.data_dir."
        )
    install_db = find_binary(mariadb.install_db_binary)
    staging = data.with_name(data.name + ".init")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    error_log = Path(mariadb.error_log)
    error_log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        install_db,
        "--no-defaults",
        f"--datadir={staging}",
        "--auth-root-authentication-method=socket",
        "--skip-test-db",
        f"--user={os_user()}" if os.geteuid() == 0 else "",
    ]
    log.info("initialising the MariaDB data directory %s", data)
    with error_log.open("a", encoding="utf-8") as out:
        done = subprocess.run([c for c in cmd if c], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise PipelineError(
            f"mariadb-install-db could not initialise {data} (exit {done.returncode}); see {error_log}."
        )
    if data.exists():
        data.rmdir()
    staging.rename(data)
    return True


def server_command(mariadb: MariaDB, port: int) -> list[str]:
    """The mariadbd command line of the local server, listening on 127.0.0.1:``port``."""
    cmd = [
        find_binary(mariadb.server_binary),
        "--no-defaults",
        f"--datadir={mariadb.data_dir}",
        f"--socket={mariadb.socket}",
        f"--pid-file={mariadb.pid_file}",
        f"--log-error={mariadb.error_log}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
    ]
    if os.geteuid() == 0:
        # mariadbd refuses to run as root unless told to; the data dir belongs to root
        # here, so root it is (the server still listens on 127.0.0.1 only).
        cmd.append("--user=root")
    return cmd + list(mariadb.extra_args)


def _check_names(gold: Gold, config_file: str) -> None:
    if not _NAME.match(gold.database):
        raise PipelineError(
            f"gold.database '{gold.database}' in {config_file} may only hold letters, digits and _."
        )
    if not _NAME.match(gold.user):
        raise PipelineError(f"gold.user '{gold.user}' in {config_file} may only hold letters, digits and _.")
    if not gold.password:
        raise PipelineError(
            "gold.password is empty; set GOLD_DB_PASSWORD in .env (make setup writes a random one)."
        )


def ensure_gold_database(mariadb: MariaDB, gold: Gold, config_file: str) -> None:
    """Create the gold database and its user (both host forms), granted that database only."""
    _check_names(gold, config_file)
    conn = admin_connect(mariadb)
    try:
        cur = conn.cursor()
        cur.execute(
            f"CREATE DATABASE IF NOT EXISTS `{gold.database}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
        cur.execute("SELECT host FROM mysql.user WHERE user = ''")
        for (host,) in cur.fetchall():
            cur.execute("DROP USER ''@%s", (host,))
        for host in GOLD_USER_HOSTS:
            cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (gold.user, host, gold.password))
            # A changed .env password takes effect on the next start.
            cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (gold.user, host, gold.password))
            cur.execute(f"GRANT ALL PRIVILEGES ON `{gold.database}`.* TO %s@%s", (gold.user, host))
        cur.close()
    finally:
        conn.close()


def start(mariadb: MariaDB, gold: Gold, config_file: str) -> str:
    """Start the local server unless it runs, then make sure the gold database and user exist."""
    if not mariadb.local:
        where = f"{gold.host}:{gold.port}"
        return f"mariadb.local is false: gold uses the server at {where}; nothing to start."
    _check_names(gold, config_file)
    sock = Path(mariadb.socket)
    if len(str(sock)) > _MAX_SOCKET_PATH:
        raise PipelineError(
            f"the socket path {sock} is longer than 107 characters; set a shorter mariadb.socket."
        )
    pid = running_pid(mariadb)
    if pid is not None:
        ensure_gold_database(mariadb, gold, config_file)
        return f"MariaDB already running (pid {pid}) on 127.0.0.1:{gold.port}, database {gold.database}."

    cmd = server_command(mariadb, gold.port)
    init_data_dir(mariadb)
    if port_in_use(gold.port):
        raise PipelineError(
            f"port {gold.port} on 127.0.0.1 is already used by another program; set MARIADB_PORT "
            "in .env to a free port, or MARIADB_LOCAL=false to use the server already there."
        )
    for path in (sock, Path(mariadb.pid_file), Path(mariadb.error_log)):
        path.parent.mkdir(parents=True, exist_ok=True)
    sock.unlink(missing_ok=True)
    error_log = Path(mariadb.error_log)
    with error_log.open("a", encoding="utf-8") as out:
        # A session of its own: the server outlives this command and ignores its Ctrl-C.
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True
        )
    deadline = time.monotonic() + mariadb.start_timeout_seconds
    while not ping(mariadb):
        if proc.poll() is not None:
            raise PipelineError(
                f"mariadbd stopped while starting ({_last_line(error_log)}); see {error_log}."
            )
        if time.monotonic() > deadline:
            proc.terminate()
            raise PipelineError(
                f"mariadbd did not accept connections within {mariadb.start_timeout_seconds} s; "
                f"see {error_log}."
            )
        time.sleep(0.2)
    ensure_gold_database(mariadb, gold, config_file)
    return (
        f"MariaDB started (pid {proc.pid}) on 127.0.0.1:{gold.port}, data in {mariadb.data_dir}, "
        f"database {gold.database}, user {gold.user}."
    )


def stop(mariadb: MariaDB) -> str:
    """Shut the local server down (SIGTERM: a clean InnoDB shutdown) and wait for it."""
    if not mariadb.local:
        return "mariadb.local is false: no local server to stop."
    pid = running_pid(mariadb)
    if pid is None:
        Path(mariadb.pid_file).unlink(missing_ok=True)
        return "MariaDB is not running."
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + mariadb.start_timeout_seconds
    while is_server_process(pid):
        if time.monotonic() > deadline:
            raise PipelineError(
                f"mariadbd (pid {pid}) did not stop within {mariadb.start_timeout_seconds} s; "
                f"see {mariadb.error_log}."
            )
        time.sleep(0.2)
    Path(mariadb.pid_file).unlink(missing_ok=True)
    return f"MariaDB stopped (pid {pid})."


def status(mariadb: MariaDB, gold: Gold) -> tuple[bool, str]:
    """(running?, one line saying so)."""
    if not mariadb.local:
        return False, f"mariadb.local is false: gold uses the server at {gold.host}:{gold.port}."
    pid = running_pid(mariadb)
    if pid is None:
        return False, "MariaDB is not running."
    if not ping(mariadb):
        return False, f"mariadbd (pid {pid}) runs but does not answer on {mariadb.socket}."
    return (
        True,
        f"MariaDB is running (pid {pid}) on 127.0.0.1:{gold.port}, data in {mariadb.data_dir}.",
    )


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser("Start, stop or check the project's local MariaDB server.")
    parser.add_argument("action", choices=("start", "stop", "status"))
    args = parser.parse_args(argv)

    def body(cfg: Settings) -> int:
        if args.action == "status":
            running, line = status(cfg.mariadb, cfg.gold)
            log.info(line)
            # 3 = "not running", as LSB init scripts say it.
            return 0 if running else 3
        if args.action == "start":
            log.info(start(cfg.mariadb, cfg.gold, cfg.config_file))
        else:
            log.info(stop(cfg.mariadb))
        return 0

    return cli.run("mariadb", args.config, body)


if __name__ == "__main__":
    sys.exit(main())
