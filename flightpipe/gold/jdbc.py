"""MariaDB/MySQL for gold: connections, typed DDL, Spark's JDBC writer, failures as one sentence.

:mod:`flightpipe.gold.swap` builds the atomic load on these: each mart into a staging table
created here with typed columns, primary key and comments (mysql-connector-python), its rows
appended by Spark's JDBC writer in key order, then one ``RENAME TABLE``. The password is only
ever handed to the drivers, never put in a URL or message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import mysql.connector
from mysql.connector import errorcode
from pyspark.sql import DataFrame

from flightpipe.contracts.gold import TableSpec
from flightpipe.core.errors import PipelineError
from flightpipe.core.sections import Gold

JDBC_DRIVER = "org.mariadb.jdbc.Driver"


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _index_sql(cols: tuple[str, ...]) -> str:
    return f"KEY `ix_{'_'.join(cols)}` (" + ", ".join(f"`{c}`" for c in cols) + ")"


def create_table_sql(spec: TableSpec, table: str | None = None, indexes: bool = True) -> str:
    """``CREATE TABLE`` for ``spec`` under the name ``table`` (default: the spec's name);
    without its secondary indexes when ``indexes`` is false (:func:`add_indexes_sql` adds them)."""
    lines = [f"  `{c.name}` {c.sql_type} COMMENT {_quote(c.comment)}" for c in spec.columns]
    lines.append("  PRIMARY KEY (" + ", ".join(f"`{k}`" for k in spec.primary_key) + ")")
    lines += [f"  {_index_sql(cols)}" for cols in spec.indexes if indexes]
    return (
        f"CREATE TABLE `{table or spec.name}` (\n"
        + ",\n".join(lines)
        + "\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
        + f" COMMENT={_quote(spec.comment)}"
    )


def add_indexes_sql(spec: TableSpec, table: str) -> str | None:
    """``ALTER TABLE`` adding every secondary index of ``spec`` in one pass (None when it has none)."""
    if not spec.indexes:
        return None
    return f"ALTER TABLE `{table}` " + ", ".join(f"ADD {_index_sql(cols)}" for cols in spec.indexes)


def jdbc_url(gold: Gold, bulk: bool = True) -> str:
    """JDBC URL for Spark. ``jdbc:mysql:`` makes Spark use its MySQL dialect (backquoted
    identifiers); ``permitMysqlScheme`` lets the MariaDB driver accept that scheme.

    With ``bulk`` (a MariaDB server) each batch goes as one binary bulk command
    (COM_STMT_BULK_EXECUTE): the server parses no SQL text per row, which took its CPU per
    row from ~9 to ~4 µs against ``rewriteBatchedStatements``' multi-row INSERT text (the
    driver prefers the rewrite when both are on, so it is off). MySQL has no bulk command and
    gets the rewritten INSERT.
    """
    batching = "useBulkStmts=true&rewriteBatchedStatements=false" if bulk else "rewriteBatchedStatements=true"
    return f"jdbc:mysql://{gold.host}:{gold.port}/{gold.database}?permitMysqlScheme&{batching}"


def where(gold: Gold) -> str:
    """The server, as messages name it."""
    return f"MariaDB at {gold.host}:{gold.port}"


def translate_error(err: mysql.connector.Error, gold: Gold) -> PipelineError:
    """One plain sentence for a connection or statement failure (no password in it)."""
    code = getattr(err, "errno", None)
    if code in (errorcode.CR_CONN_HOST_ERROR, errorcode.CR_CONNECTION_ERROR, errorcode.CR_UNKNOWN_HOST, 2013):
        return PipelineError(
            f"{where(gold)} is not reachable; start it with 'scripts/mariadb.sh start' "
            "or set gold.host / gold.port (GOLD_DB_HOST, MARIADB_PORT) to a running server."
        )
    if code == errorcode.ER_ACCESS_DENIED_ERROR:
        return PipelineError(
            f"{where(gold)} refused the login of user '{gold.user}' (wrong password?); check "
            "GOLD_DB_USER and GOLD_DB_PASSWORD in .env, then run 'scripts/mariadb.sh start' to apply them."
        )
    if code == errorcode.ER_BAD_DB_ERROR:
        return PipelineError(
            f"database '{gold.database}' does not exist on {where(gold)}; 'scripts/mariadb.sh start' "
            "creates it on the local server, or create it on yours."
        )
    if code in (errorcode.ER_DBACCESS_DENIED_ERROR, errorcode.ER_TABLEACCESS_DENIED_ERROR):
        return PipelineError(
            f"user '{gold.user}' may not create tables in '{gold.database}' on {where(gold)}; "
            "grant it ALL PRIVILEGES on that database."
        )
    msg = str(getattr(err, "msg", "") or err).splitlines()[0][:300]
    return PipelineError(f"{where(gold)} failed: {msg}.")


@contextmanager
def connect(gold: Gold) -> Iterator:
    """A mysql-connector connection to the gold database, failures as one sentence."""
    try:
        conn = mysql.connector.connect(
            host=gold.host,
            port=gold.port,
            user=gold.user,
            password=gold.password,
            database=gold.database,
            connection_timeout=gold.connect_timeout_seconds,
            autocommit=True,
        )
    except mysql.connector.Error as err:
        raise translate_error(err, gold) from None
    try:
        yield conn
    finally:
        conn.close()


def check_driver_jar(jars: Sequence[str], config_file: str) -> None:
    """The configured JDBC driver jar must exist (the session would silently leave it out)."""
    missing = [j for j in jars if not Path(j).is_file()]
    if missing:
        raise PipelineError(
            f"the JDBC driver jar {missing[0]} is missing; run 'make setup' (it copies Debian's "
            "libmariadb-java jar there) or fix spark.jars."
        )
    if not any("mariadb" in Path(j).name or "mysql" in Path(j).name for j in jars):
        raise PipelineError(
            f"spark.jars in {config_file} names no MariaDB/MySQL JDBC driver jar; "
            "add jars/mariadb-java-client.jar (make setup puts it there)."
        )


def check_target(gold: Gold, jars: Sequence[str], config_file: str) -> None:
    """Fail fast, before Spark starts: driver jar present, server reachable, login accepted."""
    check_driver_jar(jars, config_file)
    with connect(gold) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        cur.close()


def execute(conn, gold: Gold, *statements: str) -> None:
    """Run ``statements`` in order, a failure as one sentence."""
    cur = conn.cursor()
    try:
        for sql in statements:
            cur.execute(sql)
    except mysql.connector.Error as err:
        raise translate_error(err, gold) from None
    finally:
        cur.close()


def table_names(conn) -> set[str]:
    """The tables of the database ``conn`` is connected to."""
    cur = conn.cursor()
    cur.execute("SHOW TABLES")
    names = {row[0] for row in cur.fetchall()}
    cur.close()
    return names


def existing_tables(gold: Gold) -> set[str]:
    """The tables of the gold database now."""
    with connect(gold) as conn:
        try:
            return table_names(conn)
        except mysql.connector.Error as err:
            raise translate_error(err, gold) from None


def count_table(conn, table: str) -> int:
    """Rows of ``table`` now."""
    cur = conn.cursor()
    cur.execute(f"SELECT COUNT(*) FROM `{table}`")
    (n,) = cur.fetchone()
    cur.close()
    return int(n)


def is_mariadb(conn) -> bool:
    """True when the server of ``conn`` is MariaDB (it has the bulk command), not MySQL."""
    return "mariadb" in str(conn.get_server_info() or "").lower()


def write_stage(df: DataFrame, gold: Gold, table: str, key: Sequence[str] = (), bulk: bool = True) -> None:
    """Append ``df`` to an existing table through Spark's JDBC writer, over one connection,
    in the order of ``key`` (the table's primary key).

    InnoDB stores a table in its primary key's order. A mart comes out of its groupBy in hash
    order, so each row would land on a random page, and once the table outgrows the server's
    buffer pool nearly every insert reads a page back: a 1M-row mart into the local server's
    64 MB pool took 30-48 s of server CPU, against 4-5 s in key order (pages filled one after
    the other). One writer: a second connection gained nothing on 2 cores (bench/README.md).
    ``bulk``: see :func:`jdbc_url`.
    """
    rows = df.coalesce(1)
    if key:
        rows = rows.sortWithinPartitions(*key)
    (
        rows.write.format("jdbc")
        .mode("append")
        .option("url", jdbc_url(gold, bulk))
        .option("driver", JDBC_DRIVER)
        .option("dbtable", table)
        .option("user", gold.user)
        .option("password", gold.password)
        .option("batchsize", gold.batch_size)
        .save()
    )


def write_error(exc: Exception, table: str, gold: Gold) -> PipelineError:
    """One plain sentence for a failed Spark JDBC write of ``table``."""
    text = str(exc)
    if "ClassNotFoundException" in text or "No suitable driver" in text:
        return PipelineError(
            f"the JDBC driver {JDBC_DRIVER} is not on Spark's class path; run 'make setup' "
            "and keep jars/mariadb-java-client.jar in spark.jars."
        )
    if "Could not connect" in text or "Connection refused" in text or "Socket fail" in text:
        return PipelineError(
            f"{where(gold)} went away while loading {table}; start it with 'scripts/mariadb.sh start' "
            "and run gold.py again (the previous tables were kept)."
        )
    if "Access denied" in text:
        return PipelineError(f"{where(gold)} refused user '{gold.user}' while loading {table}; check .env.")
    for line in text.splitlines():
        if "SQLException" in line or "BatchUpdateException" in line or "SQLIntegrityConstraint" in line:
            detail = line.split(":", 1)[-1].strip()[:300]
            return PipelineError(
                f"loading {table} into {where(gold)} failed ({detail}); the previous tables were kept."
            )
    return PipelineError(
        f"loading {table} into {where(gold)} failed ({type(exc).__name__}); the previous tables "
        "were kept and the details are in the log."
    )


def live_counts(gold: Gold) -> dict[str, int]:
    """Rows of each table of the gold database now (what a load would replace)."""
    with connect(gold) as conn:
        try:
            return {name: count_table(conn, name) for name in sorted(table_names(conn))}
        except mysql.connector.Error as err:
            raise translate_error(err, gold) from None
