"""Loading gold marts into MariaDB/MySQL: typed DDL, Spark's JDBC writer, one atomic swap.

Each mart goes to a staging table ``<name>__stage`` that this module creates with typed
columns, primary key and comments (mysql-connector-python), Spark's JDBC writer appends the
rows in key order, the row count is checked, the secondary indexes are built, and a single
``RENAME TABLE`` then swaps every staged table in at once. A reader sees the old complete
tables or the new complete ones, never a missing or half-filled one; when anything fails the
old tables stay and the staging tables are dropped. A range refresh first copies a mart's live
rows outside the range into its staging table on the server, so only the range's rows travel
from Spark. The password is only ever handed to the drivers, never put in a URL or message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import mysql.connector
from mysql.connector import errorcode
from pyspark.sql import DataFrame

from flightpipe.contracts.gold import TableSpec
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import side_by_side
from flightpipe.core.sections import Gold
from flightpipe.gold.load_report import LoadReport, TableLoad

log = logging.getLogger("flightpipe.jdbc")

JDBC_DRIVER = "org.mariadb.jdbc.Driver"
STAGE_SUFFIX = "__stage"
OLD_SUFFIX = "__old"


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


def _where(gold: Gold) -> str:
    return f"MariaDB at {gold.host}:{gold.port}"


def translate_error(err: mysql.connector.Error, gold: Gold) -> PipelineError:
    """One plain sentence for a connection or statement failure (no password in it)."""
    code = getattr(err, "errno", None)
    if code in (errorcode.CR_CONN_HOST_ERROR, errorcode.CR_CONNECTION_ERROR, errorcode.CR_UNKNOWN_HOST, 2013):
        return PipelineError(
            f"{_where(gold)} is not reachable; start it with 'scripts/mariadb.sh start' "
            "or set gold.host / gold.port (GOLD_DB_HOST, MARIADB_PORT) to a running server."
        )
    if code == errorcode.ER_ACCESS_DENIED_ERROR:
        return PipelineError(
            f"{_where(gold)} refused the login of user '{gold.user}' (wrong password?); check "
            "GOLD_DB_USER and GOLD_DB_PASSWORD in .env, then run 'scripts/mariadb.sh start' to apply them."
        )
    if code == errorcode.ER_BAD_DB_ERROR:
        return PipelineError(
            f"database '{gold.database}' does not exist on {_where(gold)}; 'scripts/mariadb.sh start' "
            "creates it on the local server, or create it on yours."
        )
    if code in (errorcode.ER_DBACCESS_DENIED_ERROR, errorcode.ER_TABLEACCESS_DENIED_ERROR):
        return PipelineError(
            f"user '{gold.user}' may not create tables in '{gold.database}' on {_where(gold)}; "
            "grant it ALL PRIVILEGES on that database."
        )
    msg = str(getattr(err, "msg", "") or err).splitlines()[0][:300]
    return PipelineError(f"{_where(gold)} failed: {msg}.")


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


def _execute(conn, gold: Gold, *statements: str) -> None:
    cur = conn.cursor()
    try:
        for sql in statements:
            cur.execute(sql)
    except mysql.connector.Error as err:
        raise translate_error(err, gold) from None
    finally:
        cur.close()


def _existing_tables(conn) -> set[str]:
    cur = conn.cursor()
    cur.execute("SHOW TABLES")
    names = {row[0] for row in cur.fetchall()}
    cur.close()
    return names


def existing_tables(gold: Gold) -> set[str]:
    """The tables of the gold database now."""
    with connect(gold) as conn:
        try:
            return _existing_tables(conn)
        except mysql.connector.Error as err:
            raise translate_error(err, gold) from None


def _copy_outside(conn, gold: Gold, spec: TableSpec, stage: str, predicate: str) -> int:
    """Copy the live rows of ``spec`` outside ``predicate`` into ``stage``, server-side; return how many."""
    if spec.name not in _existing_tables(conn):
        raise PipelineError(
            f"{spec.name} was dropped from {_where(gold)} during the run; run gold.py again "
            "(it then loads that table whole)."
        )
    cols = ", ".join(f"`{c}`" for c in spec.column_names)
    cur = conn.cursor()
    try:
        cur.execute(
            f"INSERT INTO `{stage}` ({cols}) SELECT {cols} FROM `{spec.name}` WHERE NOT ({predicate})"
        )
        return int(cur.rowcount)
    except mysql.connector.Error as err:
        raise translate_error(err, gold) from None
    finally:
        cur.close()


def _count(conn, table: str) -> int:
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


def _java_sentence(exc: Exception, table: str, gold: Gold) -> PipelineError:
    text = str(exc)
    if "ClassNotFoundException" in text or "No suitable driver" in text:
        return PipelineError(
            f"the JDBC driver {JDBC_DRIVER} is not on Spark's class path; run 'make setup' "
            "and keep jars/mariadb-java-client.jar in spark.jars."
        )
    if "Could not connect" in text or "Connection refused" in text or "Socket fail" in text:
        return PipelineError(
            f"{_where(gold)} went away while loading {table}; start it with 'scripts/mariadb.sh start' "
            "and run gold.py again (the previous tables were kept)."
        )
    if "Access denied" in text:
        return PipelineError(f"{_where(gold)} refused user '{gold.user}' while loading {table}; check .env.")
    for line in text.splitlines():
        if "SQLException" in line or "BatchUpdateException" in line or "SQLIntegrityConstraint" in line:
            detail = line.split(":", 1)[-1].strip()[:300]
            return PipelineError(
                f"loading {table} into {_where(gold)} failed ({detail}); the previous tables were kept."
            )
    return PipelineError(
        f"loading {table} into {_where(gold)} failed ({type(exc).__name__}); the previous tables "
        "were kept and the details are in the log."
    )


def count_rows(frames: Sequence[DataFrame]) -> list[int]:
    """Row counts of several frames, their jobs side by side (persisted frames are
    materialised on the way)."""
    return side_by_side([lambda df=df: int(df.count()) for df in frames])


def _stage(
    gold: Gold, spec: TableSpec, df: DataFrame, rows: int | None, keep: str | None, bulk: bool
) -> TableLoad:
    """Fill ``<mart>__stage`` over a connection of its own: create it, keep the live rows
    outside ``keep``, write ``df``, check its row count (``rows``, counted here when None)
    and add the secondary indexes."""
    stage = spec.name + STAGE_SUFFIX
    with connect(gold) as conn:
        ddl = create_table_sql(spec, stage, indexes=False)
        _execute(conn, gold, f"DROP TABLE IF EXISTS `{stage}`", ddl)
        kept = 0 if keep is None else _copy_outside(conn, gold, spec, stage, keep)
        if rows is None:
            rows = int(df.count())
        try:
            writing = time.monotonic()
            write_stage(df.select(*spec.column_names), gold, stage, spec.primary_key, bulk)
            seconds = time.monotonic() - writing
        except Exception as exc:
            log.debug("JDBC write of %s failed", stage, exc_info=True)
            raise _java_sentence(exc, spec.name, gold) from None
        try:
            loaded = _count(conn, stage)
        except mysql.connector.Error as err:
            raise translate_error(err, gold) from None
        if loaded != rows + kept:
            raise PipelineError(
                f"{stage} holds {loaded} rows after the load instead of {rows + kept}; "
                "the previous tables were kept."
            )
        indexing = time.monotonic()
        add_indexes = add_indexes_sql(spec, stage)
        if add_indexes:
            _execute(conn, gold, add_indexes)
        done = TableLoad(loaded, rows, seconds, time.monotonic() - indexing, writing)
    log.info(
        "staged %-24s %9d rows, JDBC write %6.2f s, %7.0f rows/s, indexes %5.2f s%s",
        spec.name,
        done.sent,
        done.seconds,
        done.rows_per_s,
        done.index_seconds,
        f" (+{kept} kept from the live table)" if keep is not None else "",
    )
    return done


def load_tables(
    gold: Gold,
    marts: Sequence[tuple[TableSpec, DataFrame]],
    expected: Sequence[int | None] | None = None,
    keep_outside: Mapping[str, str] | None = None,
) -> LoadReport:
    """Load every mart atomically; return rows per table and what each JDBC write took.

    All staging tables are filled and their row counts checked against ``expected`` (a
    mart's rows are counted while it is staged when its entry, or ``expected``, is None)
    first; one ``RENAME TABLE`` statement then swaps them all in, so BI readers never see a
    mix of two runs either. The marts are staged side by side, each over a connection of its
    own: a small mart's load is mostly round trips (DDL, a Spark job, a count), which
    one after another cost gold 2-3 s at any size. A staging table gets its primary key from
    the start but its secondary indexes only once its rows are in: InnoDB then builds each by
    one sort instead of a random B-tree insert per row. ``keep_outside`` maps a mart to the
    SQL of the rows its frame replaces: its live rows outside them are kept.
    """
    keep_outside = keep_outside or {}
    if expected is None:
        expected = [None] * len(marts)
    report = LoadReport()
    began = time.monotonic()
    with connect(gold) as conn:
        stages = [spec.name + STAGE_SUFFIX for spec, _ in marts]
        try:
            bulk = is_mariadb(conn)
            loads = side_by_side(
                [
                    partial(_stage, gold, spec, df, rows, keep_outside.get(spec.name), bulk)
                    for (spec, df), rows in zip(marts, expected, strict=True)
                ]
            )
            report.tables = {spec.name: done for (spec, _), done in zip(marts, loads, strict=True)}
            existing = _existing_tables(conn)
            renames, olds = [], []
            for spec, _ in marts:
                if spec.name in existing:
                    old = spec.name + OLD_SUFFIX
                    _execute(conn, gold, f"DROP TABLE IF EXISTS `{old}`")
                    renames.append(f"`{spec.name}` TO `{old}`")
                    olds.append(old)
                renames.append(f"`{spec.name}{STAGE_SUFFIX}` TO `{spec.name}`")
            # One statement: every table is swapped at once, or none is.
            _execute(conn, gold, "RENAME TABLE " + ", ".join(renames))
            stages.clear()
            for old in olds:
                _execute(conn, gold, f"DROP TABLE IF EXISTS `{old}`")
        except mysql.connector.Error as err:
            raise translate_error(err, gold) from None
        finally:
            # Every staging table is gone after a failure, whichever mart failed.
            _drop_quietly(conn, stages)
    report.seconds = time.monotonic() - began
    total = report.total
    log.info(
        "JDBC load of %d tables: %d rows in %.2f s of writes, %.0f rows/s; indexes %.2f s; "
        "%.1f s in all with the DDL, checks and swap",
        len(report.tables),
        total.sent,
        total.seconds,
        total.rows_per_s,
        total.index_seconds,
        report.seconds,
    )
    return report


def _drop_quietly(conn, tables: list[str]) -> None:
    """Best-effort removal of staging tables after a failure (the server may be gone)."""
    for table in tables:
        try:
            cur = conn.cursor()
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
            cur.close()
        except mysql.connector.Error:
            log.debug("could not drop %s", table, exc_info=True)


def live_counts(gold: Gold) -> dict[str, int]:
    """Rows of each table of the gold database now (what a load would replace)."""
    with connect(gold) as conn:
        try:
            return {name: _count(conn, name) for name in sorted(_existing_tables(conn))}
        except mysql.connector.Error as err:
            raise translate_error(err, gold) from None
