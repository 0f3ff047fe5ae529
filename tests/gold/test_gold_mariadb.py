"""scripts/mariadb.sh: a real server, idempotent start/stop/status, a user confined to its database."""

from __future__ import annotations

import mysql.connector
import pytest

from flightpipe.core.settings import load_config
from flightpipe.gold import server as mariadb
from tests.support.gold import admin, one_sentence, run_gold, run_script, start_server, stop_server
from tests.support.project import write_config


def login(server, password=None, database="flights_gold"):
    return mysql.connector.connect(
        host="127.0.0.1",
        port=server.port,
        user=server.user,
        password=server.password if password is None else password,
        database=database,
        connection_timeout=5,
    )


def test_script_lifecycle_user_rights_and_gold_against_a_stopped_server(tmp_path):
    server = start_server(tmp_path / "srv", user="lifecycle")
    try:
        status = run_script("status", server.config)
        assert status.returncode == 0 and "MariaDB is running (pid " in status.stderr
        pid = mariadb.running_pid(load_config(server.config, environ={}).mariadb)
        assert pid is not None

        again = run_script("start", server.config)
        assert again.returncode == 0 and f"already running (pid {pid})" in again.stderr

        conn = login(server)
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        cur.execute("DROP TABLE t")
        with pytest.raises(mysql.connector.Error) as denied:
            cur.execute("CREATE DATABASE other_db")
        assert denied.value.errno == 1044
        with pytest.raises(mysql.connector.Error):
            cur.execute("SELECT COUNT(*) FROM mysql.user")
        conn.close()

        root = admin(server)
        cur = root.cursor()
        cur.execute("SELECT COUNT(*) FROM mysql.user WHERE user = ''")
        assert cur.fetchone() == (0,)
        cur.execute("SELECT host FROM mysql.user WHERE user = %s ORDER BY host", (server.user,))
        assert cur.fetchall() == [("127.0.0.1",), ("localhost",)]
        cur.execute("SELECT @@bind_address, @@port")
        assert cur.fetchone() == ("127.0.0.1", server.port)
        root.close()

        # A new password in the config takes effect on the next start, server left running.
        old = server.password
        server.password = "Second-pw-2"
        write_config(server.root, server.overrides())
        assert run_script("start", server.config).returncode == 0
        login(server).close()
        with pytest.raises(mysql.connector.Error) as refused:
            login(server, password=old)
        assert refused.value.errno == 1045
    finally:
        stopped = stop_server(server)
    assert stopped.returncode == 0 and "MariaDB stopped (pid" in stopped.stderr
    assert not mariadb.is_server_process(pid)

    status = run_script("status", server.config)
    assert status.returncode == 3 and "MariaDB is not running." in status.stderr
    assert run_script("stop", server.config).returncode == 0

    done = run_gold(server.config)
    assert done.returncode == 1
    assert f"MariaDB at 127.0.0.1:{server.port} is not reachable" in one_sentence(done.stderr)


def test_missing_server_program_says_how_to_install_it(tmp_path):
    config = write_config(
        tmp_path,
        {
            "gold": {"port": 1, "user": "u", "password": "p"},
            "mariadb": {"server_binary": str(tmp_path / "no" / "mariadbd")},
        },
    )
    done = run_script("start", config)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"mariadb: error: MariaDB program {tmp_path / 'no' / 'mariadbd'} does not exist; "
        "install Debian's mariadb-server (apt-get install mariadb-server) or fix the config."
    )


def test_empty_password_is_refused(tmp_path):
    config = write_config(tmp_path, {"gold": {"port": 1, "user": "u", "password": ""}})
    done = run_script("start", config)
    assert done.returncode == 1
    assert "gold.password is empty; set GOLD_DB_PASSWORD in .env" in done.stderr
